"""Flight and bus manifests: CSV (UTF-8, a header row, English or Spanish column names) or JSON, read
into :class:`~reintegra_reception.domain.RegisterManifest`. An adapter: no domain rules here.

Each line is validated like ``POST /v1/arrivals`` (the same request model); a bad line becomes a
:class:`~reintegra_reception.domain.RowProblem` naming its line, its column and the problem, and never
stops the good lines. Manifest-wide values (arrival time, port, centre, countries, return type,
transport, announcement) may be columns or defaults given once (query parameters, or ``defaults`` in
JSON); a column wins over a default. The format is documented in ``services/reception/README.md``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from reintegra_kit.domain import DomainError

from .api_models import ArrivalIn
from .domain import ManifestRow, RegisterManifest, RowProblem

MANIFEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
LINE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,38}$")

COLUMNS: dict[str, tuple[str, ...]] = {
    # column: (Spanish name, other accepted names)
    "ref": ("referencia", "line_ref", "linea"),
    "given_names": ("nombres", "nombre"),
    "family_names": ("apellidos", "apellido"),
    "date_of_birth": ("fecha_nacimiento", "fecha_de_nacimiento"),
    "sex": ("sexo",),
    "document_number": ("numero_documento", "documento", "numero_de_documento"),
    "phone": ("telefono",),
    "destination_municipality": ("municipio_destino", "municipio"),
    "family_group": ("grupo_familiar", "family_group_ref"),
    "relationship": ("parentesco",),
    "vulnerabilities": ("vulnerabilidades",),
    "immediate_needs": ("necesidades_inmediatas",),
    "has_disability": ("discapacidad",),
    "indigenous_people": ("pueblo_indigena",),
    "preferred_language": ("idioma",),
    "announced_ref": ("ref_anuncio", "referencia_anuncio"),
    "arrived_at": ("fecha_hora_llegada", "llegada"),
    "port_of_entry": ("punto_entrada", "punto_de_entrada"),
    "reception_centre": ("centro_recepcion", "centro_de_recepcion", "reception_center"),
    "country_of_return": ("pais_retorno", "pais_de_retorno"),
    "returned_from": ("pais_procedencia", "retornado_desde"),
    "return_type": ("tipo_retorno", "tipo_de_retorno"),
    "transport_mode": ("medio_transporte", "medio_de_transporte"),
    "announcement_id": ("id_anuncio",),
}
"""Every column a manifest may have, with its Spanish name (see the reception README)."""

MANIFEST_WIDE = (
    "arrived_at", "port_of_entry", "reception_centre", "country_of_return", "returned_from", "return_type",
    "transport_mode", "announcement_id",
)  # fmt: skip
"""Columns that may instead be given once for the whole manifest."""

_ALIASES = {alias: name for name, aliases in COLUMNS.items() for alias in (name, *aliases)}
_PERSON = ("given_names", "family_names", "date_of_birth", "document_number", "phone")
_LISTS = ("vulnerabilities", "immediate_needs")
_TRUE = {"si", "yes", "true", "1", "x", "y", "s"}
_FALSE = {"no", "false", "0", "n", ""}
_SEX = {
    "f": "female", "femenino": "female", "mujer": "female", "m": "male", "masculino": "male",
    "hombre": "male", "intersexual": "intersex", "no_declara": "undisclosed", "prefiere_no_decir": "undisclosed",
}  # fmt: skip
_RELATIONSHIP = {
    "jefe": "head", "jefa": "head", "jefe_de_hogar": "head", "jefa_de_hogar": "head", "titular": "head",
    "conyuge": "spouse_or_partner", "pareja": "spouse_or_partner", "esposo": "spouse_or_partner",
    "esposa": "spouse_or_partner", "hijo": "child", "hija": "child", "pupilo": "ward", "pupila": "ward",
    "tutelado": "ward", "tutelada": "ward", "padre": "parent", "madre": "parent", "hermano": "sibling",
    "hermana": "sibling", "nieto": "grandchild", "nieta": "grandchild", "otro_familiar": "other_relative",
    "no_familiar": "not_related",
}  # fmt: skip


class ManifestFormatError(DomainError):
    """The manifest as a whole cannot be read (not its lines: those are reported one by one)."""

    code = "manifest-unreadable"
    title = "The manifest cannot be read"


def column_name(header: str) -> str:
    """The canonical name of a header (``Fecha de nacimiento`` → ``date_of_birth``), or the folded header."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", header) if not unicodedata.combining(c))
    folded = re.sub(r"[^a-z0-9]+", "_", plain.strip().lower()).strip("_")
    return _ALIASES.get(folded, folded)


