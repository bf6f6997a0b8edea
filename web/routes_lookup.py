"""Lookups: search form, hit/no-hit/unknown answer, details as a second logged request, a list of
addresses for one case, the front line's one-step check, and the case export.

Every request that reads data is a POST with a CSRF token; nothing about the target ever appears
in a URL. Answers follow post/redirect/get: the POST does (and logs) the lookup, keeps the answer
with the session and redirects to ``/antwoord/<id>`` (an opaque request id), so reloading or going
back never repeats a logged request. The chosen purpose and case number stay with the session
until the officer changes them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from web import case_export
from web.app import ctx, form_of, render, require
from web.batch import MAX_LINES, parse_lines
from web.lookups import UNKNOWN_MESSAGE, LookupService
from web.security import Session
from web.teams import phone_of
from web.validation import KINDS, InvalidInput, parse_case, parse_purpose, parse_target

router = APIRouter()
SEARCH_ROLES = ("bibob_officer", "analyst", "frontline")
EXPORT_ROLES = ("bibob_officer", "analyst")
FORMATS = {
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}
KEPT_ANSWERS = 30  # answers kept per session for post/redirect/get
KEPT_SESSIONS = 500
NO_SIGNAL = "Geen signaal bekend — dit zegt niets over veiligheid"
RATE_MESSAGE = "U heeft te veel raadplegingen achter elkaar gedaan. Wacht een minuut en probeer het opnieuw."


@dataclass
class OfficerState:
    """What the session remembers: the chosen purpose and case, and the last answers."""

    purpose: str = ""
    case: str = ""
    answers: OrderedDict[str, tuple[str, dict[str, Any]]] = field(default_factory=OrderedDict)


_states_lock = threading.Lock()


def _state(request: Request, session: Session) -> OfficerState:
    app_state = request.app.state
    with _states_lock:
        if not hasattr(app_state, "officer_states"):
            app_state.officer_states = OrderedDict()
        states: OrderedDict[str, OfficerState] = app_state.officer_states
        key = session.session_id
        if key not in states:
            states[key] = OfficerState()
            while len(states) > KEPT_SESSIONS:
                states.popitem(last=False)
        return states[key]


def _answer(request: Request, session: Session, key: str, template: str, **context) -> Response:
    """Keep an answer with the session and redirect to it (post/redirect/get)."""
    answers = _state(request, session).answers
    answers[key] = (template, context)
    while len(answers) > KEPT_ANSWERS:
        answers.popitem(last=False)
    return RedirectResponse(f"/antwoord/{key}", status_code=303)


def service(request: Request) -> LookupService:
    app_state = request.app.state
    if not hasattr(app_state, "lookups"):
        app_state.lookups = LookupService(ctx(request).settings.warehouse_root)
    return app_state.lookups


def _purposes(request: Request, session: Session):
    return service(request).purposes_for(session.role or "")


def _search_page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    kinds = {"address": KINDS["address"]} if session.role == "frontline" else KINDS
    state = _state(request, session)
    form = extra.pop("form", None) or {"doel": state.purpose, "zaak": state.case}
    purposes = _purposes(request, session)
    return render(
        request,
        "zoeken.html",
        status_code=status_code,
        purposes=purposes,
        case_optional=_case_optional(purposes),
        kinds=kinds,
        form=form,
        **extra,
    )


def _case_optional(purposes) -> bool:
    return bool(purposes) and all(not p.case_number_required for p in purposes)


def _rate_limited(request: Request, session: Session) -> bool:
    c = ctx(request)
    if c.lookup_limiter.allow(session.user_id or ""):
        return False
    c.events.record("rate_limited", session.user_id, request.url.path)
    return True


def _purpose_of(request: Request, session: Session, form: dict[str, str]) -> str:
    """The purpose chosen, or the only one the role has (the front line's is implied)."""
    purpose = parse_purpose(form)
    purposes = _purposes(request, session)
    if not purpose and len(purposes) == 1:
        return purposes[0].key
    return purpose


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
        purpose = _purpose_of(request, session, form)
    except InvalidInput as exc:
        ctx(request).events.record("invalid_input", session.user_id, f"veld {exc.field}")
        return _search_page(request, session, 400, error=exc.message, error_field=exc.field, form=form)
    state = _state(request, session)
    state.purpose, state.case = purpose, case
    if _rate_limited(request, session):
        return _search_page(request, session, 429, error=RATE_MESSAGE, form=form)
    svc = service(request)
    if target.kind == "address":
        postcode, huisnummer, huisletter, toevoeging = target.value.split("|")
        choices = await run_in_threadpool(svc.address_choices, postcode, int(huisnummer))
        exact = any(c.huisletter == huisletter and c.toevoeging == toevoeging for c in choices)
        if choices and not exact:
            return _search_page(request, session, choices=choices, form=form, choose=True)
    user, role = session.user_id or "", session.role or ""
    outcome = await run_in_threadpool(svc.hit, user, role, purpose, case, target)
    if outcome.refused:
        return _search_page(
            request, session, 403, error=outcome.refused, form=form, refused=True, error_field="doel"
        )
    p = next((p for p in _purposes(request, session) if p.key == purpose), None)
    if role == "frontline":
        return await _frontline_answer(request, session, svc, outcome, p, case)
    return _answer(
        request,
        session,
        outcome.request_id,
        "resultaat.html",
        outcome=outcome,
        purpose=p,
        case=case,
        unknown_message=UNKNOWN_MESSAGE,
    )


async def _frontline_answer(request, session, svc, outcome, purpose, case) -> Response:
    """The front line's one step: the warning with whom to call, or that no signal is known."""
    warnings = []
    if outcome.hit:
        detail = await run_in_threadpool(
            svc.detail, session.user_id or "", session.role or "", outcome.request_id
        )
        if detail.refused:
            return _search_page(request, session, 403, error=detail.refused, refused=True)
        for flag in detail.result.flags:
            team = flag.team or ""
            warnings.append((flag.message, team, phone_of(team) if team else None))
    return _answer(
        request,
        session,
        outcome.request_id,
        "veiligheid.html",
        outcome=outcome,
        warnings=warnings,
        purpose=purpose,
        case=case,
        unknown_message=UNKNOWN_MESSAGE,
        no_signal=NO_SIGNAL,
    )


@router.get("/antwoord/{key}")
async def answer(request: Request, key: str) -> Response:
    session = require(request, *SEARCH_ROLES)
    kept = _state(request, session).answers.get(key[:80])
    if kept is None:
        return _search_page(
            request,
            session,
            404,
            error="Dit antwoord is niet meer beschikbaar (of hoort bij een andere sessie). Zoek opnieuw.",
        )
    template, context = kept
    return render(request, template, **context)


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
    return _answer(
        request,
        session,
        f"{request_id}-details",
        "details.html",
        outcome=outcome,
        result=outcome.result,
        kaart=await run_in_threadpool(svc.map_for, outcome),
        achtergrond=ctx(request).settings.map_background,
        purpose=next((p for p in _purposes(request, session) if p.key == outcome.result.purpose), None),
    )


# -- a list of addresses for one case ----------------------------------------------------------------
def _list_page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    state = _state(request, session)
    form = extra.pop("form", None) or {"doel": state.purpose, "zaak": state.case}
    return render(
        request,
        "lijst.html",
        status_code=status_code,
        purposes=[p for p in _purposes(request, session) if p.flags],
        case_optional=False,
        form=form,
        max_lines=MAX_LINES,
        **extra,
    )


@router.get("/zoeken/lijst")
async def list_form(request: Request) -> Response:
    session = require(request, *EXPORT_ROLES)
    return _list_page(request, session)


@router.post("/zoeken/lijst")
async def list_check(request: Request) -> Response:
    """Each line is its own logged hit/no-hit request; the list counts once against the rate limit."""
    session = require(request, *EXPORT_ROLES)
    form = await form_of(request)
    try:
        case = parse_case(form)
        purpose = _purpose_of(request, session, form)
        lines = parse_lines(form.get("lijst", ""))
    except InvalidInput as exc:
        ctx(request).events.record("invalid_input", session.user_id, f"veld {exc.field}")
        return _list_page(request, session, 400, error=exc.message, error_field=exc.field, form=form)
    state = _state(request, session)
    state.purpose, state.case = purpose, case
    if _rate_limited(request, session):
        return _list_page(request, session, 429, error=RATE_MESSAGE, form=form)
    svc = service(request)
    user, role = session.user_id or "", session.role or ""
    results = []
    for line in lines:
        if line.target is None:
            results.append((line, None))
            continue
        outcome = await run_in_threadpool(svc.hit, user, role, purpose, case, line.target)
        if outcome.refused and not results:  # the purpose or case is refused: stop at the first line
            return _list_page(
                request, session, 403, error=outcome.refused, refused=True, form=form, error_field="doel"
            )
        results.append((line, outcome))
    counts = {k: sum(1 for _, o in results if o and not o.refused and o.outcome == k) for k in OUTCOMES}
    return _answer(
        request,
        session,
        f"lijst-{results[0][1].request_id if results[0][1] else dt.datetime.now().timestamp()}",
        "lijst_resultaat.html",
        results=results,
        counts=counts,
        purpose=next((p for p in _purposes(request, session) if p.key == purpose), None),
        case=case,
    )


OUTCOMES = ("treffer", "geen_treffer", "onbekend")


# -- the case export -------------------------------------------------------------------------------
def _export_page(request: Request, session: Session, status_code: int = 200, **extra) -> Response:
    purposes = [p for p in _purposes(request, session) if p.flags]
    state = _state(request, session)
    form = extra.pop("form", None) or {"doel": state.purpose, "zaak": state.case}
    return render(
        request,
        "export.html",
        status_code=status_code,
        purposes=purposes,
        case_optional=False,
        form=form,
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
        return _export_page(request, session, 400, error=exc.message, error_field=exc.field, form=form)
    if _rate_limited(request, session):
        return _export_page(request, session, 429, error=RATE_MESSAGE, form=form)
    rows, refused = await run_in_threadpool(
        service(request).case_export, session.user_id or "", session.role or "", purpose, case, fmt
    )
    if refused:
        return _export_page(request, session, 403, error=refused, form=form, error_field="doel")
    media_type, ext = FORMATS[fmt]
    writer = case_export.to_geopackage if fmt == "gpkg" else case_export.to_csv
    body = await run_in_threadpool(writer, rows)
    safe_case = "".join(c if c.isalnum() or c in "-_" else "_" for c in case)
    name = f"knooppunt-zaak-{safe_case}-{dt.date.today().isoformat()}.{ext}"
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
