"""``reintegra-stack up --traces``: the local tracing backend (Jaeger, docs/adr/0020-tracing-backend.md)
and the link to one demo case's trace in its UI."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .processes import Layout, StackError


@dataclass(frozen=True)
class TracingBackend:
    otlp_endpoint: str
    """What the services get as ``REINTEGRA_OTLP_ENDPOINT`` (OTLP/HTTP)."""
    ui_url: str
    """Jaeger's UI (and query API) base URL."""

    def trace_link(self, trace_id: str) -> str:
        return f"{self.ui_url}/trace/{trace_id}"


def jaeger_script(layout: Layout) -> Path:
    return layout.root / "deploy" / "local" / "jaeger.sh"


def _jaeger(layout: Layout, *args: str, capture: bool = True) -> str:
    result = subprocess.run(
        ["bash", str(jaeger_script(layout)), *args],
        cwd=layout.root,
        check=False,
        text=True,
        capture_output=capture,
    )
    if result.returncode != 0:
        raise StackError(
            f"deploy/local/jaeger.sh {' '.join(args)} exited with {result.returncode}"
            + (f": {result.stderr.strip()[-500:]}" if capture and result.stderr else "")
        )
    lines = (result.stdout or "").strip().splitlines()
    return lines[-1].strip() if lines else ""


def ensure_tracing_backend(layout: Layout) -> TracingBackend:
    """Start the local Jaeger (idempotent; the very first start builds it, which takes long: its
    progress goes to the terminal) and say where the services export and where its UI is."""
    _jaeger(layout, "start", capture=False)
    backend = TracingBackend(otlp_endpoint=_jaeger(layout, "otlp-endpoint"), ui_url=_jaeger(layout, "url"))
    if not backend.otlp_endpoint.startswith("http") or not backend.ui_url.startswith("http"):
        raise StackError(f"deploy/local/jaeger.sh printed no endpoint: {backend}")
    return backend


def case_trace_id(reception_database: Path, case_id: str) -> str | None:
    """The trace a case started in, as reception remembers it (``case_traces``, ADR 0016)."""
    if not reception_database.exists():
        return None
    with sqlite3.connect(f"file:{reception_database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT traceparent FROM case_traces WHERE case_id = ?", (case_id,)).fetchone()
    if row is None:
        return None
    parts = str(row[0]).split("-")
    return parts[1] if len(parts) == 4 else None
