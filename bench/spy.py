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
import sys
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


# py-spy names OpenTelemetry's modules (a namespace package) without their ``opentelemetry/`` prefix
_OPENTELEMETRY = {
    "trace",
    "asgi",
    "attributes",
    "propagate",
    "context",
    "_semconv",
    "baggage",
    "propagators",
    "composite.py",
    "_decorator.py",
    "semconv",
    "sdk",
    "instrumentation",
    "metrics",
    "util",
}


def _package(frame: str) -> str:
    """The top-level package of a py-spy frame ``func (path/to/module.py:line)``; the standard
    library's modules by their own name (``asyncio``, ``json``), ``<string>`` for generated code,
    OpenTelemetry's as ``opentelemetry``."""
    location = frame.rsplit(" (", 1)[-1].rsplit(":", 1)[0]
    if location.startswith("<"):
        return location
    if "site-packages/" in location:
        location = location.rsplit("site-packages/", 1)[1]
    elif "/lib/python3" in location:
        location = location.rsplit("/lib/python3", 1)[1].split("/", 1)[-1]
    elif "/src/" in location:
        location = location.rsplit("/src/", 1)[1]
    head = location.split("/", 1)[0].removesuffix(".py")
    return "opentelemetry" if head in _OPENTELEMETRY else head


_LOOP = ("Handle._run ", "BaseEventLoop._run_once ", "Runner.run ")


def _charged(frames: list[str]) -> str:
    """The package of the deepest frame outside the standard library; time the event loop spends
    on its own (selecting, scheduling callbacks) is ``(event loop)``."""
    for frame in reversed(frames):
        package = _package(frame)
        if frame.startswith(_LOOP):
            return "(event loop)"
        if package not in sys.stdlib_module_names and not package.startswith("<"):
            return package
    return "(event loop)"


def summarise(path: Path, top: int = 40) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    charged: collections.Counter[str] = collections.Counter()
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
        if not stack.strip() or frames[0].startswith("Thread._bootstrap "):
            continue  # another thread (aiosqlite's worker, the span exporter...): mostly waiting
        # the rest is the event loop's thread: its own stack, and the greenlets SQLAlchemy's asyncio
        # layer runs the ORM's synchronous code in (their stacks start at the greenlet's function)
        if any("select" in f and "selectors" in f for f in frames[-2:]) or frames[-1].startswith("epoll"):
            continue  # idle in the event loop
        total += n
        own[frames[-1]] += n
        packages[_package(stack.rsplit(";", 1)[-1])] += n
        charged[_charged(stack.split(";"))] += n
        for f in set(frames):
            inclusive[f] += n
    lines = [f"{total} busy samples", "", "self:"]
    lines += [f"{n / total * 100:5.1f} %  {f}" for f, n in own.most_common(top)]
    lines += ["", "self, by package (where the leaf frame's code lives):"]
    lines += [f"{n / total * 100:5.1f} %  {f}" for f, n in packages.most_common()]
    lines += ["", "by package, the standard library's time charged to the package that called it:"]
    lines += [f"{n / total * 100:5.1f} %  {f}" for f, n in charged.most_common()]
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
