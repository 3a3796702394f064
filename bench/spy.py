"""Sampling profiles of service processes during the throughput phase (``--spy SERVICE``).

Uses py-spy (``uvx py-spy``, from PyPI; root or ptrace permission needed) in raw (collapsed stacks)
format, and summarises where CPU goes: ``python -m bench.spy FILE [--top N]``.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
from pathlib import Path


class Spy:
    def __init__(self, pid: int, out: Path) -> None:
        uvx = shutil.which("uvx")
        command = [uvx, "py-spy"] if uvx else ["py-spy"]
        self.out = out
        self.proc = subprocess.Popen(
            [
                *command,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "200",
                "-o",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def summarise(path: Path, top: int = 40) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [
            f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rsplit("/", 2)[-1]
            for f in stack.split(";")
        ]
        if not frames[0].startswith("<module>") and "_run_module_as_main" not in stack:
            continue  # another thread (aiosqlite's worker, aiokafka's...): mostly waiting
        if any("select" in f and "selectors" in f for f in frames[-2:]) or frames[-1].startswith("epoll"):
            continue  # idle in the event loop
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    lines = [f"{total} busy samples", "", "self:"]
    lines += [f"{n / total * 100:5.1f} %  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"{n / total * 100:5.1f} %  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    print(summarise(args.file, args.top))


if __name__ == "__main__":
    main()
