"""Sign-in with a local account or through the municipality's identity provider, and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from web.app import ctx, error_page, form_of, render, session_of
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
    if not c.login_limiter.allow(user_id or client):
        c.events.record("rate_limited", user_id, "aanmelden")
        return refuse("Te veel aanmeldpogingen. Wacht een minuut en probeer het opnieuw.", 429)
    account = (
        await run_in_threadpool(c.accounts.authenticate, user_id, password) if user_id and password else None
    )
    if account is None:
        c.events.record("login_failed", user_id, "lokaal account")
        return refuse("Gebruikersnaam of wachtwoord onjuist, of het account is geblokkeerd.")
    session = c.sessions.sign_in(
        session_of(request), account.user_id, account.role, account.display_name, "lokaal"
    )
    request.state.session = session
    c.events.record("login", account.user_id, "lokaal account")
    return RedirectResponse(HOME[account.role], status_code=303)


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
