"""The register of processing activities (art. 30 AVG): ``privacy/register.yaml``, validated on load.

One entry per purpose (verwerkingsactiviteit). Each entry carries the fields of VNG's register of
processing activities (naam, doel, grondslag, toelichtingGrondslag, categories of persons and
data, recipients, bewaartermijn, herkomst, verantwoordelijke) plus what the Dutch model privacy
protocol asks for (statutory task, compatibility of further use, criminal data and its ground,
subsidiarity and proportionality, DPIA, covenants, need-to-know roles) and, per source table, the
columns the purpose may use. An incomplete or inconsistent entry is refused with a message that
names the purpose and every missing or invalid field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("register.yaml")

ROLES = frozenset({"bibob_officer", "analyst", "frontline", "privacy_officer", "admin"})
# The AVG art. 6(1) grounds, worded as in VNG's VAR API.
GRONDSLAGEN = frozenset(
    {
        "Publieke taak",
        "Wettelijke verplichting",
        "Gerechtvaardigd belang",
        "Toestemming betrokkene",
        "Uitvoering overeenkomst",
        "Vitaal belang",
    }
)
VERTROUWELIJKHEID = frozenset({"normaal", "vertrouwelijk"})
OIN = re.compile(r"^[0-9]{20}$")
DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
TABLE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

# Text fields every purpose must fill in (non-empty).
REQUIRED_TEXT = (
    "naam",
    "doel",
    "categorie",
    "verantwoordelijke_bestuursorgaan",
    "grondslag",
    "toelichting_grondslag",
    "wettelijke_taak",
    "verenigbaarheid",
    "subsidiariteit",
    "proportionaliteit",
    "dpia",
    "herkomst",
    "approved_by",
)


class RegisterError(ValueError):
    """The register file is missing, unreadable, or an entry is incomplete."""


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_duration(text: str) -> tuple[int, int, int]:
    """An ISO 8601 date duration (``P5Y``, ``P18M``, ``P2W``, ``P30D``) as (years, months, days)."""
    m = DURATION.match(text or "")
    if not m or text == "P":
        raise ValueError(f"not an ISO 8601 date duration: {text!r} (use e.g. P5Y, P6M, P30D)")
    years, months, weeks, days = (int(g) if g else 0 for g in m.groups())
    return years, months, weeks * 7 + days


def subtract_duration(day: dt.date, text: str) -> dt.date:
    """``day`` minus the duration: the cut-off before which data is past its retention."""
    years, months, days = parse_duration(text)
    total = day.year * 12 + (day.month - 1) - (years * 12 + months)
    year, month = divmod(total, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last)) - dt.timedelta(days=days)


@dataclass(frozen=True)
class Bewaartermijn:
    resultaten: str  # ISO duration: how long results (derived tables, lookup answers) are kept
    verwerkingenlog: str  # ISO duration: how long the processing-log entries are kept
    toelichting: str


@dataclass(frozen=True)
class Ontvanger:
    naam: str
    extern: bool
    convenant: str | None


@dataclass(frozen=True)
class Purpose:
    key: str
    id: str  # UUID, stable across versions (VAR ``id``)
    naam: str
    doel: str
    categorie: str
    verantwoordelijke_bestuursorgaan: str
    grondslag: str
    toelichting_grondslag: str
    wettelijke_taak: str
    verenigbaarheid: str
    strafrechtelijke_gegevens: bool
    grondslag_strafrechtelijke_gegevens: str | None
    subsidiariteit: str
    proportionaliteit: str
    dpia: str
    betrokkenen: tuple[str, ...]
    persoonsgegevens: tuple[tuple[str, str], ...]  # (rol betrokkene, naam gegeven)
    ontvangers: tuple[Ontvanger, ...]
    herkomst: str
    bewaartermijn: Bewaartermijn
    vertrouwelijkheid: str
    approved_on: dt.date
    approved_by: str
    valid_until: dt.date
    roles: tuple[str, ...]
    flags: tuple[str, ...]
    sources: dict[str, tuple[str, ...]]
    aggregated_only: bool
    min_cell_size: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def justification(self) -> str:
        """The legal triad in force, as recorded with every processing-log entry."""
        return (
            f"Grondslag: {self.grondslag} ({self.toelichting_grondslag}). "
            f"Wettelijke taak: {self.wettelijke_taak} "
            f"Subsidiariteit: {self.subsidiariteit} Proportionaliteit: {self.proportionaliteit}"
        )

    @property
    def case_number_required(self) -> bool:
        """Lookups need a case number unless the entry says ``zaaknummer_verplicht: false``."""
        return self.raw.get("zaaknummer_verplicht", True) is not False

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the entry as registered: which version of the justification was in force."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()

    def refusal(self, on: dt.date) -> str | None:
        """Why this purpose may not be used on ``on`` (None when it may)."""
        if on < self.approved_on:
            return f"purpose {self.key!r} is not approved until {self.approved_on.isoformat()}"
        if on > self.valid_until:
            return f"purpose {self.key!r} expired on {self.valid_until.isoformat()}; it needs re-approval"
        return None

    def column_refusals(self, reads: dict[str, list[str]]) -> list[str]:
        """Every table or column in ``reads`` that this purpose may not use."""
        problems = []
        for table, columns in reads.items():
            allowed = self.sources.get(table)
            if allowed is None:
                problems.append(f"table {table} is not a source of purpose {self.key!r}")
                continue
            extra = [c for c in columns if c not in allowed]
            if extra:
                problems.append(
                    f"column(s) {', '.join(extra)} of {table} are not allowed for purpose {self.key!r}"
                )
        return problems


@dataclass(frozen=True)
class Register:
    path: Path
    versie: str
    vastgesteld_op: dt.date
    organisatie: str
    oin: str
    log_bewaartermijn: str  # for log entries not tied to a valid purpose (refusals, purges)
    purposes: dict[str, Purpose]

    def get(self, key: str) -> Purpose | None:
        return self.purposes.get(key)

    def export_vng(self) -> dict[str, Any]:
        """The register in the shape of VNG's VAR API list response (``GET /verwerkingsactiviteiten``)."""
        results = [self._vng_activity(p) for p in self.purposes.values()]
        return {"count": len(results), "next": None, "previous": None, "results": results}

    def _vng_activity(self, p: Purpose) -> dict[str, Any]:
        b = p.bewaartermijn
        return {
            "id": p.id,
            "naam": p.naam,
            "categorie": p.categorie,
            "verantwoordelijkeOrganisatie": self.oin,
            "verantwoordelijkeBestuursorgaan": p.verantwoordelijke_bestuursorgaan,
            "doel": p.doel,
            "grondslag": p.grondslag,
            "toelichtingGrondslag": p.toelichting_grondslag,
            "bewaartermijn": (
                f"{b.toelichting} Resultaten: {b.resultaten}; verwerkingenlog: {b.verwerkingenlog}."
            ),
            "herkomst": p.herkomst,
            "afnemendeInternationaleDerden": [],
            "afnemendeCategorieOntvangers": [o.naam for o in p.ontvangers],
            "verwerktePersoonsgegevens": [
                {"rolBetrokkene": rol, "naam": naam} for rol, naam in p.persoonsgegevens
            ],
        }


