"""The analysts' overview of flags (``/signalen``) and triage decisions.

Every request that reads data is a POST with a CSRF token, under a purpose and a case number, and
goes through ``privacy.overview`` (logged); aggregated-only purposes see counts, never rows. A
triage decision is a POST too, logged by ``privacy.triage``, after which the overview is shown
again with the same filters.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from privacy.basemap import BaseMap
from web.analyse import KINDS, PARTNERS, STATUSES, AnalyseService, parse_filters
from web.app import ctx, form_of, render, require
from web.kaart import from_rows, map_data
from web.lookups import FLAG_TITLES, UNAVAILABLE
from web.routes_lookup import service as lookup_service
from web.security import Session
from web.trends import BRANCHE, GROUPS, branche, chart, compare, to_csv
from web.validation import InvalidInput, parse_case, parse_purpose

router = APIRouter()
ANALYSE_ROLES = ("analyst", "bibob_officer")
MAP_ROWS = 2000  # flags drawn on the map at most (the table shows 500, the counts cover all)


def basemap(request: Request) -> BaseMap:
    state = request.app.state
    if not hasattr(state, "basemap"):
        state.basemap = BaseMap(lookup_service(request).lookup)
    return state.basemap


def service(request: Request) -> AnalyseService:
    state = request.app.state
    if not hasattr(state, "analyse"):
        state.analyse = AnalyseService(lookup_service(request).lookup)
    return state.analyse


def _page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    purposes = [
        p
        for p in lookup_service(request).purposes_for(session.role or "", lookups=False)
        if p.flags or p.aggregated_only
    ]
    return render(
        request,
        "signalen.html",
        status_code=status_code,
        purposes=purposes,
        form=extra.pop("form", {}),
        flag_titles=FLAG_TITLES,
        statuses=STATUSES,
        kinds=KINDS,
        partners=PARTNERS,
        **extra,
    )


@router.get("/signalen")
async def overview_form(request: Request) -> Response:
    session = require(request, *ANALYSE_ROLES)
    return _page(request, session)


async def _overview(request: Request, session: Session, form: dict[str, str], **extra) -> Response:
    try:
        purpose = parse_purpose(form)
        filters = parse_filters(form)
        aggregated = any(
            p.key == purpose and p.aggregated_only
            for p in lookup_service(request).register().purposes.values()
        )
        case = "" if aggregated else parse_case(form)
    except InvalidInput as exc:
        ctx(request).events.record("invalid_input", session.user_id, f"veld {exc.field}")
        return _page(request, session, 400, error=exc.message, form=form)
    svc = service(request)
    user, role = session.user_id or "", session.role or ""
    if aggregated:
        outcome = await run_in_threadpool(svc.counts, user, role, purpose)
    else:
        outcome = await run_in_threadpool(svc.rows, user, role, purpose, case, filters)
    if outcome.refused:
        return _page(request, session, 403, error=outcome.refused, form=form, **extra)
    kaart = None
    if outcome.result is not None:
        extent = await run_in_threadpool(basemap(request).extent)
        kaart = map_data(from_rows(outcome.result.rows[:MAP_ROWS]), extent)
    return _page(
        request,
        session,
        form=form,
        result=outcome.result,
        counts=outcome.counts,
        kaart=kaart,
        achtergrond=ctx(request).settings.map_background,
        **extra,
    )


@router.post("/signalen")
async def overview(request: Request) -> Response:
    session = require(request, *ANALYSE_ROLES)
    form = await form_of(request)
    return await _overview(request, session, form)


@router.post("/signalen/besluit")
async def decide(request: Request) -> Response:
    session = require(request, *ANALYSE_ROLES)
    form = await form_of(request)
    try:
        purpose, case = parse_purpose(form), parse_case(form)
    except InvalidInput as exc:
        return _page(request, session, 400, error=exc.message, form=form)
    refused = await run_in_threadpool(
        service(request).decide, session.user_id or "", session.role or "", purpose, case, form
    )
    if refused:
        return await _overview(request, session, form, triage_error=refused)
    return await _overview(request, session, form, triage_done=True)


@router.get("/kaart/basis")
async def base_layer(request: Request, bbox: str = "", zoom: int = 16) -> Response:
    """Pand outlines, street names and house numbers in ``bbox`` (WGS84 west,south,east,north)."""
    require(request, *ANALYSE_ROLES)
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        return JSONResponse({"fout": "bbox: west,zuid,oost,noord (WGS84)"}, status_code=400)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90) or (east - west) * (north - south) > 1:
        return JSONResponse({"fout": "bbox buiten bereik of groter dan 1 vierkante graad"}, status_code=400)
    try:
        features = await run_in_threadpool(basemap(request).features, west, south, east, north, zoom)
    except UNAVAILABLE:
        return JSONResponse({"type": "FeatureCollection", "features": []})
    return JSONResponse(features)


def _trend_page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    purposes = [
        p
        for p in lookup_service(request).purposes_for(session.role or "", lookups=False)
        if p.flags or p.aggregated_only
    ]
    for name in ("trend", "comparison", "grafiek", "branche"):
        extra.setdefault(name, None)
    return render(
        request,
        "trends.html",
        status_code=status_code,
        purposes=purposes,
        groups=GROUPS,
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/trends")
async def trends_form(request: Request) -> Response:
    session = require(request, *ANALYSE_ROLES)
    return _trend_page(request, session)


async def _trend(request: Request, session: Session, form: dict[str, str]):
    """The trend and the comparison asked for in ``form``, or a page with the refusal."""
    try:
        purpose = parse_purpose(form)
        register = lookup_service(request).register()
        aggregated = bool(register.get(purpose) and register.get(purpose).aggregated_only)
        case = "" if aggregated else parse_case(form)
        group = form.get("groep") or "flag"
        if group not in GROUPS:
            raise InvalidInput("groep", "Kies waarop u wilt vergelijken.")
    except InvalidInput as exc:
        return None, _trend_page(request, session, 400, error=exc.message, form=form)
    outcome = await run_in_threadpool(
        service(request).trend, session.user_id or "", session.role or "", purpose, case
    )
    if outcome.refused:
        return None, _trend_page(request, session, 403, error=outcome.refused, form=form)
    trend = outcome.trend
    runs = [r for r, _ in trend.runs]
    if not runs:
        return None, _trend_page(
            request, session, error="Er is nog geen run met signalenhistorie.", form=form
        )

    def run(name: str, default: int) -> int:
        value = form.get(name, "")
        return int(value) if value.isdigit() and int(value) in runs else default

    comparison = compare(trend, run("run_a", runs[0]), run("run_b", runs[-1]), group)
    return (trend, comparison, aggregated), None


@router.post("/trends")
async def trends(request: Request) -> Response:
    session = require(request, *ANALYSE_ROLES)
    form = await form_of(request)
    found, page = await _trend(request, session, form)
    if page is not None:
        return page
    trend, comparison, aggregated = found
    grafiek = await run_in_threadpool(chart, trend, comparison.run_a, comparison.run_b)
    branche_rows = None
    if aggregated and trend.purpose == BRANCHE:
        root = ctx(request).settings.warehouse_root
        branche_rows = await run_in_threadpool(branche, root, session.user_id or "", session.role or "")
    return _trend_page(
        request, session, form=form, trend=trend, comparison=comparison, grafiek=grafiek, branche=branche_rows
    )


@router.post("/trends/csv")
async def trends_csv(request: Request) -> Response:
    session = require(request, *ANALYSE_ROLES)
    form = await form_of(request)
    found, page = await _trend(request, session, form)
    if page is not None:
        return page
    _, comparison, _ = found
    name = f"knooppunt-trend-{comparison.group}-run{comparison.run_a}-run{comparison.run_b}.csv"
    return Response(
        to_csv(comparison),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
