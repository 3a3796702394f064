"""Writes the values table of deploy/helm/reintegra/README.md from values.yaml (``--check``: fail on drift).

A key's description is the ``# -- …`` comment above it in values.yaml (continued by further ``#`` lines),
as helm-docs reads it; a settings key without one (``config.*``) is described by the service setting's
own description. Rows: every leaf value, and every mapping that has a description.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent / "reintegra"
START, END = "<!-- values-table:start -->", "<!-- values-table:end -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")


def descriptions(text: str) -> dict[str, str]:
    """Dotted key path -> its ``# --`` description."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    collecting = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending, collecting = [stripped.removeprefix("# --").strip()], True
            continue
        if stripped.startswith("#"):
            if collecting:
                pending.append(stripped.lstrip("#").strip())
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("- "):
            pending, collecting = [], False
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if pending:
            found[".".join(k for _, k in stack)] = " ".join(pending)
        pending, collecting = [], False
    return found


def setting_descriptions(services: list[str]) -> dict[str, str]:
    """camelCase settings key -> "REINTEGRA_X: description" from the services' settings classes."""
    from reintegra_kit.settings import ServiceSettings

    found: dict[str, str] = {}
    for service in services:
        module = importlib.import_module(f"reintegra_{service}.settings")
        for cls in vars(module).values():
            if isinstance(cls, type) and issubclass(cls, ServiceSettings):
                for name, field in cls.model_fields.items():
                    head, *tail = name.split("_")
                    key = head + "".join(t[:1].upper() + t[1:] for t in tail)
                    found.setdefault(key, f"`REINTEGRA_{name.upper()}`: {field.description or ''}".strip())
    return found


def rows(values: dict[str, Any], described: dict[str, str], prefix: str = "") -> list[tuple[str, str, str]]:
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            if path in described:
                out.append((path, "", described[path]))
            out += rows(value, described, f"{path}.")
        else:
            shown = json.dumps(value, separators=(",", ":"))
            if len(shown) > 60:
                shown = shown[:57] + "…"
            out.append((path, shown, described.get(path, "")))
    return out


def escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def table() -> str:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    described = descriptions(text)
    settings = setting_descriptions(list(values["components"]))
    lines = ["| key | default | description |", "|---|---|---|"]
    for path, default, description in rows(values, described):
        parts = path.split(".")
        if len(parts) >= 2 and parts[-2] == "config" and parts[-1] in settings:
            description = f"{settings[parts[-1]]} {description}".strip()
        cell = escape(f"`{default}`") if default else ""
        lines.append(f"| `{path}` | {cell} | {escape(description)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if README.md's table is out of date")
    args = parser.parse_args(argv)
    readme = CHART / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"{readme} lacks the {START} … {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    wanted = f"{head}{START}\n{table()}\n{END}{tail}"
    if args.check:
        if wanted != text:
            print(
                f"{readme}: the values table is out of date; run: python deploy/helm/values_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    readme.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
