"""The officers' web application: server-rendered pages (FastAPI + Jinja2), Dutch throughout.

``create_app(settings)`` builds the app; ``knooppunt serve`` runs it with uvicorn (one worker: the
sessions live in memory, see ``web.security``). The warehouse is only read through
``privacy.lookup`` / ``privacy.log``, which open the published release read-only, so the nightly
run can write and publish a new release without blocking or breaking a lookup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from web.accounts import ROLES, AccountStore
from web.config import WebSettings
from web.events import SecurityEvents
from web.oidc import Fetch, OIDCClient, http_fetch
from web.security import (
    PRE_LOGIN_COOKIE,
    PRE_LOGIN_SECONDS,
    SESSION_COOKIE,
    LoginThrottle,
    RateLimiter,
    Session,
    SessionStore,
    security_headers,
)

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024
log = logging.getLogger("knooppunt.web")


@dataclass
class AppContext:
    settings: WebSettings
    accounts: AccountStore
    sessions: SessionStore
    events: SecurityEvents
    lookup_limiter: RateLimiter
    login_throttle: LoginThrottle
    templates: Jinja2Templates
    oidc: OIDCClient | None
    headers: dict[str, str]


class NotSignedIn(Exception):
    def __init__(self, expired: bool):
        self.expired = expired


class Forbidden(Exception):
    pass


class FormRejected(Exception):
    """A POST whose CSRF token is missing, forged or from an ended session."""


class MustChangePassword(Exception):
    """Signed in with a one-time password: nothing but changing it until that is done."""


# Navigation per role: (path, label).
NAV: dict[str, list[tuple[str, str]]] = {
    "bibob_officer": [
        ("/zoeken", "Zoeken"),
        ("/zoeken/lijst", "Lijst controleren"),
        ("/screening", "Lichte screening"),
        ("/signalen", "Signalen"),
        ("/export", "Exporteren"),
    ],
    "analyst": [
        ("/zoeken", "Zoeken"),
        ("/zoeken/lijst", "Lijst controleren"),
        ("/signalen", "Signalen"),
        ("/trends", "Trends"),
        ("/export", "Exporteren"),
    ],
    "frontline": [("/zoeken", "Veiligheidscheck")],
    "privacy_officer": [
        ("/privacy/log", "Verwerkingslog"),
        ("/privacy/afwijkingen", "Afwijkende raadplegingen"),
        ("/privacy/zaken", "Zaken"),
        ("/privacy/register", "Register"),
        ("/privacy/beveiliging", "Beveiliging"),
    ],
    "admin": [("/beheer", "Accounts")],
}


def ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def session_of(request: Request) -> Session:
    if not hasattr(request.state, "session"):
        request.state.session = ctx(request).sessions.new()
        request.state.session_expired = False
    return request.state.session


def require(request: Request, *roles: str) -> Session:
    """The signed-in session, if its role is one of ``roles``; otherwise redirect or refuse."""
    session = session_of(request)
    if not session.authenticated:
        raise NotSignedIn(request.state.session_expired)
    if session.must_change_password:
        raise MustChangePassword()
    if roles and session.role not in roles:
        ctx(request).events.record("forbidden", session.user_id, request.url.path)
        raise Forbidden()
    return session


async def form_of(request: Request) -> dict[str, str]:
    """The submitted form after the CSRF check (every POST goes through this)."""
    form = await request.form(max_files=0, max_fields=30, max_part_size=16 * 1024)
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    from web.security import csrf_valid

    if not csrf_valid(session_of(request), data.get("csrf_token")):
        ctx(request).events.record("csrf", session_of(request).user_id, request.url.path)
        raise FormRejected()
    return data


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    session = session_of(request)
    c = ctx(request)
    flash, session.flash = session.flash, []
    return c.templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "csrf_token": session.csrf_token,
            "nav": NAV.get(session.role or "", []),
            "role_label": ROLES.get(session.role or "", ""),
            "flash": flash,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return render(request, "fout.html", status_code=status_code, title=title, message=message)


def create_app(settings: WebSettings, *, oidc_fetch: Fetch = http_fetch) -> FastAPI:
    app = FastAPI(title="Knooppunt", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    from web.lookups import local_time

    templates.env.globals["local_time"] = local_time  # times officers read are Amsterdam time
    app.state.ctx = AppContext(
        settings=settings,
        accounts=AccountStore(settings.warehouse_root),
        sessions=SessionStore(settings.idle_timeout, settings.absolute_timeout),
        events=SecurityEvents(settings.warehouse_root),
        lookup_limiter=RateLimiter(settings.lookups_per_minute),
        login_throttle=LoginThrottle(settings.logins_per_minute, settings.logins_per_minute_total),
        templates=templates,
        oidc=OIDCClient(settings.oidc, oidc_fetch) if settings.oidc else None,
        headers=security_headers(settings.map_background_origin, settings.https),
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next) -> Response:
        c = ctx(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        session, expired = c.sessions.get(cookie)
        if expired:
            c.events.record("session_expired", None, request.url.path)
        # Blocked, role changed or password reset since sign-in: the session ends now.
        if (
            session is not None
            and session.auth_method == "lokaal"
            and c.accounts.current(session.user_id or "", session.generation) is None
        ):
            c.sessions.end(session.session_id)
            c.events.record("session_ended", session.user_id, request.url.path)
            session, expired = None, True
        if session is None:
            session = c.sessions.from_pre_login_cookie(request.cookies.get(PRE_LOGIN_COOKIE))
        request.state.session = session or c.sessions.new()
        request.state.session_expired = expired
        length = request.headers.get("content-length")
        # Forms always carry a length; a POST without one (chunked) could be of any size.
        unbounded = request.method == "POST" and length is None
        if unbounded or (length and (not length.isdigit() or int(length) > MAX_BODY)):
            c.events.record("oversized", request.state.session.user_id, request.url.path)
            response: Response = error_page(
                request,
                413,
                "Verzoek te groot",
                "Wat u verstuurde is te groot. Vul alleen de gevraagde velden in.",
            )
        else:
            response = await call_next(request)
        current: Session = request.state.session
        cookie_options = {"httponly": True, "secure": c.settings.https, "samesite": "strict", "path": "/"}
        if current.authenticated:
            if current.session_id != cookie:
                response.set_cookie(SESSION_COOKIE, current.session_id, **cookie_options)
                response.delete_cookie(PRE_LOGIN_COOKIE, **cookie_options)
        else:
            pre_login = c.sessions.pre_login_cookie(current)
            response.set_cookie(PRE_LOGIN_COOKIE, pre_login, max_age=PRE_LOGIN_SECONDS, **cookie_options)
            if cookie:
                response.delete_cookie(SESSION_COOKIE, **cookie_options)
        for name, value in c.headers.items():
            response.headers.setdefault(name, value)
        return response

    # Added last, so it runs outermost: a request for another Host gets a plain 400 and never
    # reaches a session, a redirect or a route.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.trusted_hosts))

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if exc.expired:
            session_of(request).flash.append("Uw sessie is verlopen. Meld u opnieuw aan.")
        return RedirectResponse("/aanmelden", status_code=303)

    @app.exception_handler(MustChangePassword)
    async def must_change_password(request: Request, exc: MustChangePassword) -> Response:
        return RedirectResponse("/wachtwoord", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error_page(request, 403, "Geen toegang", "Deze pagina hoort niet bij uw rol.")

    @app.exception_handler(FormRejected)
    async def form_rejected(request: Request, exc: FormRejected) -> Response:
        message = (
            "Het formulier is verlopen of ongeldig (CSRF-controle). Er is niets uitgevoerd. "
            "Open de pagina opnieuw en probeer het nog eens."
        )
        if request.state.session_expired:
            message = "Uw sessie is verlopen; er is niets uitgevoerd. Meld u opnieuw aan."
        return error_page(request, 403, "Formulier geweigerd", message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {
            404: ("Pagina niet gevonden", "Deze pagina bestaat niet."),
            405: ("Niet toegestaan", "Deze pagina kan niet op deze manier worden geopend."),
        }
        title, message = titles.get(exc.status_code, ("Fout", "Het verzoek kon niet worden verwerkt."))
        return error_page(request, exc.status_code, title, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 400, "Ongeldig verzoek", "Het verzoek bevat ongeldige gegevens.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        # Handled outside the middleware stack, so the headers are set here.
        response = error_page(
            request,
            500,
            "Er ging iets mis",
            "Er is een onverwachte fout opgetreden. De fout is vastgelegd; probeer het later opnieuw "
            "of neem contact op met de beheerder.",
        )
        response.headers.update(ctx(request).headers)
        return response

    from web import routes_admin, routes_analyse, routes_auth, routes_lookup, routes_privacy, routes_screening

    app.include_router(routes_auth.router)
    app.include_router(routes_lookup.router)
    app.include_router(routes_privacy.router)
    app.include_router(routes_screening.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_analyse.router)
    return app