def _code(value: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", plain.strip().lower()).strip("_")


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        code = _code(value)
        if code in _TRUE:
            return True
        if code in _FALSE:
            return False
    return value


def _arrival(
    flat: Mapping[str, Any], manifest_id: str, line: int, defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``POST /v1/arrivals`` body of one flat line (so both are validated by one model)."""
    values = {k: v for k, v in {**defaults, **flat}.items() if v not in (None, "")}
    ref = str(values.pop("ref", line))
    body: dict[str, Any] = {"manifest_ref": f"{manifest_id}/{ref}"}
    person = {k: values.pop(k) for k in _PERSON if k in values}
    body["person"] = person
    group = values.pop("family_group", None)
    if group is not None:
        body["family_group_ref"] = f"{manifest_id}/{group}"
    body["travelling_with_family"] = group is not None
    for name in _LISTS:
        if isinstance(values.get(name), str):
            values[name] = [_code(v) for v in re.split(r"[;,|]", values[name]) if v.strip()]
    if isinstance(values.get("sex"), str):
        values["sex"] = _SEX.get(_code(values["sex"]), _code(values["sex"]))
    if isinstance(values.get("relationship"), str):
        values["relationship"] = _RELATIONSHIP.get(
            _code(values["relationship"]), _code(values["relationship"])
        )
    for name in ("return_type", "transport_mode"):
        if isinstance(values.get(name), str):
            values[name] = _code(values[name])
    if "has_disability" in values:
        values["has_disability"] = _flag(values["has_disability"])
    body.update(values)
    return body


def _problems(line: int, error: ValidationError, original: Mapping[str, str]) -> list[RowProblem]:
    found = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
        name = loc[-1] if loc else "line"
        name = {
            "manifest_ref": "ref",
            "family_group_ref": "family_group",
            "travelling_with_family": "family_group",
        }.get(name, name)
        found.append(RowProblem(line, original.get(name, name), err["msg"], err["type"]))
    return found


def build(
    manifest_id: str,
    lines: Iterable[tuple[int, Mapping[str, Any]]],
    defaults: Mapping[str, Any],
    *,
    original: Mapping[str, str] | None = None,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    max_rows: int = 5_000,
) -> RegisterManifest:
    """Validate each line; good ones become arrivals, bad ones problems."""
    if not MANIFEST_ID.fullmatch(manifest_id):
        raise ManifestFormatError(
            "manifest_id must be 1-60 letters, digits, '.', '_' or '-' (e.g. a flight number and date)"
        )
    names = dict(original or {})
    rows: list[ManifestRow] = []
    problems: list[RowProblem] = []
    refs: dict[str, int] = {}
    count = 0
    for line, flat in lines:
        count += 1
        if count > max_rows:
            raise ManifestFormatError(f"a manifest has at most {max_rows} lines; split it")
        ref = str(flat.get("ref") or line)
        if not LINE_REF.fullmatch(ref):
            problems.append(
                RowProblem(line, names.get("ref", "ref"), "ref must be 1-39 letters, digits, '.', '_' or '-'")
            )
            continue
        if ref in refs:
            problems.append(
                RowProblem(
                    line, names.get("ref", "ref"), f"ref {ref!r} is also on line {refs[ref]}", "duplicate_ref"
                )
            )
            continue
        refs[ref] = line
        group = flat.get("family_group")
        if group not in (None, "") and not LINE_REF.fullmatch(str(group)):
            problems.append(
                RowProblem(
                    line,
                    names.get("family_group", "family_group"),
                    "family_group must be 1-39 letters, digits, '.', '_' or '-'",
                )
            )
            continue
        try:
            arrival = ArrivalIn.model_validate(_arrival(flat, manifest_id, line, defaults))
        except ValidationError as exc:
            problems.extend(_problems(line, exc, names))
            continue
        rows.append(ManifestRow(line, arrival.to_command()))
    if count == 0:
        raise ManifestFormatError("the manifest has no lines")
    return RegisterManifest(manifest_id, tuple(rows), tuple(problems), all_or_nothing, dry_run)


def read_csv(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], dict[str, str]]:
    """The lines of a CSV manifest (line numbers as in the file: the header is line 1) and the column
    each canonical name came from. Unknown columns make the whole file unreadable (a typo in a header
    would silently lose a column)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestFormatError(f"the CSV is not UTF-8 (byte {exc.start})") from None
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestFormatError("the CSV is empty") from None
    names = [column_name(h) for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n not in COLUMNS]
    if unknown:
        raise ManifestFormatError(
            f"unknown column(s) {', '.join(repr(u) for u in unknown)}; see the manifest format in the reception README"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ManifestFormatError(f"column(s) given twice: {', '.join(twice)}")
    lines: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(names):
            lines.append((line, {"__columns__": str(len(row))}))
            continue
        lines.append((line, {n: cell.strip() for n, cell in zip(names, row, strict=True)}))
    return lines, {n: h.strip() for h, n in zip(header, names, strict=True)}


def from_csv(
    data: bytes, manifest_id: str, defaults: Mapping[str, Any], *, all_or_nothing: bool = False,
    dry_run: bool = False, max_rows: int = 5_000,
) -> RegisterManifest:  # fmt: skip
    lines, original = read_csv(data)
    broken = [(line, int(flat["__columns__"])) for line, flat in lines if "__columns__" in flat]
    good = [(line, flat) for line, flat in lines if "__columns__" not in flat]
    manifest = (
        build(
            manifest_id,
            good,
            defaults,
            original=original,
            all_or_nothing=all_or_nothing,
            dry_run=dry_run,
            max_rows=max_rows,
        )
        if good
        else None
    )
    extra = tuple(
        RowProblem(line, "line", f"{n} cells for {len(original)} columns", "wrong_cell_count")
        for line, n in broken
    )
    if manifest is None:
        if not extra:
            raise ManifestFormatError("the manifest has no lines")
        return RegisterManifest(manifest_id, (), extra, all_or_nothing, dry_run)
    return RegisterManifest(manifest_id, manifest.rows, manifest.problems + extra, all_or_nothing, dry_run)


def from_json(
    people: list[dict[str, Any]], manifest_id: str, defaults: Mapping[str, Any], *, all_or_nothing: bool = False,
    dry_run: bool = False, max_rows: int = 5_000,
) -> RegisterManifest:  # fmt: skip
    """A JSON manifest: ``people`` are flat lines (the CSV columns, English or Spanish names); line
    numbers count the people from 1."""
    lines = []
    problems = []
    for i, person in enumerate(people, start=1):
        unknown = [k for k in person if column_name(k) not in COLUMNS]
        if unknown:
            problems.append(RowProblem(i, unknown[0], "unknown field", "extra_forbidden"))
            continue
        lines.append((i, {column_name(k): v for k, v in person.items()}))
    manifest = (
        build(manifest_id, lines, defaults, all_or_nothing=all_or_nothing, dry_run=dry_run, max_rows=max_rows)
        if lines
        else None
    )
    if manifest is None:
        if not problems:
            raise ManifestFormatError("the manifest has no lines")
        return RegisterManifest(manifest_id, (), tuple(problems), all_or_nothing, dry_run)
    return RegisterManifest(
        manifest_id, manifest.rows, tuple(problems) + manifest.problems, all_or_nothing, dry_run
    )
