"""``python -m reintegra_reception import-manifest FILE``: send a manifest to the running service.

It talks to reception over HTTP rather than to its database: the service owns the database and its
outbox relay publishes the new arrivals at once; the same validation, matching and single-transaction
path serves the API and the command; an embedded SQLite file has one writer; and a reception centre
can import into a central service from its own machine. Large files are sent in chunks (each one
transaction, with the original line numbers) behind a progress bar; ``--all-or-nothing`` first checks
every chunk (a dry run) and registers nothing if any line is bad. It calls as the person running it:
their bearer token (``--token`` or ``REINTEGRA_TOKEN``; a reception officer of the manifest's centre).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .manifests import ManifestFormatError, read_csv

DEFAULT_URL = "http://127.0.0.1:8101"
FLIGHT_OPTIONS = (
    "arrived_at", "port_of_entry", "reception_centre", "country_of_return", "returned_from", "return_type",
    "transport_mode", "announcement_id",
)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reintegra_reception import-manifest",
        description="Register a flight or bus manifest (CSV, see the reception README) through the "
        "running reception service.",
    )
    p.add_argument("file", type=Path, help="CSV manifest (UTF-8, header row, English or Spanish columns)")
    p.add_argument(
        "--url", default=os.environ.get("REINTEGRA_RECEPTION_URL", DEFAULT_URL), help="reception's base URL"
    )
    p.add_argument(
        "--token",
        default=os.environ.get("REINTEGRA_TOKEN", ""),
        help="bearer token of a reception officer (default: $REINTEGRA_TOKEN; locally: "
        "bash scripts/uv.sh run reintegra-stack token --role reception_officer --centre <centre>)",
    )
    p.add_argument("--manifest-id", help="id of the manifest (default: the file name without extension)")
    p.add_argument("--all-or-nothing", action="store_true", help="register nobody if any line is bad")
    p.add_argument("--chunk-size", type=int, default=500, help="lines per request (default: 500)")
    for name in FLIGHT_OPTIONS:
        p.add_argument(
            f"--{name.replace('_', '-')}", dest=name, help=f"{name} of every line without that column"
        )
    return p


def _chunks(lines: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [lines[i : i + size] for i in range(0, len(lines), size)]


class ImportFailedError(Exception):
    """The import cannot go on (the message says why)."""


def _post(client: httpx.Client, url: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    try:
        response = client.post(f"{url}/v1/manifests", json=body, params=params)
    except httpx.HTTPError as exc:
        raise ImportFailedError(f"reception is not reachable at {url} ({exc}); is it running?") from exc
    data: dict[str, Any] = response.json() if response.content else {}
    if response.status_code == 422 and data.get("errors") is not None:
        return {"cases": [], "errors": data["errors"], "registered": 0, "already_registered": 0}
    if response.status_code >= 400:
        raise ImportFailedError(
            f"reception answered {response.status_code}: {data.get('detail') or response.text[:300]}"
        )
    return data


def run(args: argparse.Namespace, console: Console) -> int:
    if not args.token:
        console.print("[red]a bearer token is required: --token or REINTEGRA_TOKEN (a reception officer's)")
        return 2
    try:
        lines, _ = read_csv(args.file.read_bytes())
    except (OSError, ManifestFormatError) as exc:
        console.print(f"[red]cannot read {args.file}: {exc}")
        return 2
    manifest_id = args.manifest_id or args.file.stem
    defaults = {k: getattr(args, k) for k in FLIGHT_OPTIONS if getattr(args, k)}
    chunks = _chunks(lines, max(1, args.chunk_size))
    totals = {"registered": 0, "already_registered": 0, "repeat_returns": 0, "reviews": 0}
    errors: list[dict[str, Any]] = []

    def send(client: httpx.Client, chunk: Sequence[Any], *, dry_run: bool, atomic: bool) -> dict[str, Any]:
        people = [{**flat, "ref": flat.get("ref") or str(line)} for line, flat in chunk]
        params = {"all_or_nothing": str(atomic).lower(), "dry_run": str(dry_run).lower()}
        data = _post(
            client, args.url, {"manifest_id": manifest_id, "defaults": defaults, "people": people}, params
        )
        for e in data.get("errors", []):  # the chunk's positions back to the file's lines
            position = e.get("line") or 0
            errors.append({**e, "line": chunk[position - 1][0] if 0 < position <= len(chunk) else position})
        return data

    with (
        httpx.Client(timeout=120, headers={"Authorization": f"Bearer {args.token}"}) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        try:
            if args.all_or_nothing and len(chunks) > 1:
                check = progress.add_task("checking", total=len(lines))
                for chunk in chunks:
                    send(client, chunk, dry_run=True, atomic=False)
                    progress.advance(check, len(chunk))
                if errors:
                    chunks = []
            task = progress.add_task(f"registering {manifest_id}", total=len(lines) if chunks else 0)
            for chunk in chunks:
                data = send(client, chunk, dry_run=False, atomic=args.all_or_nothing)
                for key in totals:
                    totals[key] += int(data.get(key, 0))
                progress.advance(task, len(chunk))
        except ImportFailedError as exc:
            console.print(f"[red]{exc}")
            return 2
    summary = Table(title=f"Manifest {manifest_id}", show_header=False)
    for key, value in {**totals, "bad lines": len({e["line"] for e in errors})}.items():
        summary.add_row(key.replace("_", " "), str(value))
    console.print(summary)
    if errors:
        bad = Table(
            "line",
            "column",
            "problem",
            title="Bad lines" + (" (nothing registered)" if args.all_or_nothing else ""),
        )
        for e in sorted(errors, key=lambda e: (e["line"], e["field"]))[:50]:
            bad.add_row(str(e["line"]), e["field"], e["message"])
        console.print(bad)
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    return run(parser().parse_args(argv), Console())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
