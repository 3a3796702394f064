"""JSON text on the hot path: the outbox's headers and the repositories' JSON columns, with orjson.

The standard library's ``json`` was ~2-3 % of a service's CPU under load, spread over a dozen call
sites per event (docs/performance.md). orjson writes and reads the same JSON several times faster.
Its text is compact (``{"a":1}``) and UTF-8 (no ``\\u`` escapes): a column written before reads the
same. Values are what ``json`` takes (``str``, numbers, ``bool``, ``None``, lists and dicts of
them, enums of ``str`` or ``int``), and a ``UUID`` as its text; a ``datetime`` or a dataclass is
refused (``TypeError``), as ``json`` would, rather than written in a format of orjson's choosing.

Text whose exact bytes matter stays on ``json`` with its explicit options: the audit log's hash chain,
a token's canonical form, generated documents.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> str:
    """``value`` as JSON text (what ``json.dumps(value)`` gives, compact and without escapes)."""
    return orjson.dumps(value, option=_STRICT).decode()


loads = orjson.loads
"""JSON text or bytes as Python values (``json.loads``)."""
