"""Sign-in with a local account or through the municipality's identity provider, sign-out, and
the change of a one-time password at first sign-in."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from web.accounts import USER_ID, AccountError
from web.app import NotSignedIn, ctx, error_page, form_of, render, session_of
from web.oidc import OIDCError

router = APIRouter()

HOME = {
    "bibob_officer": "/zoeken",
    "analyst": "/zoeken",
    "frontline": "/zoeken",
    "privacy_officer": "/privacy/log",
    "admin": "/beheer",
}


@router.get("/")
async def home(request: Request) -> Response:
    session = session_of(request)
    if session.authenticated:
        return RedirectResponse(HOME.get(session.role or "", "/aanmelden"), status_code=303)
    return RedirectResponse("/aanmelden", status_code=303)


@router.get("/aanmelden")
async def login_form(request: Request) -> Response:
    c = ctx(request)
    return render(
        request,
        "aanmelden.html",
        local_accounts=c.settings.local_accounts,
        oidc=c.oidc is not None,
        expired=request.state.session_expired,
    )


@router.post("/aanmelden")
async def login(request: Request) -> Response:
    c = ctx(request)
    form = await form_of(request)
    user_id = form.get("gebruiker", "").strip().lower()[:40]
    password = form.get("wachtwoord", "")[:256]

    def refuse(message: str, status: int = 401) -> Response:
        return render(
            request,
            "aanmelden.html",
            status_code=status,
            error=message,
            local_accounts=c.settings.local_accounts,
            oidc=c.oidc is not None,
            gebruiker=user_id,
        )

    if not c.settings.local_accounts:
        return refuse("Aanmelden met een lokaal account is uitgeschakeld.", 403)
    client = request.client.host if request.client else "?"
    # Everything up to the password hash is cheap: throttles, then names that cannot be accounts.
    verdict, wait = c.login_throttle.check(user_id, client)
    if verdict == "delay":
        c.events.record("login_delayed", user_id, f"nog {math.ceil(wait)} s")
        message = f"Te veel mislukte pogingen. Probeer het over {math.ceil(wait)} seconden opnieuw."
        return refuse(message, 429)
    if verdict:
        c.events.record("rate_limited", user_id, f"aanmelden ({verdict})")
        return refuse("Te veel aanmeldpogingen. Wacht een minuut en probeer het opnieuw.", 429)
    account = (
        await run_in_threadpool(c.accounts.authenticate, user_id, password)
        if USER_ID.match(user_id) and password
        else None
    )
    if account is None:
        c.login_throttle.failed(user_id, client)
        c.events.record("login_failed", user_id, "lokaal account")
        return refuse("Gebruikersnaam of wachtwoord onjuist, of het account is geblokkeerd.")
    c.login_throttle.succeeded(user_id, client)
    session = c.sessions.sign_in(
        session_of(request),
        account.user_id,
        account.role,
        account.display_name,
        "lokaal",
        generation=account.generation,
        must_change_password=account.must_change_password,
    )
    request.state.session = session
    c.events.record("login", account.user_id, "lokaal account")
    return RedirectResponse(
        "/wachtwoord" if session.must_change_password else HOME[account.role], status_code=303
    )


def _signed_in(request: Request):
    session = session_of(request)
    if not session.authenticated or session.auth_method != "lokaal":
        raise NotSignedIn(request.state.session_expired)
    return session


@router.get("/wachtwoord")
async def password_form(request: Request) -> Response:
    _signed_in(request)
    return render(request, "wachtwoord.html")


@router.post("/wachtwoord")
async def change_password(request: Request) -> Response:
    """The user's own new password (a one-time password must be replaced before anything else)."""
    session = _signed_in(request)
    form = await form_of(request)
    new, again = form.get("nieuw", "")[:300], form.get("herhaal", "")[:300]
    if new != again:
        return render(request, "wachtwoord.html", status_code=400, error="De twee wachtwoorden verschillen.")
    try:
        await run_in_threadpool(ctx(request).accounts.set_password, session.user_id, new, one_time=False)
    except AccountError as exc:
        return render(request, "wachtwoord.html", status_code=400, error=str(exc))
    session.must_change_password = False
    ctx(request).events.record("password_changed", session.user_id, "")
    return RedirectResponse(HOME.get(session.role or "", "/"), status_code=303)


@router.post("/afmelden")
async def logout(request: Request) -> Response:
    c = ctx(request)
    await form_of(request)
    old = session_of(request)
    c.events.record("logout", old.user_id, "")
    c.sessions.end(old.session_id)
    request.state.session = c.sessions.new()
    request.state.session.flash.append("U bent afgemeld.")
    return RedirectResponse("/aanmelden", status_code=303)


@router.get("/oidc/start")
async def oidc_start(request: Request) -> Response:
    c = ctx(request)
    if c.oidc is None:
        return error_page(
            request, 404, "Niet ingesteld", "Aanmelden via de identity provider is niet ingesteld."
        )
    try:
        url, pending = c.oidc.authorization_url()
    except (OIDCError, OSError, KeyError, ValueError):
        return error_page(
            request, 502, "Identity provider onbereikbaar", "De identity provider is nu niet bereikbaar."
        )
    session_of(request).oidc_pending = pending
    return RedirectResponse(url, status_code=303)


@router.get("/oidc/callback")
async def oidc_callback(request: Request, state: str = "", code: str = "") -> Response:
    c = ctx(request)
    if c.oidc is None:
        return error_page(
            request, 404, "Niet ingesteld", "Aanmelden via de identity provider is niet ingesteld."
        )
    old = session_of(request)
    pending, old.oidc_pending = old.oidc_pending, {}
    try:
        user = c.oidc.complete(pending, state[:200], code[:2000])
    except OIDCError as exc:
        c.events.record("login_failed", None, f"oidc: {exc}")
        return error_page(request, 401, "Aanmelden mislukt", str(exc))
    except (OSError, KeyError, ValueError):
        c.events.record("login_failed", None, "oidc: identity provider onbereikbaar")
        return error_page(
            request, 502, "Identity provider onbereikbaar", "De identity provider is nu niet bereikbaar."
        )
    request.state.session = c.sessions.sign_in(old, user.user_id, user.role, user.display_name, "oidc")
    c.events.record("login", user.user_id, "oidc")
    return RedirectResponse(HOME[user.role], status_code=303)
