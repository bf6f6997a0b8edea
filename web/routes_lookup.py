"""Lookups: search form, hit/no-hit answer, details as a second logged request, and exports.

Every request that reads data is a POST with a CSRF token; nothing about the target ever appears
in a URL. The details are fetched with the opaque request id of the hit/no-hit answer.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from privacy.exportfiles import to_csv, to_geopackage
from web.app import ctx, form_of, render, require
from web.lookups import UNKNOWN_MESSAGE, LookupService
from web.security import Session
from web.validation import KINDS, InvalidInput, parse_case, parse_purpose, parse_target

router = APIRouter()
SEARCH_ROLES = ("bibob_officer", "analyst", "frontline")
EXPORT_ROLES = ("bibob_officer", "analyst")
FORMATS = {
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}


def service(request: Request) -> LookupService:
    app_state = request.app.state
    if not hasattr(app_state, "lookups"):
        app_state.lookups = LookupService(ctx(request).settings.warehouse_root)
    return app_state.lookups


def _search_page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    kinds = {"address": KINDS["address"]} if session.role == "frontline" else KINDS
    return render(
        request,
        "zoeken.html",
        status_code=status_code,
        purposes=service(request).purposes_for(session.role or ""),
        kinds=kinds,
        form=extra.pop("form", {}),
        **extra,
    )


def _rate_limited(request: Request, session: Session) -> bool:
    c = ctx(request)
    if c.lookup_limiter.allow(session.user_id or ""):
        return False
    c.events.record("rate_limited", session.user_id, request.url.path)
    return True


RATE_MESSAGE = "U heeft te veel raadplegingen achter elkaar gedaan. Wacht een minuut en probeer het opnieuw."


@router.get("/zoeken")
async def search_form(request: Request) -> Response:
    session = require(request, *SEARCH_ROLES)
    return _search_page(request, session)


@router.post("/zoeken")
async def search(request: Request) -> Response:
    session = require(request, *SEARCH_ROLES)
    form = await form_of(request)
    if session.role == "frontline":
        form["soort"] = "address"
    try:
        target = parse_target(form)
        case = parse_case(form)
        purpose = parse_purpose(form)
    except InvalidInput as exc:
        ctx(request).events.record("invalid_input", session.user_id, f"veld {exc.field}")
        return _search_page(request, session, 400, error=exc.message, error_field=exc.field, form=form)
    if _rate_limited(request, session):
        return _search_page(request, session, 429, error=RATE_MESSAGE, form=form)
    svc = service(request)
    if target.kind == "address":
        postcode, huisnummer, huisletter, toevoeging = target.value.split("|")
        choices = await run_in_threadpool(svc.address_choices, postcode, int(huisnummer))
        exact = any(c.huisletter == huisletter and c.toevoeging == toevoeging for c in choices)
        if choices and not exact:
            return _search_page(request, session, choices=choices, form=form, choose=True)
    outcome = await run_in_threadpool(
        svc.hit, session.user_id or "", session.role or "", purpose, case, target
    )
    if outcome.refused:
        return _search_page(request, session, 403, error=outcome.refused, form=form, refused=True)
    return render(
        request,
        "resultaat.html",
        outcome=outcome,
        target=target,
        purpose=next((p for p in svc.purposes_for(session.role or "") if p.key == purpose), None),
        case=case,
        unknown_message=UNKNOWN_MESSAGE,
    )


@router.post("/details")
async def details(request: Request) -> Response:
    session = require(request, *SEARCH_ROLES)
    form = await form_of(request)
    request_id = (form.get("verzoek") or "").strip()[:64]
    if _rate_limited(request, session):
        return _search_page(request, session, 429, error=RATE_MESSAGE)
    svc = service(request)
    outcome = await run_in_threadpool(svc.detail, session.user_id or "", session.role or "", request_id)
    if outcome.refused:
        return _search_page(request, session, 403, error=outcome.refused, refused=True)
    return render(
        request,
        "details.html",
        outcome=outcome,
        result=outcome.result,
        kaart=await run_in_threadpool(svc.map_for, outcome),
        achtergrond=ctx(request).settings.map_background,
        purpose=next(
            (p for p in svc.purposes_for(session.role or "") if p.key == outcome.result.purpose), None
        ),
    )


def _export_page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    purposes = [p for p in service(request).purposes_for(session.role or "") if p.flags]
    return render(
        request,
        "export.html",
        status_code=status_code,
        purposes=purposes,
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/export")
async def export_form(request: Request) -> Response:
    session = require(request, *EXPORT_ROLES)
    return _export_page(request, session)


@router.post("/export")
async def export(request: Request) -> Response:
    session = require(request, *EXPORT_ROLES)
    form = await form_of(request)
    fmt = form.get("formaat", "")
    try:
        case = parse_case(form)
        purpose = parse_purpose(form)
        if fmt not in FORMATS:
            raise InvalidInput("formaat", "Kies een formaat: GeoPackage of CSV.")
    except InvalidInput as exc:
        ctx(request).events.record("invalid_input", session.user_id, f"veld {exc.field}")
        return _export_page(request, session, 400, error=exc.message, form=form)
    if _rate_limited(request, session):
        return _export_page(request, session, 429, error=RATE_MESSAGE, form=form)
    rows, refused = await run_in_threadpool(
        service(request).export, session.user_id or "", session.role or "", purpose, case
    )
    if refused:
        return _export_page(request, session, 403, error=refused, form=form)
    media_type, ext = FORMATS[fmt]
    body = await run_in_threadpool(to_geopackage if fmt == "gpkg" else to_csv, rows)
    name = f"knooppunt-{purpose}-{dt.date.today().isoformat()}.{ext}"
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
