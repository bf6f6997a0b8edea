"""Hit/no-hit first: the officers' lookups, on the published release, every request logged.

The model privacy protocol asks to start with a hit/no-hit query before any detail is revealed.
:meth:`Lookup.hit` answers only *whether* a target has a flag the purpose may show; the details
come from :meth:`Lookup.detail`, a second request under the same case number, by the same user,
within :data:`DETAIL_WINDOW`. Both are logged as different actions ("appeared in a search" versus
"consulted"), and so is every refusal.

Which flags belong to a target:

* ``address`` (``"1234AB|12|A|bis"``): flags on its nummeraanduiding, its verblijfsobject, or a
  pand that verblijfsobject lies in;
* ``street`` (a street name, or an openbare-ruimte id): street-level flags on that openbare ruimte
  and flags on the addresses in it and on their panden;
* ``kvk`` / ``vestiging``: flags on the addresses (and panden) of its vestigingen;
* ``pand``: flags on the pand and on the verblijfsobjecten in it.

Need-to-know: only flags listed under the purpose's ``flags`` in the register; a ``frontline``
actor sees for ``staff_safety`` only "Let op: neem contact op met <team>" and nothing else, and may
search only by address (:data:`ROLE_TARGETS`). The registration tables a lookup or export reads to
find its places are declared (:data:`TARGET_READS`, :data:`EXPORT_READS`) and must be among the
purpose's ``sources`` with those columns, like a gated asset's reads: a purpose without them is
refused, and the reads are logged as the entry's ``inputs``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipelines.warehouse import Warehouse, connect, current_release
from privacy.history import flag_key_sql
from privacy.log import LogEntry, ProcessingLog
from privacy.nearmatch import nearest_numbers, one_typo_away, similar_streets, split_street_number
from privacy.register import Purpose, Register, load_register
from privacy.scan import looks_like_bsn

DETAIL_WINDOW = dt.timedelta(hours=24)
MAX_CASE_NUMBER = 40
PSEUDONYM = re.compile(r"^P[0-9a-f]{24}$")
STAFF_SAFETY = "staff_safety"
FRONTLINE = "frontline"
DEFAULT_TEAM = "het team Veilige Publieke Dienstverlening"
FLAG_KEYS = ("flag", "nummeraanduiding_id", "verblijfsobject_id", "pand_id", "openbare_ruimte_id")
OBJECT_KINDS = {
    "address": "adres (postcode|huisnummer|huisletter|toevoeging)",
    "street": "straat",
    "kvk": "KvK-nummer",
    "vestiging": "vestigingsnummer",
    "pand": "pand (BAG-id)",
}


# What lookups search by. The published release stores these tables sorted on them (see
# pipelines.warehouse.publish), so a point lookup reads a few row groups instead of the whole
# table: on 10M addresses an address hit went from p50 130 ms to 18 ms.
RELEASE_ORDER = {
    "bag.nummeraanduiding": "postcode, huisnummer",
    "bag.verblijfsobject": "hoofdadres_id",
    "bag.verblijfsobject_pand": "verblijfsobject_id",
    "signals.flags": "nummeraanduiding_id",
}


# The kinds of target a role may search by; roles not listed may search by every kind.
ROLE_TARGETS: dict[str, tuple[str, ...]] = {FRONTLINE: ("address",)}

_VBO = {
    "bag.verblijfsobject": ["verblijfsobject_id", "hoofdadres_id"],
    "bag.verblijfsobject_pand": ["verblijfsobject_id", "pand_id"],
}
_ADDRESS = ["nummeraanduiding_id", "postcode", "huisnummer", "huisletter", "huisnummertoevoeging"]
# What finding a target's places reads, per kind (checked against the purpose's sources).
TARGET_READS: dict[str, dict[str, list[str]]] = {
    "address": {"bag.nummeraanduiding": _ADDRESS, **_VBO},
    "street": {
        "bag.openbare_ruimte": ["openbare_ruimte_id", "naam"],
        "bag.nummeraanduiding": ["nummeraanduiding_id", "openbare_ruimte_id"],
        **_VBO,
    },
    "kvk": {"kvk.vestiging": ["kvk_nummer", "nummeraanduiding_id", "verblijfsobject_id"], **_VBO},
    "vestiging": {"kvk.vestiging": ["vestigingsnummer", "nummeraanduiding_id", "verblijfsobject_id"], **_VBO},
    "pand": {"bag.verblijfsobject_pand": ["verblijfsobject_id", "pand_id"]},
}
# What an export reads besides the flags: the address of each flagged place.
EXPORT_READS: dict[str, list[str]] = {
    "bag.adres": [*_ADDRESS, "openbare_ruimte_naam", "woonplaats_naam"],
    "bag.openbare_ruimte": ["openbare_ruimte_id", "naam"],
}
# What a case export reads besides the flags: each looked-up address and where it lies.
CASE_EXPORT_READS: dict[str, list[str]] = {
    "bag.adres": EXPORT_READS["bag.adres"],
    "bag.verblijfsobject": [*_VBO["bag.verblijfsobject"], "x", "y"],
    "bag.verblijfsobject_pand": _VBO["bag.verblijfsobject_pand"],
    "bag.pand": ["pand_id", "geometry"],
}


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: str


@dataclass(frozen=True)
class Target:
    kind: Literal["address", "street", "kvk", "vestiging", "pand"]
    value: str


@dataclass(frozen=True)
class Suggestion:
    """A near match for a target that is not in the release, to search for instead."""

    kind: Literal["address", "street", "kvk", "vestiging", "pand"]
    value: str
    label: str


@dataclass(frozen=True)
class HitResult:
    request_id: str
    hit: bool
    target_label: str
    known: bool = True  # False: the target does not exist in the release (BAG or KvK)
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def outcome(self) -> Literal["treffer", "geen_treffer", "onbekend"]:
        """Hit, no hit, or unknown: an unknown target is never a no-hit."""
        if not self.known:
            return "onbekend"
        return "treffer" if self.hit else "geen_treffer"


@dataclass(frozen=True)
class FlagView:
    flag: str
    message: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    nummeraanduiding_id: str | None = None
    verblijfsobject_id: str | None = None
    pand_id: str | None = None
    openbare_ruimte_id: str | None = None
    x: float | None = None
    y: float | None = None
    reference_date: dt.date | None = None  # the stand date the flag was computed for
    team: str | None = None  # front line: the team to contact about a staff-safety warning


@dataclass(frozen=True)
class DetailResult:
    request_id: str
    purpose: str
    case_number: str
    target_label: str
    flags: list[FlagView]
    # Readable names of the BAG ids and vestigingsnummers in the flags (addresses, handelsnamen),
    # as far as the purpose's sources allow; empty for front-line roles.
    names: dict[str, str] = field(default_factory=dict)
    # For a KvK or vestiging target: its establishments (vestigingsnummer, handelsnaam, address).
    establishments: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Identity:
    persoon_id: str
    voornamen: str | None
    voorvoegsel: str | None
    geslachtsnaam: str | None


class LookupUnavailable(RuntimeError):
    """The published release lacks a table the lookup needs (the pipeline has not run fully)."""


class LookupRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Resolved:
    label: str
    nummeraanduiding_ids: list[str]
    verblijfsobject_ids: list[str]
    pand_ids: list[str]
    openbare_ruimte_ids: list[str]
    known: bool = True
    suggestions: tuple[Suggestion, ...] = ()


def _unknown(label: str, suggestions: list[Suggestion]) -> _Resolved:
    return _Resolved(label, [], [], [], [], known=False, suggestions=tuple(suggestions))


class _SharedRelease:
    """One read-only connection per published release, shared by all requests through cursors.

    Opening a connection LOADs the spatial extension (about a second: too slow per request). A new
    release gets a new connection; requests still holding a cursor on the previous one finish on it.
    """

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._con: duckdb.DuckDBPyConnection | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        path = current_release(self.warehouse)
        with self._lock:
            if path != self._path or self._con is None:
                self._con = connect(path, read_only=True)
                self._path = path
            return self._con.cursor()


@dataclass(frozen=True)
class AddressChoice:
    huisletter: str
    toevoeging: str
    straat: str


@dataclass(frozen=True)
class Building:
    pand_id: str
    wkt: str  # RD New (EPSG:28992)
    focus: bool  # one of the requested panden (else a neighbour)


class Lookup:
    def __init__(self, warehouse: Warehouse | str | Path, register_path: str | Path | None = None):
        self.warehouse = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
        self.log = ProcessingLog(self.warehouse)
        self.register_path = register_path
        self._shared = _SharedRelease(self.warehouse)

    # -- the two requests -------------------------------------------------------------------------
    def hit(self, actor: Actor, purpose: str, case_number: str, target: Target) -> HitResult:
        """Whether ``target`` has a flag ``purpose`` may show; logged as "appeared in a search"."""
        register = load_register(self.register_path)
        context = {"target_kind": target.kind}
        p = self._allowed(register, actor, purpose, case_number, context)
        if problem := _target_problem(target):
            self._refuse(register, actor, p, problem, context)
        reads = self._reads(register, actor, p, target.kind, context)
        with self._release() as con:
            resolved = self._resolve(con, target)
            flags = self._flags(con, resolved, p.flags)
            if resolved.known and target.kind in ("kvk", "vestiging"):
                resolved = self._with_company_name(con, p, target, resolved)
        hit = bool(flags)
        outcome = "treffer" if hit else ("geen_treffer" if resolved.known else "onbekend")
        entry = self.log.append(
            LogEntry.under(
                register,
                p,
                "hit",
                actor.user_id,
                role=actor.role,
                objects=_objects(target, resolved, "gezocht"),
                inputs={**reads, "signals.flags": list(FLAG_KEYS)},
                row_counts={"flags": len(flags)},
                details={
                    "case_number": case_number,
                    "target_kind": target.kind,
                    "target_value": target.value,
                    "target_label": resolved.label,
                    "hit": hit,
                    "known": resolved.known,
                    "outcome": outcome,
                },
            )
        )
        return HitResult(entry.actie_id, hit, resolved.label, resolved.known, resolved.suggestions)

    def detail(self, actor: Actor, request_id: str, note: dict[str, Any] | None = None) -> DetailResult:
        """The flags behind an earlier hit; logged as "consulted", with ``note`` (a screening's tier)."""
        register = load_register(self.register_path)
        request = self.log.find(actie_id=request_id)
        context = {"request_id": request_id}
        if request is None or request.action != "hit":  # a detail needs a hit/no-hit request first
            self._refuse(register, actor, None, "no such hit/no-hit request", context)
        assert request is not None
        if request.gebruiker != actor.user_id:
            self._refuse(register, actor, None, "the request was made by another user", context)
        made = dt.datetime.fromisoformat(request.tijdstip)
        if dt.datetime.now(dt.UTC) - made > DETAIL_WINDOW:
            self._refuse(register, actor, None, "the request is older than 24 hours: search again", context)
        case_number = request.details["case_number"]
        p = self._allowed(register, actor, request.purpose or "", case_number, context)
        target = Target(request.details["target_kind"], request.details["target_value"])
        reads = self._reads(register, actor, p, target.kind, context)
        with self._release() as con:
            resolved = self._resolve(con, target)
            rows = self._flags(con, resolved, p.flags)
            views = [_view(row, actor.role) for row in rows]
            names = {} if actor.role == FRONTLINE else self._names(con, p, views)
            establishments = (
                self._establishments(con, p, target) if target.kind in ("kvk", "vestiging") else []
            )
        persons = sorted({pid for v in views for pid in _pseudonyms(v.evidence)})
        self.log.append(
            LogEntry.under(
                register,
                p,
                "detail",
                actor.user_id,
                role=actor.role,
                objects=_objects(target, resolved, "geraadpleegd")
                + [
                    {
                        "soortObjectId": "persoon_id (pseudoniem)",
                        "objectId": pid,
                        "betrokkenheid": "in bewijs",
                    }
                    for pid in persons
                ],
                inputs={**reads, "signals.flags": [*FLAG_KEYS, "evidence"], **_name_inputs(p, names)},
                row_counts={"flags": len(views)},
                details={
                    "request_id": request_id,
                    "case_number": case_number,
                    "flags": sorted({v.flag for v in views}),
                    **(note or {}),
                },
            )
        )
        return DetailResult(request_id, p.key, case_number, resolved.label, views, names, establishments)

    def reidentify(self, actor: Actor, request_id: str, persoon_id: str) -> Identity:
        """Names of a pseudonymised person named in the evidence of a detail request (logged).

        Only for purposes whose register entry lists the identity store (``identity.persoon``) as
        a source, only for a person that appeared in that request's flags; never the BSN.
        """
        register = load_register(self.register_path)
        context = {"request_id": request_id}
        detail = self.log.find(action="detail", request_id=request_id)
        if detail is None or detail.gebruiker != actor.user_id:
            self._refuse(register, actor, None, "re-identification needs your own detail request", context)
        assert detail is not None
        p = self._allowed(register, actor, detail.purpose or "", detail.details["case_number"], context)
        columns = p.sources.get("identity.persoon")
        if not columns:
            self._refuse(register, actor, p, f"purpose {p.key!r} does not allow re-identification", context)
        assert columns is not None
        if not any(o["objectId"] == persoon_id for o in detail.objects):
            self._refuse(register, actor, p, "this person did not appear in the requested details", context)
        wanted = [c for c in ("voornamen", "voorvoegsel", "geslachtsnaam") if c in columns]
        con = connect(self.warehouse.identity_path, read_only=True)
        try:
            row = con.execute(
                f"SELECT {', '.join(wanted) or 'NULL'} FROM persoon WHERE persoon_id = ? LIMIT 1",
                [persoon_id],
            ).fetchone()
        finally:
            con.close()
        self.log.append(
            LogEntry.under(
                register,
                p,
                "reidentification",
                actor.user_id,
                role=actor.role,
                objects=[{"soortObjectId": "persoon_id (pseudoniem)", "objectId": persoon_id}],
                inputs={"identity.persoon": wanted},
                row_counts={"persons": 0 if row is None else 1},
                details={"request_id": request_id, "case_number": detail.details["case_number"]},
            )
        )
        values = dict(zip(wanted, row, strict=True)) if row else {}
        return Identity(
            persoon_id, values.get("voornamen"), values.get("voorvoegsel"), values.get("geslachtsnaam")
        )

    # -- open BAG data for the interface (no personal data: not logged) ---------------------------
    def nummeraanduidingen(self, target: Target) -> tuple[str, list[str]]:
        """The written-out label and BAG nummeraanduiding ids of an address or "straat huisnummer".

        For the privacy officer's search of the log by address: open BAG data, nothing about
        persons is read, so this is not a logged lookup.
        """
        if problem := _target_problem(target):
            raise LookupRefused(problem)
        with self._release() as con:
            resolved = self._resolve(con, target)
        return resolved.label, resolved.nummeraanduiding_ids

    def address_choices(self, postcode: str, huisnummer: int) -> list[AddressChoice]:
        """The current addresses with this postcode and huisnummer (each huisletter/toevoeging)."""
        with self._release() as con:
            rows = con.execute(
                """SELECT DISTINCT coalesce(huisletter, ''), coalesce(huisnummertoevoeging, ''),
                          coalesce(openbare_ruimte_naam, '')
                   FROM bag.adres WHERE postcode = ? AND huisnummer = ? ORDER BY 1, 2""",
                [postcode.replace(" ", "").upper(), huisnummer],
            ).fetchall()
        return [AddressChoice(*row) for row in rows]

    def buildings(
        self,
        pand_ids: list[str],
        points: Sequence[tuple[float, float]] = (),
        radius: float = 60.0,
        limit: int = 150,
    ) -> list[Building]:
        """The given panden (focus) and at most ``limit`` panden within ``radius`` m of them or the points."""
        if not pand_ids and not points:
            return []
        with self._release() as con:
            focus = (
                con.execute(
                    f"""SELECT pand_id, any_value(ST_AsText(geometry)), min(ST_XMin(geometry)),
                               min(ST_YMin(geometry)), max(ST_XMax(geometry)), max(ST_YMax(geometry))
                        FROM bag.pand WHERE pand_id IN ({_marks(pand_ids)}) AND geometry IS NOT NULL
                        GROUP BY pand_id ORDER BY pand_id""",
                    pand_ids,
                ).fetchall()
                if pand_ids
                else []
            )
            bounds = [row[2:] for row in focus] + [(x, y, x, y) for x, y in points]
            if not bounds:
                return []
            minx, miny = min(b[0] for b in bounds), min(b[1] for b in bounds)
            maxx, maxy = max(b[2] for b in bounds), max(b[3] for b in bounds)
            neighbours = con.execute(
                """SELECT pand_id, any_value(ST_AsText(geometry)) FROM bag.pand
                   WHERE geometry IS NOT NULL
                     AND ST_XMax(geometry) >= ? AND ST_XMin(geometry) <= ?
                     AND ST_YMax(geometry) >= ? AND ST_YMin(geometry) <= ?
                   GROUP BY pand_id ORDER BY pand_id LIMIT ?""",
                [minx - radius, maxx + radius, miny - radius, maxy + radius, limit],
            ).fetchall()
        focus_ids = {row[0] for row in focus}
        result = [Building(row[0], row[1], True) for row in focus]
        return result + [Building(pid, wkt, False) for pid, wkt in neighbours if pid not in focus_ids]

    # -- export ------------------------------------------------------------------------------------
    def export(
        self,
        actor: Actor,
        purpose: str,
        case_number: str,
        *,
        fmt: str,
        with_evidence: bool = False,
        change: Literal["new", "resolved"] | None = None,
    ) -> list[dict[str, Any]]:
        """Every flagged place the purpose may show, one row per flag and address.

        By default a list of places: no evidence, so no persons. ``with_evidence`` adds the
        evidence (JSON text) and logs the pseudonymised persons in it. Front-line roles cannot
        export. Logged with the file format ``fmt``, the case, the flags, every exported place
        (address, BAG nummeraanduiding, pand or openbare ruimte) and person pseudonym, so the
        anomaly report can weigh an export like the lookups it replaces.

        Each row carries its ``status`` in the flag history (``nieuw``: first seen in the latest
        published run, ``open``, ``opgelost``) and ``sinds`` (the stand date it was first seen).
        ``change="new"`` exports only the new flags, ``change="resolved"`` only the flags that
        stopped firing in the latest run (their last evidence).
        """
        register = load_register(self.register_path)
        context: dict[str, Any] = {"export": True, "format": fmt, **({"change": change} if change else {})}
        p = self._allowed(register, actor, purpose, case_number, context)
        if actor.role == FRONTLINE:
            self._refuse(register, actor, p, "front-line roles cannot export lists", context)
        self._check_sources(register, actor, p, EXPORT_READS, context)
        with self._release() as con:
            source = _flag_source(con, change)
            cursor = con.execute(
                f"""SELECT f.flag, f.nummeraanduiding_id, f.verblijfsobject_id, f.pand_id,
                           f.openbare_ruimte_id, coalesce(a.openbare_ruimte_naam, o.naam) AS straat,
                           a.huisnummer, a.huisletter, a.huisnummertoevoeging, a.postcode,
                           a.woonplaats_naam AS woonplaats, f.reference_date, f.x, f.y,
                           f.status, f.sinds
                           {", CAST(f.evidence AS VARCHAR) AS evidence" if with_evidence else ""}
                    FROM ({source}) f
                    LEFT JOIN (SELECT * FROM bag.adres QUALIFY row_number() OVER
                               (PARTITION BY nummeraanduiding_id ORDER BY nummeraanduiding_id) = 1) a
                           USING (nummeraanduiding_id)
                    LEFT JOIN (SELECT openbare_ruimte_id, any_value(naam) AS naam FROM bag.openbare_ruimte
                               GROUP BY openbare_ruimte_id) o ON o.openbare_ruimte_id = f.openbare_ruimte_id
                    WHERE f.flag IN ({_marks(list(p.flags))})
                    ORDER BY f.flag, a.postcode, a.huisnummer, f.pand_id, f.openbare_ruimte_id""",
                list(p.flags),
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        persons = sorted({pid for r in rows for pid in _pseudonyms(json.loads(r.get("evidence") or "{}"))})
        self.log.append(
            LogEntry.under(
                register,
                p,
                "export",
                actor.user_id,
                role=actor.role,
                objects=_exported(rows)
                + [
                    {
                        "soortObjectId": "persoon_id (pseudoniem)",
                        "objectId": pid,
                        "betrokkenheid": "in bewijs",
                    }
                    for pid in persons
                ],
                inputs={
                    **EXPORT_READS,
                    "signals.flags": [*FLAG_KEYS, "reference_date", "x", "y"]
                    + (["evidence"] if with_evidence else []),
                    "signals.flag_history": ["flag_key", "first_stand", "first_run_seq", "resolved_run_seq"],
                },
                row_counts={"rows": len(rows)},
                details={
                    "case_number": case_number,
                    "format": fmt,
                    "flags": sorted({r["flag"] for r in rows}),
                    "with_evidence": with_evidence,
                    **({"change": change} if change else {}),
                },
            )
        )
        return rows

    def case_export(self, actor: Actor, purpose: str, case_number: str, *, fmt: str) -> list[dict[str, Any]]:
        """The addresses looked up under this purpose and case, one row each, with today's answer.

        Exactly the addresses of the case's hit/no-hit requests (an address, or "straat huisnummer"
        in the street box); a target that was not in the BAG is a row with its typed value and the
        answer ``onbekend``. No evidence and no persons. Its reads (:data:`CASE_EXPORT_READS`) must
        be among the purpose's sources; logged like :meth:`export`, with the file format ``fmt`` and
        every exported place, so the anomaly report weighs it like the lookups it repeats.
        """
        register = load_register(self.register_path)
        context = {"export": True, "case_export": True, "format": fmt}
        p = self._allowed(register, actor, purpose, case_number, context)
        if actor.role == FRONTLINE:
            self._refuse(register, actor, p, "front-line roles cannot export lists", context)
        self._check_sources(register, actor, p, CASE_EXPORT_READS, context)
        looked_up: dict[str, None] = {}
        unknown: dict[str, None] = {}
        for entry in self.log.entries():
            d = entry.details
            if entry.action != "hit" or entry.purpose != p.key or d.get("case_number") != case_number:
                continue
            num = [o["objectId"] for o in entry.objects if o.get("soortObjectId") == "BAG nummeraanduiding"]
            if _address_like(d, num):
                looked_up |= dict.fromkeys(num)
                if not num:
                    unknown[str(d.get("target_label") or d.get("target_value"))] = None
        ids = list(looked_up)
        rows: list[dict[str, Any]] = []
        with self._release() as con:
            if ids:
                cursor = con.execute(
                    f"""SELECT a.nummeraanduiding_id, any_value(a.openbare_ruimte_naam) AS straat,
                               any_value(a.huisnummer) AS huisnummer,
                               any_value(a.huisletter) AS huisletter,
                               any_value(a.huisnummertoevoeging) AS toevoeging,
                               any_value(a.postcode) AS postcode, any_value(a.woonplaats_naam) AS woonplaats,
                               coalesce(any_value(v.x), any_value(ST_X(ST_Centroid(pd.geometry)))) AS x,
                               coalesce(any_value(v.y), any_value(ST_Y(ST_Centroid(pd.geometry)))) AS y
                        FROM bag.adres a
                        LEFT JOIN bag.verblijfsobject v ON v.hoofdadres_id = a.nummeraanduiding_id
                        LEFT JOIN bag.verblijfsobject_pand vp ON vp.verblijfsobject_id = v.verblijfsobject_id
                        LEFT JOIN bag.pand pd ON pd.pand_id = vp.pand_id
                        WHERE a.nummeraanduiding_id IN ({_marks(ids)})
                        GROUP BY a.nummeraanduiding_id
                        ORDER BY postcode, huisnummer, huisletter, toevoeging""",
                    ids,
                )
                names = [c[0] for c in cursor.description]
                places = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                for place in places:
                    resolved = self._from_addresses(con, "", [place["nummeraanduiding_id"]])
                    flags = sorted({f["flag"] for f in self._flags(con, resolved, p.flags)})
                    rows.append(
                        {
                            **place,
                            "adres": format_address(
                                place["straat"],
                                place["huisnummer"],
                                place["huisletter"],
                                place["toevoeging"],
                                place["postcode"],
                                place["woonplaats"],
                            ),
                            "uitkomst": "treffer" if flags else "geen_treffer",
                            "flags": flags,
                        }
                    )
        rows += [{"adres": label, "uitkomst": "onbekend", "flags": []} for label in unknown]
        self.log.append(
            LogEntry.under(
                register,
                p,
                "export",
                actor.user_id,
                role=actor.role,
                objects=_exported(
                    [{**r, "huisnummertoevoeging": r["toevoeging"]} for r in rows if "toevoeging" in r]
                ),
                inputs={**CASE_EXPORT_READS, "signals.flags": list(FLAG_KEYS)},
                row_counts={"rows": len(rows)},
                details={
                    "case_number": case_number,
                    "case_export": True,
                    "format": fmt,
                    "flags": sorted({f for r in rows for f in r["flags"]}),
                    "with_evidence": False,
                },
            )
        )
        return rows

    # -- checks and refusals ----------------------------------------------------------------------
    def _allowed(
        self, register: Register, actor: Actor, purpose: str, case_number: str, context: dict[str, Any]
    ) -> Purpose:
        p = register.get(purpose)
        if p is None:
            # Never the text typed: a purpose must be a register id, anything else may be personal.
            reason = (
                "purpose '' is not in the register"
                if not purpose
                else "unknown purpose (not in the register)"
            )
            self._refuse(register, actor, None, reason, context)
        assert p is not None
        if reason := p.refusal(dt.date.today()):
            self._refuse(register, actor, p, reason, context)
        if p.aggregated_only:
            self._refuse(register, actor, p, f"purpose {p.key!r} is aggregated-only: no lookups", context)
        if actor.role not in p.roles:
            self._refuse(register, actor, p, f"role {actor.role!r} may not use purpose {p.key!r}", context)
        if p.case_number_required and (not case_number or not case_number.strip()):
            self._refuse(register, actor, p, "a case number (zaaknummer) is required", context)
        if looks_like_bsn(case_number):
            self._refuse(register, actor, p, "the case number looks like a BSN; use the case number", context)
        if len(case_number) > MAX_CASE_NUMBER:
            self._refuse(
                register, actor, p, f"the case number is longer than {MAX_CASE_NUMBER} characters", context
            )
        return p

    def _reads(
        self, register: Register, actor: Actor, p: Purpose, kind: str, context: dict[str, Any]
    ) -> dict[str, list[str]]:
        """The declared reads for a target of ``kind``, after checking role and sources."""
        allowed = ROLE_TARGETS.get(actor.role, tuple(OBJECT_KINDS))
        if kind not in allowed:
            reason = f"role {actor.role!r} may not search by {kind}; only by {', '.join(allowed)}"
            self._refuse(register, actor, p, reason, context)
        reads = TARGET_READS[kind]
        self._check_sources(register, actor, p, reads, context)
        return reads

    def _check_sources(
        self,
        register: Register,
        actor: Actor,
        p: Purpose,
        reads: dict[str, list[str]],
        context: dict[str, Any],
    ) -> None:
        if problems := p.column_refusals(reads):
            self._refuse(register, actor, p, "; ".join(problems), context)

    def _refuse(
        self, register: Register, actor: Actor, purpose: Purpose | None, reason: str, context: dict[str, Any]
    ) -> None:
        self.log.append(
            LogEntry.under(
                register,
                purpose,
                "refusal",
                actor.user_id,
                role=actor.role,
                outcome="geweigerd",
                reason=reason,
                details=context,
            )
        )
        raise LookupRefused(reason)

    # -- the release ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _release(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._shared.cursor()
        try:
            yield cursor
        except duckdb.CatalogException as exc:
            raise LookupUnavailable(f"the published release cannot answer lookups: {exc}") from exc
        finally:
            cursor.close()

    def _resolve(self, con: duckdb.DuckDBPyConnection, target: Target) -> _Resolved:
        """The BAG objects a target stands for, or an unknown target with near matches."""
        kind, value = target.kind, target.value.strip()
        if kind == "address":
            parts = (value.split("|") + ["", "", "", ""])[:4]
            postcode, huisnummer, huisletter, toevoeging = (p.strip().upper() for p in parts)
            postcode = postcode.replace(" ", "")
            if not huisnummer.isdigit():
                raise LookupRefused("an address needs postcode|huisnummer|huisletter|toevoeging")
            num = _column(
                con,
                """SELECT nummeraanduiding_id FROM bag.nummeraanduiding
                   WHERE postcode = ? AND huisnummer = ? AND upper(coalesce(huisletter, '')) = ?
                     AND upper(coalesce(huisnummertoevoeging, '')) = ?""",
                [postcode, int(huisnummer), huisletter, toevoeging],
            )
            suffix = f"-{toevoeging}" if toevoeging else ""
            typed = f"{postcode[:4]} {postcode[4:]} {huisnummer}{huisletter}{suffix}"
            if not num:
                return _unknown(typed, self._near_address(con, postcode, int(huisnummer)))
            return self._from_addresses(con, self._label(con, num, typed), num)
        if kind == "street":
            return self._resolve_street(con, value)
        if kind in ("kvk", "vestiging"):
            column = "kvk_nummer" if kind == "kvk" else "vestigingsnummer"
            rows = con.execute(
                f"SELECT nummeraanduiding_id, verblijfsobject_id FROM kvk.vestiging WHERE {column} = ?",
                [value],
            ).fetchall()
            label = f"{OBJECT_KINDS[kind]} {value}"
            if not rows:
                known = _column(con, f"SELECT DISTINCT {column} FROM kvk.vestiging", [])
                near = [Suggestion(kind, v, f"{OBJECT_KINDS[kind]} {v}") for v in one_typo_away(value, known)]
                return _unknown(label, near)
            num = sorted({r[0] for r in rows if r[0]})
            resolved = self._from_addresses(con, label, num)
            vbo = sorted(set(resolved.verblijfsobject_ids) | {r[1] for r in rows if r[1]})
            return _Resolved(resolved.label, num, vbo, self._panden(con, vbo), [])
        if kind == "pand":
            label = f"pand {value}"
            exists = con.execute(
                """SELECT 1 FROM bag.pand WHERE pand_id = ?
                   UNION ALL SELECT 1 FROM bag.verblijfsobject_pand WHERE pand_id = ? LIMIT 1""",
                [value, value],
            ).fetchone()
            if exists is None:
                known = _column(con, "SELECT DISTINCT pand_id FROM bag.pand", [])
                return _unknown(
                    label, [Suggestion("pand", v, f"pand {v}") for v in one_typo_away(value, known)]
                )
            vbo = _column(
                con, "SELECT verblijfsobject_id FROM bag.verblijfsobject_pand WHERE pand_id = ?", [value]
            )
            return _Resolved(label, [], vbo, [value], [])
        raise LookupRefused(f"unknown target kind {kind!r}; use one of {sorted(OBJECT_KINDS)}")

    def _resolve_street(self, con: duckdb.DuckDBPyConnection, value: str) -> _Resolved:
        """A street (name or openbare-ruimte id), or "straat huisnummer" typed in the street box."""
        if re.fullmatch(r"\d{16}", value):
            streets = _column(
                con,
                "SELECT openbare_ruimte_id FROM bag.openbare_ruimte WHERE openbare_ruimte_id = ?",
                [value],
            )
        else:
            streets = self._streets_named(con, value)
        if streets:
            num = _column(
                con,
                "SELECT nummeraanduiding_id FROM bag.nummeraanduiding "
                f"WHERE openbare_ruimte_id IN ({_marks(streets)})",
                streets,
            )
            names = _column(
                con,
                f"SELECT naam FROM bag.openbare_ruimte WHERE openbare_ruimte_id IN ({_marks(streets)})",
                streets,
            )
            label = " / ".join(names) or value
            resolved = self._from_addresses(con, label, num)
            return _Resolved(
                label, resolved.nummeraanduiding_ids, resolved.verblijfsobject_ids, resolved.pand_ids, streets
            )
        parts = split_street_number(value, self._street_names(con))
        if parts is None:
            names = similar_streets(value, self._street_names(con))
            return _unknown(value, [Suggestion("street", n, n) for n in names])
        typed = f"{parts.straat} {parts.huisnummer}{parts.huisletter}"
        typed += f"-{parts.toevoeging}" if parts.toevoeging else ""
        streets = self._streets_named(con, parts.straat)
        if streets:
            num = _column(
                con,
                f"""SELECT nummeraanduiding_id FROM bag.nummeraanduiding
                    WHERE openbare_ruimte_id IN ({_marks(streets)}) AND huisnummer = ?
                      AND upper(coalesce(huisletter, '')) = ?
                      AND upper(coalesce(huisnummertoevoeging, '')) = ?""",
                [*streets, parts.huisnummer, parts.huisletter, parts.toevoeging],
            )
            if num:
                return self._from_addresses(con, self._label(con, num, typed), num)
            return _unknown(typed, self._near_numbers(con, streets, parts.huisnummer))
        near: list[Suggestion] = []
        for name in similar_streets(parts.straat, self._street_names(con)):
            near += self._near_numbers(con, self._streets_named(con, name), parts.huisnummer, exact=True)
        if not near:  # the street is not near anything with that number: offer the streets
            near = [
                Suggestion("street", n, n) for n in similar_streets(parts.straat, self._street_names(con))
            ]
        return _unknown(typed, near[:5])

    def _streets_named(self, con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
        return _column(
            con,
            "SELECT openbare_ruimte_id FROM bag.openbare_ruimte WHERE lower(naam) = lower(?)",
            [" ".join(name.split())],
        )

    def _street_names(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        return _column(con, "SELECT DISTINCT naam FROM bag.openbare_ruimte", [])

    def _near_numbers(
        self, con: duckdb.DuckDBPyConnection, streets: list[str], huisnummer: int, *, exact: bool = False
    ) -> list[Suggestion]:
        """Addresses in these streets with the nearest house numbers (only ``huisnummer`` if exact)."""
        if not streets:
            return []
        numbers = _column(
            con,
            "SELECT DISTINCT huisnummer FROM bag.nummeraanduiding "
            f"WHERE openbare_ruimte_id IN ({_marks(streets)})",
            streets,
        )
        wanted = [huisnummer] if exact else nearest_numbers(huisnummer, [int(n) for n in numbers])
        if exact and huisnummer not in [int(n) for n in numbers]:
            return []
        return self._address_suggestions(
            con,
            f"openbare_ruimte_id IN ({_marks(streets)}) AND huisnummer IN ({_marks(wanted)})",
            [*streets, *wanted],
            huisnummer,
        )

    def _near_address(
        self, con: duckdb.DuckDBPyConnection, postcode: str, huisnummer: int
    ) -> list[Suggestion]:
        """Addresses at this postcode with the nearest numbers, else this number one postcode typo away."""
        numbers = _column(
            con, "SELECT DISTINCT huisnummer FROM bag.nummeraanduiding WHERE postcode = ?", [postcode]
        )
        if numbers:
            wanted = nearest_numbers(huisnummer, [int(n) for n in numbers])
            return self._address_suggestions(
                con, f"postcode = ? AND huisnummer IN ({_marks(wanted)})", [postcode, *wanted], huisnummer
            )
        candidates = _column(
            con, "SELECT DISTINCT postcode FROM bag.nummeraanduiding WHERE huisnummer = ?", [huisnummer]
        )
        near = one_typo_away(postcode, candidates)
        if not near:
            return []
        return self._address_suggestions(
            con, f"huisnummer = ? AND postcode IN ({_marks(near)})", [huisnummer, *near], huisnummer
        )

    def _address_suggestions(
        self, con: duckdb.DuckDBPyConnection, where: str, params: list[Any], huisnummer: int
    ) -> list[Suggestion]:
        # The variants (letter, toevoeging) of the number typed, else one address per nearby number.
        rows = con.execute(
            f"""SELECT postcode, huisnummer, coalesce(huisletter, '') AS l,
                       coalesce(huisnummertoevoeging, '') AS t, nummeraanduiding_id
                FROM bag.nummeraanduiding WHERE {where}
                QUALIFY huisnummer = ?
                     OR row_number() OVER (PARTITION BY postcode, huisnummer ORDER BY l, t) = 1
                ORDER BY abs(huisnummer - ?), huisnummer, l, t LIMIT 5""",
            [*params, huisnummer, huisnummer],
        ).fetchall()
        labels = self.address_labels(con, [r[4] for r in rows])
        return [
            Suggestion("address", f"{pc}|{nr}|{letter}|{toev}", labels.get(num, f"{pc} {nr}{letter}"))
            for pc, nr, letter, toev, num in rows
        ]

    def address_labels(self, con: duckdb.DuckDBPyConnection, num: list[str]) -> dict[str, str]:
        """Full addresses ("Kerkstraat 5A-2, 1234 AB Voorbeeldstad") by nummeraanduiding id."""
        if not num:
            return {}
        rows = con.execute(
            f"""SELECT nummeraanduiding_id, any_value(openbare_ruimte_naam), any_value(huisnummer),
                       any_value(huisletter), any_value(huisnummertoevoeging), any_value(postcode),
                       any_value(woonplaats_naam)
                FROM bag.adres WHERE nummeraanduiding_id IN ({_marks(num)}) GROUP BY nummeraanduiding_id""",
            num,
        ).fetchall()
        return {row[0]: format_address(*row[1:]) for row in rows}

    def _names(self, con: duckdb.DuckDBPyConnection, p: Purpose, views: list[FlagView]) -> dict[str, str]:
        """Addresses for the BAG ids and handelsnamen for the vestigingsnummers in these flags.

        Only where the purpose may read them: addresses need ``bag.adres`` among its sources,
        handelsnamen ``kvk.vestiging.eerste_handelsnaam``.
        """
        ids: set[str] = set()
        for v in views:
            ids |= {
                i for i in (v.nummeraanduiding_id, v.verblijfsobject_id, v.pand_id, v.openbare_ruimte_id) if i
            }
            ids |= _identifiers(v.evidence)
        by_kind: dict[str, list[str]] = {}
        for i in sorted(ids):
            kind = "vestiging" if len(i) == 12 else BAG_OBJECT_TYPES.get(i[4:6], "")
            by_kind.setdefault(kind, []).append(i)
        addresses = "bag.adres" in p.sources
        names: dict[str, str] = {}
        if addresses:
            num = by_kind.get("nummeraanduiding", [])
            vbo = by_kind.get("verblijfsobject", [])
            panden = by_kind.get("pand", [])
            hoofd = dict(
                con.execute(
                    f"""SELECT verblijfsobject_id, any_value(hoofdadres_id) FROM bag.verblijfsobject
                        WHERE verblijfsobject_id IN ({_marks(vbo)}) GROUP BY 1""",
                    vbo,
                ).fetchall()
                if vbo
                else []
            )
            in_pand = (
                con.execute(
                    f"""SELECT DISTINCT vp.pand_id, v.hoofdadres_id FROM bag.verblijfsobject_pand vp
                        JOIN bag.verblijfsobject v USING (verblijfsobject_id)
                        WHERE vp.pand_id IN ({_marks(panden)})""",
                    panden,
                ).fetchall()
                if panden
                else []
            )
            labels = self.address_labels(
                con, sorted(set(num) | set(hoofd.values()) | {a for _, a in in_pand})
            )
            names |= {n: labels[n] for n in num if n in labels}
            names |= {v: labels[a] for v, a in hoofd.items() if a in labels}
            for pand in panden:
                found = sorted(labels[a] for pid, a in in_pand if pid == pand and a in labels)
                if found:
                    more = len(found) - 1
                    names[pand] = found[0] + (f" (en {more} andere adressen)" if more else "")
            streets = by_kind.get("openbare_ruimte", [])
            if streets:
                names |= dict(
                    con.execute(
                        f"""SELECT openbare_ruimte_id, any_value(naam) FROM bag.openbare_ruimte
                            WHERE openbare_ruimte_id IN ({_marks(streets)}) GROUP BY 1""",
                        streets,
                    ).fetchall()
                )
        vestigingen = by_kind.get("vestiging", [])
        if vestigingen and "eerste_handelsnaam" in p.sources.get("kvk.vestiging", []):
            rows = con.execute(
                f"""SELECT vestigingsnummer, any_value(eerste_handelsnaam), any_value(nummeraanduiding_id)
                    FROM kvk.vestiging WHERE vestigingsnummer IN ({_marks(vestigingen)}) GROUP BY 1""",
                vestigingen,
            ).fetchall()
            labels = self.address_labels(con, [r[2] for r in rows if r[2]]) if addresses else {}
            for nummer, naam, num_id in rows:
                parts = [naam or "(handelsnaam onbekend)"] + ([labels[num_id]] if num_id in labels else [])
                names[nummer] = ", ".join(parts)
        return names

    def _establishments(
        self, con: duckdb.DuckDBPyConnection, p: Purpose, target: Target
    ) -> list[tuple[str, str, str]]:
        """The vestigingen of a KvK number (or the one vestiging) with handelsnaam and address."""
        if "eerste_handelsnaam" not in p.sources.get("kvk.vestiging", []):
            return []
        column = "kvk_nummer" if target.kind == "kvk" else "vestigingsnummer"
        rows = con.execute(
            f"""SELECT vestigingsnummer, any_value(eerste_handelsnaam), any_value(nummeraanduiding_id)
                FROM kvk.vestiging WHERE {column} = ? GROUP BY 1 ORDER BY 1""",
            [target.value.strip()],
        ).fetchall()
        labels = self.address_labels(con, [r[2] for r in rows if r[2]]) if "bag.adres" in p.sources else {}
        return [(v, naam or "", labels.get(num or "", "adres niet in de BAG")) for v, naam, num in rows]

    def _with_company_name(
        self, con: duckdb.DuckDBPyConnection, p: Purpose, target: Target, resolved: _Resolved
    ) -> _Resolved:
        """ "KvK-nummer 12345678: Handelsnaam" where the purpose may read the handelsnaam."""
        if "eerste_handelsnaam" not in p.sources.get("kvk.vestiging", []):
            return resolved
        column = "kvk_nummer" if target.kind == "kvk" else "vestigingsnummer"
        names = _column(
            con,
            f"SELECT eerste_handelsnaam FROM kvk.vestiging WHERE {column} = ? AND eerste_handelsnaam <> ''",
            [target.value.strip()],
        )
        if not names:
            return resolved
        label = f"{resolved.label}: {' / '.join(names[:3])}" + (" …" if len(names) > 3 else "")
        return dataclasses.replace(resolved, label=label)

    def _label(self, con: duckdb.DuckDBPyConnection, num: list[str], fallback: str) -> str:
        labels = self.address_labels(con, num)
        return labels[num[0]] if len(num) == 1 and num[0] in labels else fallback

    def _from_addresses(self, con: duckdb.DuckDBPyConnection, label: str, num: list[str]) -> _Resolved:
        vbo = _column(
            con,
            f"SELECT verblijfsobject_id FROM bag.verblijfsobject WHERE hoofdadres_id IN ({_marks(num)})",
            num,
        )
        return _Resolved(label, num, vbo, self._panden(con, vbo), [])

    def _panden(self, con: duckdb.DuckDBPyConnection, vbo: list[str]) -> list[str]:
        return _column(
            con,
            f"SELECT pand_id FROM bag.verblijfsobject_pand WHERE verblijfsobject_id IN ({_marks(vbo)})",
            vbo,
        )

    def _flags(
        self, con: duckdb.DuckDBPyConnection, r: _Resolved, allowed: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        conditions, params = [], []
        for column, values in (
            ("nummeraanduiding_id", r.nummeraanduiding_ids),
            ("verblijfsobject_id", r.verblijfsobject_ids),
            ("pand_id", r.pand_ids),
            ("openbare_ruimte_id", r.openbare_ruimte_ids),
        ):
            if values:
                conditions.append(f"{column} IN ({_marks(values)})")
                params += values
        if not conditions or not allowed:
            return []
        cursor = con.execute(
            f"""SELECT DISTINCT flag, nummeraanduiding_id, verblijfsobject_id, pand_id, openbare_ruimte_id,
                       CAST(evidence AS VARCHAR) AS evidence, x, y, reference_date
                FROM signals.flags WHERE flag IN ({_marks(list(allowed))}) AND ({" OR ".join(conditions)})
                ORDER BY flag, nummeraanduiding_id, pand_id, openbare_ruimte_id""",
            list(allowed) + params,
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:
            row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else {}
        return rows


LATEST_RUN = "(SELECT max(run_seq) FROM signals.flag_runs)"


def has_history(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the release holds the flag history (releases published before it existed do not)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'signals' "
            "AND table_name IN ('flag_history', 'flag_runs')"
        ).fetchone()[0]
        == 2
    )


def _flag_source(con: duckdb.DuckDBPyConnection, change: str | None) -> str:
    """The flags of the release with their ``status`` and ``sinds`` from the history.

    ``change``: None (every current flag), ``"new"`` (first seen in the latest run) or
    ``"resolved"`` (stopped firing in the latest run; from the history, with its last evidence).
    """
    if not has_history(con):
        if change:
            raise LookupUnavailable("the published release has no flag history (signals.flag_history)")
        return "SELECT *, NULL AS status, NULL AS sinds FROM signals.flags"
    if change == "resolved":
        return f"""SELECT flag, nummeraanduiding_id, verblijfsobject_id, pand_id, openbare_ruimte_id,
                          CAST(evidence AS JSON) AS evidence, x, y, last_stand AS reference_date,
                          'opgelost' AS status, first_stand AS sinds
                   FROM signals.flag_history WHERE resolved_run_seq = {LATEST_RUN}"""
    current = f"""SELECT f.*, CASE WHEN h.first_run_seq = {LATEST_RUN} THEN 'nieuw' ELSE 'open' END AS status,
                         h.first_stand AS sinds
                  FROM signals.flags f
                  LEFT JOIN (SELECT flag_key, first_run_seq, first_stand FROM signals.flag_history
                             WHERE resolved_run_seq IS NULL) h ON h.flag_key = {flag_key_sql("f")}"""
    return f"SELECT * FROM ({current}) WHERE status = 'nieuw'" if change == "new" else current


def format_address(
    straat: str | None,
    huisnummer: int | None,
    huisletter: str | None,
    toevoeging: str | None,
    postcode: str | None,
    woonplaats: str | None,
) -> str:
    """The way a Dutch address is written: "Kerkstraat 5A-2, 1234 AB Voorbeeldstad"."""
    number = f"{huisnummer or ''}{huisletter or ''}" + (f"-{toevoeging}" if toevoeging else "")
    street = " ".join(p for p in (straat, number) if p)
    pc = f"{postcode[:4]} {postcode[4:]}" if postcode and len(postcode) == 6 else (postcode or "")
    place = " ".join(p for p in (pc, woonplaats) if p)
    return ", ".join(p for p in (street, place) if p)


TARGET_FORMATS = {
    "address": (
        re.compile(r"^\d{4} ?[A-Za-z]{2}\|\d{1,5}\|[A-Za-z]?\|[A-Za-z0-9]{0,4}$"),
        "postcode|huisnummer|huisletter|toevoeging",
    ),
    "kvk": (re.compile(r"^\d{8}$"), "8 digits"),
    "vestiging": (re.compile(r"^\d{12}$"), "12 digits"),
    "pand": (re.compile(r"^\d{4}10\d{10}$"), "16 digits with 10 at positions 5-6"),
    "street": (re.compile(r"^(\d{16}|[^\x00-\x1f]{1,80})$"), "a street name or openbare-ruimte id"),
}


def _target_problem(target: Target) -> str | None:
    """Why a target cannot be looked up (never repeating its value: it might hold a BSN)."""
    if target.kind not in TARGET_FORMATS:
        return f"unknown target kind; use one of {sorted(TARGET_FORMATS)}"
    pattern, expected = TARGET_FORMATS[target.kind]
    if not pattern.match(target.value.strip()):
        return f"{target.kind} targets must be {expected}"
    if looks_like_bsn(target.value):
        return "the search value looks like a BSN; persons are not looked up by BSN"
    return None


def _view(row: dict[str, Any], role: str) -> FlagView:
    if role == FRONTLINE:
        message = str(row["evidence"].get("message", ""))
        team = message.removeprefix("caution, contact ").strip() or DEFAULT_TEAM
        return FlagView(flag=row["flag"], message=f"Let op: neem contact op met {team}", team=team)
    return FlagView(
        flag=row["flag"],
        message=row["evidence"].get("message") if isinstance(row["evidence"], dict) else None,
        evidence=row["evidence"],
        nummeraanduiding_id=row["nummeraanduiding_id"],
        verblijfsobject_id=row["verblijfsobject_id"],
        pand_id=row["pand_id"],
        openbare_ruimte_id=row["openbare_ruimte_id"],
        x=row["x"],
        y=row["y"],
        reference_date=row.get("reference_date"),
    )


BAG_OBJECT_TYPES = {
    "01": "verblijfsobject",
    "10": "pand",
    "20": "nummeraanduiding",
    "30": "openbare_ruimte",
}
BAG_ID = re.compile(r"^\d{4}(01|10|20|30)\d{10}$")
VESTIGINGSNUMMER = re.compile(r"^\d{12}$")


def _identifiers(value: Any) -> set[str]:
    """Every BAG id (verblijfsobject, pand, nummeraanduiding, openbare ruimte) and vestigingsnummer."""
    if isinstance(value, str):
        return {value} if BAG_ID.match(value) or VESTIGINGSNUMMER.match(value) else set()
    if isinstance(value, dict):
        return set().union(*(_identifiers(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_identifiers(v) for v in value)) if value else set()
    return set()


def _address_like(details: dict[str, Any], num: list[str]) -> bool:
    """Whether a logged hit request was for one address (typed as such, or "straat huisnummer")."""
    if details.get("target_kind") == "address":
        return True
    if details.get("target_kind") != "street":
        return False
    return len(num) <= 1 and split_street_number(str(details.get("target_value", ""))) is not None


def _name_inputs(p: Purpose, names: dict[str, str]) -> dict[str, list[str]]:
    """The columns read to name the ids in a detail answer (for the log's inputs)."""
    if not names:
        return {}
    inputs = {"bag.adres": ["nummeraanduiding_id", "openbare_ruimte_naam", "huisnummer", "postcode"]}
    if "eerste_handelsnaam" in p.sources.get("kvk.vestiging", []):
        inputs["kvk.vestiging"] = ["vestigingsnummer", "eerste_handelsnaam", "nummeraanduiding_id"]
    return inputs


def _pseudonyms(value: Any) -> set[str]:
    """Every pseudonymised person id anywhere in a flag's evidence."""
    if isinstance(value, str):
        return {value} if PSEUDONYM.match(value) else set()
    if isinstance(value, dict):
        return set().union(*(_pseudonyms(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_pseudonyms(v) for v in value)) if value else set()
    return set()


def _objects(target: Target, resolved: _Resolved, betrokkenheid: str) -> list[dict[str, str]]:
    objects = [
        {
            "soortObjectId": OBJECT_KINDS[target.kind],
            "objectId": target.value[:40],
            "betrokkenheid": betrokkenheid,
        }
    ]
    objects += [
        {"soortObjectId": "BAG nummeraanduiding", "objectId": n, "betrokkenheid": betrokkenheid}
        for n in resolved.nummeraanduiding_ids
    ]
    return objects


def _exported(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The places in an export, as log objects: each address (as a lookup's address target), BAG
    nummeraanduiding, and the pand or openbare ruimte of a flag without an address."""
    objects: dict[tuple[str, str], None] = {}
    for r in rows:
        if r.get("postcode") and r.get("huisnummer") is not None:
            letter, addition = r.get("huisletter") or "", r.get("huisnummertoevoeging") or ""
            value = f"{r['postcode']}|{r['huisnummer']}|{letter}|{addition}"
            objects[(OBJECT_KINDS["address"], value)] = None
        for kind, column in (
            ("BAG nummeraanduiding", "nummeraanduiding_id"),
            ("BAG pand", "pand_id"),
            ("BAG openbare ruimte", "openbare_ruimte_id"),
        ):
            if r.get(column) and (column != "pand_id" or not r.get("nummeraanduiding_id")):
                objects[(kind, str(r[column]))] = None
    return [{"soortObjectId": k, "objectId": v, "betrokkenheid": "geëxporteerd"} for k, v in objects]


def _column(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[str]:
    if "IN ()" in sql:
        return []
    return sorted({r[0] for r in con.execute(sql, params).fetchall() if r[0] is not None})


def _marks(values: list[Any]) -> str:
    return ", ".join("?" for _ in values)


__all__ = [
    "Actor",
    "AddressChoice",
    "Building",
    "DetailResult",
    "FlagView",
    "HitResult",
    "Identity",
    "Lookup",
    "LookupRefused",
    "LookupUnavailable",
    "Suggestion",
    "Target",
    "format_address",
]