_LOADED: dict[Path, tuple[tuple[int, int], Register]] = {}


def load_register(path: str | Path | None = None) -> Register:
    """Load and validate the register; raise :class:`RegisterError` naming everything missing.

    Every lookup checks its purpose against the register in force, so this is on the hot path:
    a register is parsed again only when its file changed (modification time or size).
    """
    path = Path(path) if path else DEFAULT_PATH
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise RegisterError(f"processing register not found: {path}") from exc
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get(path)
    if cached and cached[0] == version:
        return cached[1]
    register = _parse_register(path)
    _LOADED[path] = (version, register)
    return register


def _parse_register(path: Path) -> Register:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - safe loader
    except FileNotFoundError as exc:
        raise RegisterError(f"processing register not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise RegisterError(f"processing register {path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise RegisterError(f"processing register {path}: expected a mapping at the top level")

    problems: list[str] = []
    top = doc.get("verantwoordelijke") or {}
    for name in ("organisatie", "oin"):
        if not top.get(name):
            problems.append(f"verantwoordelijke.{name} is missing")
    if top.get("oin") and not OIN.match(str(top["oin"])):
        problems.append("verantwoordelijke.oin must be a 20-digit OIN")
    for name in ("versie", "vastgesteld_op", "log_bewaartermijn"):
        if not doc.get(name):
            problems.append(f"{name} is missing")
    if doc.get("log_bewaartermijn"):
        _check_duration(str(doc["log_bewaartermijn"]), "log_bewaartermijn", problems)
    entries = doc.get("purposes")
    if not isinstance(entries, dict) or not entries:
        problems.append("purposes is missing or empty")
        entries = {}
    if problems:
        raise RegisterError(f"processing register {path}: " + "; ".join(problems))

    purposes: dict[str, Purpose] = {}
    errors: list[str] = []
    for key, entry in entries.items():
        try:
            purposes[key] = _purpose(key, entry)
        except RegisterError as exc:
            errors.append(str(exc))
    ids = [p.id for p in purposes.values()]
    if len(set(ids)) != len(ids):
        errors.append("two purposes share the same id")
    if errors:
        raise RegisterError(f"processing register {path} refused:\n  " + "\n  ".join(errors))
    return Register(
        path=path,
        versie=str(doc["versie"]),
        vastgesteld_op=_date(doc["vastgesteld_op"]),
        organisatie=str(top["organisatie"]),
        oin=str(top["oin"]),
        log_bewaartermijn=str(doc["log_bewaartermijn"]),
        purposes=purposes,
    )


def _purpose(key: str, entry: Any) -> Purpose:
    if not IDENT.match(str(key)):
        raise RegisterError(f"purpose {key!r}: the key must be snake_case")
    if not isinstance(entry, dict):
        raise RegisterError(f"purpose {key!r}: expected a mapping of fields")
    missing: list[str] = [f for f in REQUIRED_TEXT if not _text(entry.get(f))]
    invalid: list[str] = []

    try:
        pid = str(uuid.UUID(str(entry.get("id"))))
    except ValueError:
        invalid.append("id must be a UUID")
        pid = ""
    if _text(entry.get("grondslag")) and entry["grondslag"] not in GRONDSLAGEN:
        invalid.append(f"grondslag must be one of {sorted(GRONDSLAGEN)}")

    crim = entry.get("strafrechtelijke_gegevens")
    crim_ground = None
    if not isinstance(crim, dict) or not isinstance(crim.get("verwerkt"), bool):
        missing.append("strafrechtelijke_gegevens.verwerkt (true/false)")
        crim_processed = False
    else:
        crim_processed = crim["verwerkt"]
        crim_ground = _text(crim.get("grondslag"))
        if crim_processed and not crim_ground:
            missing.append("strafrechtelijke_gegevens.grondslag (criminal data need a specific ground)")

    betrokkenen = entry.get("betrokkenen")
    if not betrokkenen or not all(_text(b) for b in betrokkenen):
        missing.append("betrokkenen (categories of persons)")
    persoonsgegevens = []
    for item in entry.get("persoonsgegevens") or []:
        if isinstance(item, dict) and _text(item.get("rol")) and _text(item.get("naam")):
            persoonsgegevens.append((item["rol"], item["naam"]))
        else:
            invalid.append(f"persoonsgegevens item {item!r} needs rol and naam")
    if not persoonsgegevens:
        missing.append("persoonsgegevens (categories of personal data)")

    ontvangers = []
    raw_ontvangers = entry.get("ontvangers")
    if not raw_ontvangers:
        missing.append("ontvangers (recipients)")
    for item in raw_ontvangers or []:
        if not isinstance(item, dict) or not _text(item.get("naam")):
            invalid.append(f"ontvangers item {item!r} needs naam")
            continue
        extern = bool(item.get("extern", False))
        convenant = _text(item.get("convenant"))
        if extern and not convenant:
            missing.append(f"convenant for external recipient {item['naam']!r}")
        ontvangers.append(Ontvanger(item["naam"], extern, convenant))

    bewaar = entry.get("bewaartermijn")
    bewaartermijn = None
    if not isinstance(bewaar, dict):
        missing.append("bewaartermijn (resultaten, verwerkingenlog, toelichting)")
    else:
        for name in ("resultaten", "verwerkingenlog", "toelichting"):
            if not _text(bewaar.get(name)):
                missing.append(f"bewaartermijn.{name}")
        for name in ("resultaten", "verwerkingenlog"):
            if _text(bewaar.get(name)):
                _check_duration(str(bewaar[name]), f"bewaartermijn.{name}", invalid)
        if all(_text(bewaar.get(n)) for n in ("resultaten", "verwerkingenlog", "toelichting")):
            bewaartermijn = Bewaartermijn(
                str(bewaar["resultaten"]), str(bewaar["verwerkingenlog"]), bewaar["toelichting"]
            )

    vertrouwelijkheid = entry.get("vertrouwelijkheid")
    if vertrouwelijkheid not in VERTROUWELIJKHEID:
        invalid.append(f"vertrouwelijkheid must be one of {sorted(VERTROUWELIJKHEID)}")
    if crim_processed and vertrouwelijkheid != "vertrouwelijk":
        invalid.append("vertrouwelijkheid must be 'vertrouwelijk' when criminal data are processed")

    dates = {}
    for name in ("approved_on", "valid_until"):
        if not entry.get(name):
            missing.append(name)
            continue
        try:
            dates[name] = _date(entry[name])
        except ValueError:
            invalid.append(f"{name} must be a date (YYYY-MM-DD)")
    if len(dates) == 2 and dates["valid_until"] < dates["approved_on"]:
        invalid.append("valid_until lies before approved_on")

    roles = entry.get("roles") or []
    if not roles:
        missing.append("roles (who may see results: need-to-know)")
    unknown_roles = [r for r in roles if r not in ROLES]
    if unknown_roles:
        invalid.append(f"unknown role(s) {unknown_roles}; known: {sorted(ROLES)}")

    aggregated = bool(entry.get("aggregated_only", False))
    min_cell = entry.get("min_cell_size")
    if aggregated and (not isinstance(min_cell, int) or min_cell < 2):
        missing.append("min_cell_size (an integer >= 2, required for aggregated_only purposes)")
    flags = entry.get("flags") or []
    if not aggregated and "flags" not in entry:  # `flags: []`: a purpose that shows no flags
        missing.append("flags (the flag codes results may show)")
    if aggregated and flags:
        invalid.append("an aggregated_only purpose cannot show flags (they are per address)")

    sources_raw = entry.get("sources")
    sources: dict[str, tuple[str, ...]] = {}
    if not isinstance(sources_raw, dict) or not sources_raw:
        missing.append("sources (per source table, the columns this purpose may use)")
    else:
        for table, columns in sources_raw.items():
            if not TABLE.match(str(table)):
                invalid.append(f"source {table!r} must be a qualified table name (schema.table)")
            elif not columns or not all(isinstance(c, str) and IDENT.match(c) for c in columns):
                invalid.append(f"source {table}: list the allowed column names")
            else:
                sources[table] = tuple(columns)

    if missing or invalid:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if invalid:
            parts.append("invalid: " + "; ".join(invalid))
        raise RegisterError(f"purpose {key!r} is incomplete ({' | '.join(parts)})")

    assert bewaartermijn is not None
    return Purpose(
        key=key,
        id=pid,
        naam=entry["naam"],
        doel=entry["doel"],
        categorie=entry["categorie"],
        verantwoordelijke_bestuursorgaan=entry["verantwoordelijke_bestuursorgaan"],
        grondslag=entry["grondslag"],
        toelichting_grondslag=entry["toelichting_grondslag"],
        wettelijke_taak=entry["wettelijke_taak"],
        verenigbaarheid=entry["verenigbaarheid"],
        strafrechtelijke_gegevens=crim_processed,
        grondslag_strafrechtelijke_gegevens=crim_ground,
        subsidiariteit=entry["subsidiariteit"],
        proportionaliteit=entry["proportionaliteit"],
        dpia=entry["dpia"],
        betrokkenen=tuple(betrokkenen),
        persoonsgegevens=tuple(persoonsgegevens),
        ontvangers=tuple(ontvangers),
        herkomst=entry["herkomst"],
        bewaartermijn=bewaartermijn,
        vertrouwelijkheid=vertrouwelijkheid,
        approved_on=dates["approved_on"],
        approved_by=entry["approved_by"],
        valid_until=dates["valid_until"],
        roles=tuple(roles),
        flags=tuple(flags),
        sources=sources,
        aggregated_only=aggregated,
        min_cell_size=min_cell if aggregated else None,
        raw=entry,
    )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _check_duration(text: str, name: str, problems: list[str]) -> None:
    try:
        parse_duration(text)
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
