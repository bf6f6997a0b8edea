"""The privacy officer's pages: processing log (filters, export), chain status, register, anomalies.

The privacy officer sees who looked up what, when, for which purpose and case, but no personal
data: addresses appear as their BAG id, persons (pseudonyms in the evidence) not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from privacy.exportfiles import csv_bytes
from privacy.log import ACTION_NAMES, LogEntry, ProcessingLog
from privacy.lookup import LookupRefused, Target
from privacy.register import load_register
from web.accounts import ROLES
from web.anomalies import RULE_TITLES, CaseRegistry, HandledAnomalies, Inspection, find_anomalies
from web.app import ctx, error_page, form_of, render, require
from web.batch import parse_lines
from web.events import LABELS
from web.lookups import FLAG_EXPLANATIONS, FLAG_TITLES, UNAVAILABLE, dutch_refusal, local_time
from web.validation import KINDS, InvalidInput, parse_case, parse_target

router = APIRouter()
USER_ID = re.compile(r"^[A-Za-z0-9._@-]{1,40}$")
PAGE_SIZE = 50
ROLE = "privacy_officer"
OUTCOME_LABELS = {
    "treffer": "treffer",
    "geen_treffer": "geen treffer",
    "onbekend": "onbekend (niet in BAG/KvK)",
    "geweigerd": "geweigerd",
    "uitgevoerd": "uitgevoerd",
}


@dataclass(frozen=True)
class LogRow:
    seq: int | None
    when: str
    user: str
    role: str
    action: str
    purpose: str
    case: str
    object: str
    outcome: str  # a key of OUTCOME_LABELS
    reason: str
    request_id: str = ""  # the hit/no-hit request this row belongs to (itself, or the one it details)
    hit_seq: int | None = None  # for a detail request: the row number of its hit

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)


def _object(e: LogEntry) -> str:
    """What was processed, without personal data: BAG ids and business ids, never pseudonyms."""
    kind = e.details.get("target_kind")
    if e.action == "refusal":
        return f"{KINDS.get(kind, kind)} (niet opgezocht)" if kind else ""
    if kind == "address":
        ids = [o["objectId"] for o in e.objects if o.get("soortObjectId") == "BAG nummeraanduiding"]
        return "adres, BAG " + ", ".join(ids) if ids else "adres (niet in de BAG)"
    if kind:
        return f"{KINDS.get(kind, kind).lower()} {e.details.get('target_value', '')}"
    if e.action == "export":
        flags = ", ".join(e.details.get("flags", []))
        fmt = f" als {e.details['format']}" if e.details.get("format") else ""
        return f"lijst van {e.row_counts.get('rows', 0)} gevlagde plaatsen ({flags}){fmt}"
    if e.details.get("request_id"):
        return f"details bij verzoek {e.details['request_id'][:8]}…"
    if e.output:
        return f"tabel {e.output}"
    return ""


def _outcome(e: LogEntry) -> str:
    """Hit, no hit, unknown or refused: what the request answered, not only that it ran."""
    if e.outcome == "geweigerd":
        return "geweigerd"
    if e.action == "hit":
        if "outcome" in e.details:
            return str(e.details["outcome"])
        return "treffer" if e.details.get("hit") else "geen_treffer"
    return e.outcome


def _row(e: LogEntry, hits: dict[str, int]) -> LogRow:
    request_id = e.actie_id if e.action == "hit" else str(e.details.get("request_id", ""))
    return LogRow(
        e.seq,
        local_time(e.tijdstip),
        e.gebruiker,
        ROLES.get(e.role or "", e.role or ""),
        ACTION_NAMES.get(e.action, e.action),
        e.purpose_name or e.purpose or "",
        str(e.details.get("case_number", "")),
        _object(e),
        _outcome(e),
        dutch_refusal(e.reason) if e.reason and e.outcome == "geweigerd" else (e.reason or ""),
        request_id,
        hits.get(request_id) if e.action != "hit" else None,
    )


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


FILTERS = ("van", "tot", "gebruiker", "doel", "zaak", "actie", "adres", "verzoek")


def _address_ids(request: Request, text: str) -> tuple[str, set[str]] | str:
    """The BAG nummeraanduiding ids of an address typed as "1234 AB 12a" or "Kerkstraat 12"."""
    from web.routes_lookup import service

    lines = parse_lines(text)
    target = lines[0].target if lines else None
    if target is None:
        return "Typ het adres als postcode en huisnummer (1234 AB 12a) of als straat en huisnummer."
    try:
        label, ids = service(request).lookup.nummeraanduidingen(Target(target.kind, target.value))
    except (LookupRefused, *UNAVAILABLE):
        return "Dit adres kan niet worden opgezocht in de BAG."
    if not ids:
        return f"{label}: komt niet voor in de BAG."
    return label, set(ids)


def _filtered(request: Request) -> tuple[list[LogRow], dict[str, str], str | None, str]:
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:80] for k in FILTERS}
    error = None
    van, tot = _date(filters["van"]), _date(filters["tot"])
    if (filters["van"] and van is None) or (filters["tot"] and tot is None):
        error = "Gebruik voor de datums het formaat JJJJ-MM-DD."
    ids: set[str] | None = None
    address = ""
    if filters["adres"]:
        try:
            found = _address_ids(request, filters["adres"])
        except InvalidInput as exc:
            found = exc.message
        if isinstance(found, str):
            error, ids = found, set()
        else:
            address, ids = found
    rows = []
    hits: dict[str, int] = {}
    for e in ProcessingLog(ctx(request).settings.warehouse_root).entries(van, tot):
        if e.action == "hit" and e.seq is not None:
            hits[e.actie_id] = e.seq
        if filters["gebruiker"] and e.gebruiker != filters["gebruiker"]:
            continue
        if filters["doel"] and e.purpose != filters["doel"]:
            continue
        if filters["zaak"] and str(e.details.get("case_number", "")) != filters["zaak"]:
            continue
        if filters["actie"] and e.action != filters["actie"]:
            continue
        if filters["verzoek"] and filters["verzoek"] not in (e.actie_id, e.details.get("request_id")):
            continue
        if ids is not None and not ids & {o.get("objectId") for o in e.objects}:
            continue
        rows.append(_row(e, hits))
    rows.reverse()
    return rows, filters, error, address


@router.get("/privacy/log")
async def log_page(request: Request) -> Response:
    require(request, ROLE)
    rows, filters, error, address = _filtered(request)
    status = ProcessingLog(ctx(request).settings.warehouse_root).verify()
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    try:
        page = min(max(1, int(request.query_params.get("pagina", "1"))), pages)
    except ValueError:
        page = 1
    query = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
    return render(
        request,
        "privacy_log.html",
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(rows),
        page=page,
        pages=pages,
        filters=filters,
        address=address,
        error=error,
        error_field="adres" if error and filters["adres"] else ("van" if error else None),
        status=status,
        actions=ACTION_NAMES,
        purposes=load_register().purposes.values(),
        query=query,
    )


@router.get("/privacy/log/export")
async def log_export(request: Request) -> Response:
    session = require(request, ROLE)
    fmt = request.query_params.get("formaat", "csv")
    rows, filters, _, _ = _filtered(request)
    ctx(request).events.record("log_export", session.user_id, fmt)
    stamp = dt.date.today().isoformat()
    if fmt == "vng":
        body = ProcessingLog(ctx(request).settings.warehouse_root).export_vng(
            _date(filters["van"]), _date(filters["tot"])
        )
        for result in body["results"]:  # no pseudonymised persons for the privacy officer
            result["verwerkteObjecten"] = [
                o for o in result["verwerkteObjecten"] if "pseudoniem" not in o.get("soortObjectId", "")
            ]
        return Response(
            json.dumps(body, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="verwerkingslog-vng-{stamp}.json"'},
        )
    header = [
        "Regel",
        "Tijdstip (Amsterdam)",
        "Gebruiker",
        "Rol",
        "Actie",
        "Doel",
        "Zaak",
        "Object",
        "Uitkomst",
        "Reden",
        "Verzoek",
        "uitkomst_code",
    ]
    fields = [
        (
            r.seq,
            r.when,
            r.user,
            r.role,
            r.action,
            r.purpose,
            r.case,
            r.object,
            r.outcome_label,
            r.reason,
            r.request_id,
            r.outcome,
        )
        for r in rows
    ]
    return Response(
        csv_bytes(header, fields),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="verwerkingslog-{stamp}.csv"'},
    )


@router.get("/privacy/register")
async def register_page(request: Request) -> Response:
    require(request, ROLE)
    register = load_register()
    return render(
        request,
        "privacy_register.html",
        register=register,
        today=dt.date.today(),
        flag_titles=FLAG_TITLES,
        roles=ROLES,
    )


@router.get("/privacy/signaal/{code}")
async def flag_page(request: Request, code: str) -> Response:
    """One flag: its sources and columns, the purposes that may show it and their basis, who saw it."""
    require(request, ROLE)
    from web.routes_lookup import service

    code = code[:60]
    register = load_register()
    purposes = [p for p in register.purposes.values() if code in p.flags]
    if code not in FLAG_TITLES and not purposes:
        return error_page(request, 404, "Onbekend signaal", "Dit signaal bestaat niet.")
    lineage = service(request).flag_lineage({code}).get(code)
    seen = []
    hits: dict[str, int] = {}
    for e in ProcessingLog(ctx(request).settings.warehouse_root).entries():
        if e.action == "hit" and e.seq is not None:
            hits[e.actie_id] = e.seq
        if e.action in ("detail", "export") and code in e.details.get("flags", []):
            seen.append(_row(e, hits))
    seen.reverse()
    return render(
        request,
        "privacy_signaal.html",
        code=code,
        title=FLAG_TITLES.get(code, code),
        explanation=FLAG_EXPLANATIONS.get(code, ""),
        purposes=purposes,
        lineage=lineage,
        computed=local_time(lineage.when) if lineage else "",
        seen=seen[:PAGE_SIZE],
        roles=ROLES,
        seen_total=len(seen),
    )


@router.get("/privacy/afwijkingen")
async def anomalies_page(request: Request) -> Response:
    require(request, ROLE)
    return _anomalies(request)


def _anomalies(request: Request, status_code: int = 200, **extra) -> Response:
    root = ctx(request).settings.warehouse_root
    try:
        days = max(1, min(int(request.query_params.get("dagen", "14")), 365))
    except ValueError:
        days = 14
    cases = CaseRegistry(root).load()
    found = find_anomalies(ProcessingLog(root).entries(), cases, days)
    return render(
        request,
        "privacy_afwijkingen.html",
        status_code=status_code,
        anomalies=found,
        handled=HandledAnomalies(root).load(),
        titles=RULE_TITLES,
        days=days,
        cases=cases,
        local_time=local_time,
        **extra,
    )


@router.post("/privacy/afwijkingen/afgehandeld")
async def anomaly_handled(request: Request) -> Response:
    """Mark an anomaly handled with a note; recorded with who and when, and as a security event."""
    session = require(request, ROLE)
    form = await form_of(request)
    rule, actie_id = form.get("regel", "")[:40], form.get("verzoek", "")[:64]
    note = " ".join(form.get("toelichting", "").split())[:500]
    if rule not in RULE_TITLES or not actie_id:
        return _anomalies(request, 400, error="Deze afwijking bestaat niet (meer).")
    if not note:
        return _anomalies(
            request, 400, error="Schrijf kort op wat u heeft nagegaan.", error_row=f"{rule}-{actie_id}"
        )
    HandledAnomalies(ctx(request).settings.warehouse_root).mark(rule, actie_id, session.user_id or "", note)
    ctx(request).events.record("anomaly_handled", session.user_id, f"{rule} verzoek {actie_id[:8]}")
    session.flash.append("De afwijking is gemarkeerd als afgehandeld.")
    return RedirectResponse("/privacy/afwijkingen", status_code=303)


def _cases_page(request: Request, status_code: int = 200, **extra) -> Response:
    cases = CaseRegistry(ctx(request).settings.warehouse_root).load()
    return render(
        request,
        "privacy_zaken.html",
        status_code=status_code,
        cases=sorted(cases.values(), key=lambda c: c.number),
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/privacy/zaken")
async def cases_page(request: Request) -> Response:
    require(request, ROLE)
    return _cases_page(request)


@router.post("/privacy/zaken")
async def case_save(request: Request) -> Response:
    """Add a case, or add members and a planned inspection to one (as ``knooppunt cases add``)."""
    session = require(request, ROLE)
    form = await form_of(request)
    try:
        number = parse_case(form)
        if not number:
            raise InvalidInput("zaak", "Vul het zaaknummer in.")
        members = [m for m in (x.strip() for x in form.get("leden", "").split(",")) if m]
        if any(not USER_ID.match(m) for m in members):
            raise InvalidInput("leden", "Geef de leden als gebruikersnamen, gescheiden door komma's.")
        inspection = None
        if form.get("postcode") or form.get("datum"):
            target = parse_target({**form, "soort": "address"})
            try:
                on = dt.date.fromisoformat(form.get("datum", ""))
            except ValueError:
                raise InvalidInput("datum", "Vul de datum van de inspectie in (JJJJ-MM-DD).") from None
            inspection = Inspection(target.value, on)
    except InvalidInput as exc:
        return _cases_page(request, 400, error=exc.message, error_field=exc.field, form=form)
    CaseRegistry(ctx(request).settings.warehouse_root).upsert(number, members, inspection)
    ctx(request).events.record("case_changed", session.user_id, f"zaak {number}")
    session.flash.append(f"Zaak {number} is opgeslagen.")
    return RedirectResponse("/privacy/zaken", status_code=303)


@router.get("/privacy/beveiliging")
async def security_page(request: Request) -> Response:
    require(request, ROLE)
    return render(request, "privacy_beveiliging.html", events=ctx(request).events.recent(), labels=LABELS)
