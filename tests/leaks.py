"""The leak scanner's parts: a test flight whose personal data is unique (canaries), the scanner seeded
with it, and the receivers it reads (an OTLP trace collector, a webhook endpoint).

Everything identifying of the flight — each name, document number, phone and date of birth, whole and
in the forms it may be written in (without accents, JSON-escaped, other date and phone notations) —
is a *seed*; :meth:`Scanner.scan` reports every place a seed occurs. Seeds are long enough not to
occur by chance in ids, timestamps or hashes (no four-digit year, no bare eight-digit number).
"""

from __future__ import annotations

import json
import random
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToJson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

GIVEN = (
    "Eustaquia", "Filiberto", "Hermelinda", "Tranquilino", "Wenceslao", "Escolástica", "Gumersindo",
    "Leocadia", "Saturnino", "Petronila", "Bonifacio", "Hipólito", "Clotilde", "Abundio", "Zenaida",
    "Eulogio", "Práxedes", "Nicasia", "Rufino", "Ermelinda", "Anacleto", "Genoveva",
)  # fmt: skip
FAMILY = (
    "Quintanilla", "Zapotitlán", "Irías", "Barquero", "Mairena", "Zepeda", "Guardado", "Olivares",
    "Cubías", "Lainez", "Alachán", "Yanes", "Quezada", "Benavides", "Urquía", "Tejeda", "Lozano",
    "Espinal", "Membreño", "Castellanos", "Villeda", "Almendárez", "Bardales", "Cálix",
)  # fmt: skip
"""Real but uncommon names (none is a word the platform writes on its own; the test checks it)."""


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Canary:
    """One person of the test flight: what reception is told about them."""

    ref: str
    given_names: str
    family_names: str
    birth: date
    document: str
    phone: str
    sex: str
    municipality: str = "HN-0501"
    family_group: str = ""
    relationship: str = ""
    vulnerabilities: tuple[str, ...] = ()
    immediate_needs: tuple[str, ...] = ()

    @property
    def person(self) -> dict[str, str]:
        return {
            "given_names": self.given_names,
            "family_names": self.family_names,
            "date_of_birth": self.birth.isoformat(),
            "document_number": self.document,
            "phone": self.phone,
        }

    def manifest_line(self) -> dict[str, str]:
        return {
            "ref": self.ref,
            **self.person,
            "sex": self.sex,
            "destination_municipality": self.municipality,
            "family_group": self.family_group,
            "relationship": self.relationship,
            "vulnerabilities": ";".join(self.vulnerabilities),
            "immediate_needs": ";".join(self.immediate_needs),
        }

    def seeds(self) -> set[str]:
        """Every form in which this person's data could leak."""
        names = [self.given_names, self.family_names, f"{self.given_names} {self.family_names}"]
        names += self.given_names.split() + self.family_names.split()
        digits = "".join(c for c in self.phone if c.isdigit())
        found = {
            *names,
            self.birth.isoformat(),
            self.birth.strftime("%d/%m/%Y"),
            self.document,
            self.document.replace("-", ""),
            self.phone,
            digits,
            self.phone.split(" ", 1)[1],  # the local number, with its dash
        }
        for name in names:
            found.add(strip_accents(name))
            found.add(json.dumps(name)[1:-1])  # as JSON writes it (\u00e1)
        return found


def canary_flight(today: date, seed: int = 11) -> list[Canary]:
    """Twenty people with unique personal data: a family of four (two children), a child travelling
    alone, an older adult, a survivor of gender-based violence with a chronic illness (special-category
    flags), immediate needs; the rest adults."""
    rng = random.Random(seed)
    given = rng.sample(GIVEN, 20)
    family = rng.sample(FAMILY, 20)
    used_docs: set[str] = set()

    def born(age: int) -> date:
        return today - timedelta(days=age * 365 + rng.randint(30, 300))

    def document(birth: date) -> str:
        while True:
            doc = f"0801-{birth.year}-{rng.randint(10000, 99999)}"
            if doc not in used_docs:
                used_docs.add(doc)
                return doc

    def phone() -> str:
        return f"+504 {rng.randint(3, 9)}{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"

    people = []
    for i in range(20):
        age = [41, 38, 12, 8, 16, 67, 29][i] if i < 7 else rng.randint(19, 55)
        birth = born(age)
        extra: dict[str, Any] = {}
        if i < 4:  # a family: head, partner, two children
            extra = {
                "family_group": "F1",
                "relationship": ["head", "spouse_or_partner", "child", "child"][i],
                "family_names": f"{family[0]} {family[1]}" if i >= 2 else f"{family[i]} {family[i + 10]}",
            }
        if i == 6:
            extra["vulnerabilities"] = ("survivor_of_gbv", "chronic_illness")
            extra["immediate_needs"] = ("health",)
        if i == 7:
            extra["immediate_needs"] = ("shelter",)
        people.append(
            Canary(
                ref=f"L{i + 1:02d}",
                given_names=given[i] if i % 3 else f"{given[i]} {rng.choice(GIVEN[:3])}",
                family_names=extra.pop("family_names", f"{family[i]} {family[(i + 7) % 20]}"),
                birth=birth,
                document=document(birth),
                phone=phone(),
                sex="female" if i % 2 else "male",
                **extra,
            )
        )
    return people


@dataclass(frozen=True)
class Hit:
    where: str
    seed: str
    context: str


@dataclass
class Scanner:
    """Finds any seed in any text (case-insensitive)."""

    seeds: set[str]
    scanned: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, people: Iterable[Canary]) -> Scanner:
        return cls({s for p in people for s in p.seeds() if len(s) >= 5})

    def scan(self, where: str, text: str) -> list[Hit]:
        kind = where.split(":", 1)[0]
        self.scanned[kind] = self.scanned.get(kind, 0) + len(text)
        lowered = text.lower()
        hits = []
        for seed in self.seeds:
            at = lowered.find(seed.lower())
            if at >= 0:
                hits.append(Hit(where, seed, text[max(0, at - 60) : at + len(seed) + 60]))
        return hits


class Collector:
    """A minimal OTLP/HTTP trace receiver (protobuf), standing in for the operator's collector; keeps
    each span's service, trace id and name, and every export as JSON text (every attribute, event,
    status message and resource attribute)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []  # (service.name, trace id, span name)
        self.exports: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.exports.append(MessageToJson(request))
                for resource_spans in request.resource_spans:
                    attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            collector.spans.append((attrs["service.name"], span.trace_id.hex(), span.name))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Collector:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()


class WebhookSink:
    """Accepts every webhook and keeps its raw body and headers (what an agency's endpoint receives)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.bodies.append(f"{dict(self.headers)!r}\n{body.decode('utf-8', errors='replace')}")
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> WebhookSink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
