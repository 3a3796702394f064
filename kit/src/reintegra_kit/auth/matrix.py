"""The access policy as Markdown tables, kept in ``docs/access-control.md`` between two markers.

uv run python -m reintegra_kit.auth.matrix           # rewrite the generated part of the document
uv run python -m reintegra_kit.auth.matrix --check   # exit 1 if it drifted from the policy file
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .policy import Policy, PolicyError, load_policy

DOCUMENT = Path("docs/access-control.md")
BEGIN = "<!-- BEGIN GENERATED: access matrix (uv run python -m reintegra_kit.auth.matrix) -->"
END = "<!-- END GENERATED: access matrix -->"


def render(policy: Policy) -> str:
    """Roles, the operations x roles matrix (cells: the record scope granted), and every route."""
    roles = list(policy.roles)
    lines = ["### Roles", "", "| role | who |", "|---|---|"]
    lines += [f"| `{role}` | {description} |" for role, description in policy.roles.items()]
    lines += [
        "",
        "### Operations by role",
        "",
        "Each cell is the record scope granted (`own_centre`, `own_agency`, `own_country`, `all`); "
        "— means refused.",
        "",
        "| operation | " + " | ".join(f"`{r}`" for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for name, operation in policy.operations.items():
        cells = [operation.grants[r].value if r in operation.grants else "—" for r in roles]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Operations",
        "",
        "An operation marked *personal data* answers with a person's names, documents, phones or birth "
        "date; every other answer must hold none (the leak scanner reads them all).",
        "",
        "| operation | what | personal data |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{name}` | {op.description} | {'yes' if op.personal_data else '—'} |"
        for name, op in policy.operations.items()
    ]
    lines += ["", "### Routes", "", "| service | route | operation |", "|---|---|---|"]
    for route in sorted(policy.routes.values(), key=lambda r: (r.service, r.path, r.method)):
        lines.append(f"| {route.service} | `{route.method} {route.path}` | `{route.operation}` |")
    lines.append(
        "| every service | `"
        + "`, `".join(f"GET {p}" for p in sorted(policy.open_paths))
        + "` | open by design (no token) |"
    )
    return "\n".join(lines) + "\n"


def updated(document: str, policy: Policy) -> str:
    """``document`` with its generated part replaced; ``ValueError`` if the markers are missing."""
    if BEGIN not in document or END not in document:
        raise ValueError(f"the document lacks the markers {BEGIN!r} and {END!r}")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{render(policy)}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reintegra_kit.auth.matrix", description=__doc__)
    parser.add_argument("--document", type=Path, default=DOCUMENT)
    parser.add_argument("--policy", type=Path, default=None, help="policy file (default: the shipped one)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is out of date")
    args = parser.parse_args(argv)
    current = args.document.read_text(encoding="utf-8")
    try:
        wanted = updated(current, load_policy(args.policy))
    except (ValueError, PolicyError) as exc:
        print(f"matrix: {args.document}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if wanted != current:
            print(
                f"matrix: {args.document} is out of date; run `uv run python -m reintegra_kit.auth.matrix`",
                file=sys.stderr,
            )
            return 1
        return 0
    args.document.write_text(wanted, encoding="utf-8")
    print(f"matrix: wrote {args.document}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
