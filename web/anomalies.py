"""Access anomalies for the privacy officer, computed from the processing log.

Minimal model of cases and planned inspections (the seed describes inspections leaked to a
befriended entrepreneur): ``<warehouse>/web/cases.json`` lists cases with their members and
planned inspections::

    {"cases": [{"zaak": "BIB-2026-0142", "leden": ["bibob", "analist"],
                "inspecties": [{"adres": "1234AB|12||", "datum": "2026-12-03"}]}]}

maintained with ``knooppunt cases``. The rules, over executed hit/no-hit and detail requests and
exports (an export counts as a lookup of every address in it, under its case number):

* ``voor_inspectie`` (hoog): an address with a planned inspection under case C was looked up in
  the ``window_days`` before the inspection by a user who is not a member of C;
* ``andere_zaak`` (middel): a user looked up a target that another user had looked up under a
  different case number in the preceding ``window_days``, and is not a member of that case;
* ``geen_lid`` (middel): a user cited a registered case they are not a member of.

Targets are compared on (kind, value) as recorded by ``privacy.lookup`` (a detail request counts
for the target of its hit). The report shows the BAG id or business id, never personal data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.files import write_private
from privacy.log import LogEntry

CASES_FILE = Path("web") / "cases.json"
OBJECT_LABELS = {"street": "straat", "kvk": "KvK-nummer", "vestiging": "vestigingsnummer", "pand": "pand"}
DEFAULT_WINDOW_DAYS = 14
SEVERITY_ORDER = {"hoog": 0, "middel": 1, "laag": 2}


@dataclass(frozen=True)
class Inspection:
    address: str  # "1234AB|12|A|bis", the lookup's address value
    on: dt.date


@dataclass(frozen=True)
class Case:
    number: str
    members: frozenset[str]
    inspections: tuple[Inspection, ...] = ()


class CaseRegistry:
    def __init__(self, warehouse_root: str | Path):
        self.path = Path(warehouse_root) / CASES_FILE

    def load(self) -> dict[str, Case]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text(encoding="utf-8"))
        return {
            c["zaak"]: Case(
                c["zaak"],
                frozenset(c.get("leden", [])),
                tuple(
                    Inspection(i["adres"], dt.date.fromisoformat(i["datum"])) for i in c.get("inspecties", [])
                ),
            )
            for c in raw.get("cases", [])
        }

    def save(self, cases: Iterable[Case]) -> None:
        data = {
            "cases": [
                {
                    "zaak": c.number,
                    "leden": sorted(c.members),
                    "inspecties": [{"adres": i.address, "datum": i.on.isoformat()} for i in c.inspections],
                }
                for c in sorted(cases, key=lambda c: c.number)
            ]
        }
        write_private(self.path, json.dumps(data, indent=2))

    def upsert(self, number: str, members: Iterable[str] = (), inspection: Inspection | None = None) -> Case:
        cases = self.load()
        old = cases.get(number, Case(number, frozenset()))
        inspections = old.inspections + ((inspection,) if inspection else ())
        cases[number] = Case(number, old.members | frozenset(members), inspections)
        self.save(cases.values())
        return cases[number]


HANDLED_FILE = Path("web") / "anomalies-handled.jsonl"


@dataclass(frozen=True)
class Handled:
    rule: str
    actie_id: str
    by: str
    at: str  # ISO time, UTC
    note: str


class HandledAnomalies:
    """Anomalies the privacy officer has looked into: append-only, one JSON object per line."""

    def __init__(self, warehouse_root: str | Path):
        self.path = Path(warehouse_root) / HANDLED_FILE

    def load(self) -> dict[tuple[str, str], Handled]:
        if not self.path.exists():
            return {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        handled = [Handled(**json.loads(line)) for line in lines if line.strip()]
        return {(h.rule, h.actie_id): h for h in handled}

    def mark(self, rule: str, actie_id: str, by: str, note: str) -> Handled:
        handled = Handled(rule, actie_id, by, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), note)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(handled.__dict__, ensure_ascii=False) + "\n")
        return handled


@dataclass(frozen=True)
class Access:
    """One executed lookup (hit or detail) of a target."""

    at: dt.datetime
    user: str
    case: str
    kind: str
    value: str
    shown: str  # what the report shows: a BAG or business id, never an address of a person
    action: str
    actie_id: str


@dataclass(frozen=True)
class Anomaly:
    rule: str
    severity: str
    access: Access
    explanation: str
    related: list[Access] = field(default_factory=list)


RULE_TITLES = {
    "voor_inspectie": "Raadpleging kort vóór een geplande inspectie, door iemand buiten de zaak",
    "andere_zaak": "Zelfde object kort daarvoor door een ander onder een andere zaak geraadpleegd",
    "geen_lid": "Raadpleging onder een zaak waarvan de gebruiker geen lid is",
}


def _shown(entry: LogEntry, kind: str, value: str) -> str:
    if kind == "address":
        ids = [o["objectId"] for o in entry.objects if o.get("soortObjectId") == "BAG nummeraanduiding"]
        return f"adres, BAG-nummeraanduiding {', '.join(ids)}" if ids else "adres (niet in de BAG)"
    return f"{OBJECT_LABELS.get(kind, kind)} {value}"


EXPORTED_ADDRESS = "adres (postcode|huisnummer|huisletter|toevoeging)"  # privacy.lookup.OBJECT_KINDS


def accesses(entries: Iterable[LogEntry]) -> list[Access]:
    """Executed hits, details (with the target of their hit) and exports (one per address)."""
    hits: dict[str, Access] = {}
    found: list[Access] = []
    for e in entries:
        if e.outcome != "uitgevoerd" or e.action not in ("hit", "detail", "export"):
            continue
        at = dt.datetime.fromisoformat(e.tijdstip)
        if e.action == "export":
            case = e.details.get("case_number", "")
            shown = "adres in een export"
            found += [
                Access(at, e.gebruiker, case, "address", o["objectId"], shown, "export", e.actie_id)
                for o in e.objects
                if o.get("soortObjectId") == EXPORTED_ADDRESS
            ]
            continue
        if e.action == "hit":
            kind, value = e.details.get("target_kind", ""), e.details.get("target_value", "")
            access = Access(
                at,
                e.gebruiker,
                e.details.get("case_number", ""),
                kind,
                value,
                _shown(e, kind, value),
                "hit",
                e.actie_id,
            )
            hits[e.actie_id] = access
        else:
            hit = hits.get(e.details.get("request_id", ""))
            if hit is None:  # a detail whose hit was purged
                continue
            access = Access(
                at,
                e.gebruiker,
                e.details.get("case_number", ""),
                hit.kind,
                hit.value,
                hit.shown,
                "detail",
                e.actie_id,
            )
        found.append(access)
    return found


def find_anomalies(
    entries: Iterable[LogEntry], cases: dict[str, Case], window_days: int = DEFAULT_WINDOW_DAYS
) -> list[Anomaly]:
    window = dt.timedelta(days=window_days)
    found: list[Anomaly] = []
    log = accesses(entries)
    inspections = [(c, i) for c in cases.values() for i in c.inspections]
    for a in log:
        case = cases.get(a.case)
        if case is not None and a.user not in case.members:
            found.append(Anomaly("geen_lid", "middel", a, f"{a.user} is geen lid van zaak {a.case}."))
        for c, i in inspections:
            if a.kind != "address" or not _same_address(a.value, i.address) or a.user in c.members:
                continue
            days = (i.on - a.at.date()).days
            if 0 <= days <= window_days:
                found.append(
                    Anomaly(
                        "voor_inspectie",
                        "hoog",
                        a,
                        f"Inspectie onder zaak {c.number} gepland op {i.on.isoformat()} "
                        f"({days} dagen later); {a.user} is geen lid van die zaak.",
                    )
                )
        earlier = [
            b
            for b in log
            if b.user != a.user
            and b.case != a.case
            and (b.kind, b.value) == (a.kind, a.value)
            and _within(b.at, a.at, window)
        ]
        earlier = [b for b in earlier if b.case not in cases or a.user not in cases[b.case].members]
        if earlier:
            others = sorted({f"{b.user} (zaak {b.case})" for b in earlier})
            found.append(
                Anomaly(
                    "andere_zaak",
                    "middel",
                    a,
                    f"Eerder binnen {window_days} dagen geraadpleegd door {', '.join(others)}.",
                    earlier,
                )
            )
    return sorted(found, key=lambda x: (SEVERITY_ORDER[x.severity], -x.access.at.timestamp()))


def _within(earlier: dt.datetime, later: dt.datetime, window: dt.timedelta) -> bool:
    return dt.timedelta(0) <= later - earlier <= window


def _same_address(a: str, b: str) -> bool:
    def norm(v: str) -> tuple[str, ...]:
        parts = (v.upper().replace(" ", "").split("|") + ["", "", "", ""])[:4]
        return tuple(parts)

    return norm(a) == norm(b)
