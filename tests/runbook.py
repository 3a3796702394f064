"""The command blocks of the runbook (docs/operations.md) and how each is checked.

Every fenced ``sh`` block follows a marker comment on the line before it:

* ``<!-- runbook: run SCENARIO -->`` — executed by ``tests/test_operations.py`` (the scenario's test runs
  every block of that scenario against a local Kafka and PostgreSQL);
* ``<!-- runbook: render -->`` — ``helm upgrade --install`` commands, rendered with ``helm template`` and
  the same arguments (applying them needs a cluster);
* ``<!-- runbook: cluster — REASON -->`` — not executable on a laptop, and why.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = ROOT / "docs" / "operations.md"

SCENARIOS = {"helm", "migrate", "deadletters", "keys", "backup", "restore", "groups"}
"""The scenarios tests/test_operations.py executes (test_docs checks the runbook uses exactly these)."""

_BLOCK = re.compile(r"^(?P<indent>[ \t]*)```sh\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!-- runbook: (?P<kind>run|render|cluster)(?P<rest>.*?) -->")


@dataclass(frozen=True)
class Block:
    kind: str  # run, render or cluster
    argument: str  # the scenario (run) or the reason (cluster)
    text: str
    line: int

    @property
    def commands(self) -> list[str]:
        """Each command of the block, continuation lines joined, comments and blank lines dropped."""
        joined = re.sub(r"\\\n\s*", "", self.text)
        return [c for c in (line.split(" #")[0].strip() for line in joined.splitlines()) if c]


def blocks(markdown: str | None = None) -> list[Block]:
    text = RUNBOOK.read_text(encoding="utf-8") if markdown is None else markdown
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        marker = _MARKER.fullmatch(before[-1].strip()) if before else None
        line = text.count("\n", 0, match.start()) + 1
        body = textwrap.dedent(match.group("indent") + match.group("body"))
        if marker is None:
            found.append(Block("unmarked", "", body, line))
            continue
        argument = marker.group("rest").strip().lstrip("—-").strip()
        found.append(Block(marker.group("kind"), argument, body, line))
    return found


def scenario(name: str) -> list[Block]:
    """The blocks of one scenario, in the runbook's order (at least one)."""
    chosen = [b for b in blocks() if b.kind == "run" and b.argument == name]
    assert chosen, f"docs/operations.md has no block marked 'runbook: run {name}'"
    return chosen


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of a Markdown text."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    }
