"""The privacy officer's pages: processing log (filters, export), chain status, register, anomalies.

The privacy officer sees who looked up what, when, for which purpose and case, but no personal
data: addresses appear as their BAG id, persons (pseudonyms in the evidence) not at all.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from privacy.exportfiles import csv_bytes
from privacy.log import ACTION_NAMES, LogEntry, ProcessingLog
from privacy.register import load_register
from web.accounts import ROLES
from web.anomalies import RULE_TITLES, CaseRegistry, find_anomalies
from web.app import ctx, render, require
from web.events import LABELS
from web.lookups import dutch_refusal
from web.validation import KINDS

router = APIRouter()
PAGE_SIZE = 200
ROLE = "privacy_officer"


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
    outcome: str
    reason: str


def _object(e: LogEntry) -> str:
    """What was processed, without personal data: BAG ids and business ids, never pseudonyms."""
    kind = e.details.get("target_kind")
    if e.action == "refusal":
        return f"{KINDS.get(kind, kind)} (niet opgezocht)" if kind else ""
    if kind == "address":
        ids = [o["objectId"] for o in e.objects if o.get("soortObjectId") == "BAG nummeraanduiding"]
        return "adres, BAG " + ", ".join(ids) if ids else "adres (niet in de BAG)"
    if kind:
        return f"{kind} {e.details.get('target_value', '')}"
    if e.action == "export":
        flags = ", ".join(e.details.get("flags", []))
        return f"lijst van {e.row_counts.get('rows', 0)} gevlagde plaatsen ({flags})"
    if e.details.get("request_id"):
        return f"details bij verzoek {e.details['request_id'][:8]}…"
    if e.output:
        return f"tabel {e.output}"
    return ""


def _row(e: LogEntry) -> LogRow:
    return LogRow(
        e.seq,
        e.tijdstip[:19].replace("T", " "),
        e.gebruiker,
        ROLES.get(e.role or "", e.role or ""),
        ACTION_NAMES.get(e.action, e.action),
        e.purpose_name or e.purpose or "",
        str(e.details.get("case_number", "")),
        _object(e),
        e.outcome,
        dutch_refusal(e.reason) if e.reason and e.outcome == "geweigerd" else (e.reason or ""),
    )


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filtered(request: Request) -> tuple[list[LogRow], dict[str, str], str | None]:
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:60] for k in ("van", "tot", "gebruiker", "doel", "zaak", "actie")}
    error = None
    van, tot = _date(filters["van"]), _date(filters["tot"])
    if (filters["van"] and van is None) or (filters["tot"] and tot is None):
        error = "Gebruik voor de datums het formaat JJJJ-MM-DD."
    rows = []
    for e in ProcessingLog(ctx(request).settings.warehouse_root).entries(van, tot):
        if filters["gebruiker"] and e.gebruiker != filters["gebruiker"]:
            continue
        if filters["doel"] and e.purpose != filters["doel"]:
            continue
        if filters["zaak"] and str(e.details.get("case_number", "")) != filters["zaak"]:
            continue
        if filters["actie"] and e.action != filters["actie"]:
            continue
        rows.append(_row(e))
    rows.reverse()
    return rows, filters, error


@router.get("/privacy/log")
async def log_page(request: Request) -> Response:
    require(request, ROLE)
    rows, filters, error = _filtered(request)
    status = ProcessingLog(ctx(request).settings.warehouse_root).verify()
    return render(
        request,
        "privacy_log.html",
        rows=rows[:PAGE_SIZE],
        total=len(rows),
        filters=filters,
        error=error,
        status=status,
        actions=ACTION_NAMES,
        purposes=load_register().purposes.values(),
        query=request.url.query,
    )


@router.get("/privacy/log/export")
async def log_export(request: Request) -> Response:
    session = require(request, ROLE)
    fmt = request.query_params.get("formaat", "csv")
    rows, filters, _ = _filtered(request)
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
    header = ["seq", "tijdstip", "gebruiker", "rol", "actie", "doel", "zaak", "object", "uitkomst", "reden"]
    fields = [
        (r.seq, r.when, r.user, r.role, r.action, r.purpose, r.case, r.object, r.outcome, r.reason)
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
    return render(request, "privacy_register.html", register=register, today=dt.date.today())


@router.get("/privacy/afwijkingen")
async def anomalies_page(request: Request) -> Response:
    require(request, ROLE)
    root = ctx(request).settings.warehouse_root
    try:
        days = max(1, min(int(request.query_params.get("dagen", "14")), 365))
    except ValueError:
        days = 14
    cases = CaseRegistry(root).load()
    found = find_anomalies(ProcessingLog(root).entries(), cases, days)
    return render(
        request, "privacy_afwijkingen.html", anomalies=found, titles=RULE_TITLES, days=days, cases=cases
    )


@router.get("/privacy/beveiliging")
async def security_page(request: Request) -> Response:
    require(request, ROLE)
    return render(request, "privacy_beveiliging.html", events=ctx(request).events.recent(), labels=LABELS)
