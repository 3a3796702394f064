"""Export the JSON Schema of every v1 message to ``contracts/schemas/v1/<type>.json``.

Usage (from the repository root)::

    bash scripts/uv.sh run python -m reintegra_contracts.tools.export_schemas                 # write (refuses breaking changes)
    bash scripts/uv.sh run python -m reintegra_contracts.tools.export_schemas --check         # fail if files drift from the models
    bash scripts/uv.sh run python -m reintegra_contracts.tools.export_schemas --check-compat  # fail on a breaking change
    bash scripts/uv.sh run python -m reintegra_contracts.tools.export_schemas --check-compat --against /tmp/main-schemas

``--check-compat`` compares the current models with **every released snapshot** of this major version
(``contracts/schemas/released/<version>/``, written once at a release and never regenerated), with the
working snapshot ``contracts/schemas/v1/``, and with ``--against`` if given (e.g. the target branch's
schemas, which ``scripts/check-contracts.sh`` extracts with ``git archive``). Writing refuses a breaking
change unless ``--allow-breaking`` is given; even then the released snapshots still fail
``--check-compat``: regenerating cannot make a breaking change pass. A breaking change needs a new major
version (a new ``.v2`` type), see docs/adr/0010-contracts-evolution.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import source_checkout
from .compat import compare_catalogues
from .schemas import all_schemas, render


def default_dir() -> Path | None:
    """``contracts/schemas/v1`` of the source checkout, if running from one."""
    root = source_checkout()
    return root / "schemas" / "v1" if root else None


def released_root() -> Path | None:
    """``contracts/schemas/released`` of the source checkout: one folder per released version."""
    root = source_checkout()
    return root / "schemas" / "released" if root else None


def released_snapshots(root: Path | None) -> list[Path]:
    """The released snapshots under ``root`` (``<root>/<version>/``), oldest name first."""
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.json")))


def breaking_changes(baselines: Sequence[Path]) -> dict[Path, list[str]]:
    """Per baseline snapshot, the breaking changes of the current models against it."""
    current = all_schemas()
    return {
        baseline: [str(p) for p in compare_catalogues(load_dir(baseline), current)]
        for baseline in baselines
        if baseline.is_dir()
    }


def load_dir(directory: Path) -> dict[str, dict[str, Any]]:
    """The committed schemas in ``directory``, by CloudEvents type (taken from the file name)."""
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def drift(directory: Path) -> list[str]:
    """What differs between the committed files and the models (empty when in sync)."""
    wanted = {f"{t}.json": render(s) for t, s in all_schemas().items()}
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    problems = [f"missing {name}" for name in sorted(set(wanted) - present)]
    problems += [f"stale {name} (no such message any more)" for name in sorted(present - set(wanted))]
    problems += [
        f"out of date {name}"
        for name in sorted(set(wanted) & present)
        if (directory / name).read_text(encoding="utf-8") != wanted[name]
    ]
    return problems


def write(directory: Path) -> list[str]:
    """Write every schema to ``directory`` and remove stale ones; returns the files changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = drift(directory)
    wanted = {f"{t}.json": render(s) for t, s in all_schemas().items()}
    for path in directory.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        target = directory / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dir", type=Path, default=default_dir(), help="schema directory (default: %(default)s)"
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the committed files drift from the models"
    )
    parser.add_argument("--check-compat", action="store_true", help="fail if the models break the snapshots")
    parser.add_argument("--against", type=Path, help="snapshot directory to check compatibility against")
    parser.add_argument(
        "--released",
        type=Path,
        default=released_root(),
        help="folder of the released snapshots, one sub-folder per version (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="write the working snapshot even if it breaks compatibility (--check-compat still fails "
        "against the released snapshots)",
    )
    args = parser.parse_args(argv)
    if args.dir is None:
        parser.error("--dir is required outside a source checkout")
    directory: Path = args.dir
    released = released_snapshots(args.released)
    if args.released is not None and directory.resolve().is_relative_to(args.released.resolve()):
        parser.error(f"{directory} is a released snapshot: released snapshots are never rewritten")
    status = 0
    if args.check_compat:
        baselines = [*released, directory, *([args.against] if args.against else [])]
        if not released:
            print(f"no released snapshot under {args.released}: checking the working snapshot only")
        for baseline, problems in breaking_changes(baselines).items():
            for problem in problems:
                print(f"BREAKING {problem} (against {baseline})", file=sys.stderr)
            if problems:
                print(f"{len(problems)} breaking change(s) against {baseline}", file=sys.stderr)
                status = 1
            else:
                print(f"compatible with {baseline}")
    if args.check:
        drifted = drift(directory)
        for line in drifted:
            print(f"DRIFT {line}", file=sys.stderr)
        if drifted:
            print(
                "schemas drift from the models; run: bash scripts/uv.sh run python -m "
                "reintegra_contracts.tools.export_schemas",
                file=sys.stderr,
            )
            status = 1
        else:
            print(f"schemas in {directory} match the models")
    if not (args.check or args.check_compat):
        incompatible = [p for ps in breaking_changes([*released, directory]).values() for p in ps]
        if incompatible and not args.allow_breaking:
            for problem in incompatible:
                print(f"BREAKING {problem}", file=sys.stderr)
            print(
                "refusing to write breaking changes to a v1 contract (add a .v2 type instead, "
                "or pass --allow-breaking)",
                file=sys.stderr,
            )
            return 1
        changed = write(directory)
        print(f"wrote {len(all_schemas())} schemas to {directory} ({len(changed)} changed)")
        if incompatible:
            print(
                f"wrote {len(incompatible)} breaking change(s): --check-compat (CI) keeps failing against "
                "the released snapshots until a new major version is released",
                file=sys.stderr,
            )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
