"""Sessions, CSRF tokens, per-user rate limiting and security headers.

Sessions live server-side in memory (one uvicorn worker, see docs/WEB.md): the browser holds only a
random session id in an HttpOnly, SameSite=Strict cookie. A session expires after
``idle_timeout`` seconds without a request and ``absolute_timeout`` after sign-in, whichever comes
first; signing out or a restart of the server ends all of them. Every session, anonymous ones for
the sign-in form included, carries its own CSRF token that each POST must echo.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

SESSION_COOKIE = "knooppunt_sessie"
MAX_ANONYMOUS_SESSIONS = 10_000


@dataclass
class Session:
    session_id: str
    csrf_token: str
    created: float
    last_seen: float
    user_id: str | None = None
    role: str | None = None
    display_name: str = ""
    auth_method: str = ""
    flash: list[str] = field(default_factory=list)
    # OIDC sign-in state (state, nonce, PKCE verifier) between redirect and callback.
    oidc_pending: dict[str, str] = field(default_factory=dict)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None


class SessionStore:
    def __init__(self, idle_timeout: int, absolute_timeout: int, clock=time.monotonic):
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        with self._lock:
            if len(self._sessions) >= MAX_ANONYMOUS_SESSIONS:
                self._purge(now)
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> tuple[Session | None, bool]:
        """(session, expired): the live session for this id, or None and whether one just expired."""
        if not session_id:
            return None, False
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None, False
            if self._expired(session, now):
                del self._sessions[session_id]
                return None, session.authenticated
            session.last_seen = now
            return session, False

    def sign_in(self, old: Session, user_id: str, role: str, display_name: str, method: str) -> Session:
        """A fresh session id and CSRF token on sign-in (no session fixation)."""
        self.end(old.session_id)
        session = self.new()
        session.user_id, session.role, session.display_name = user_id, role, display_name
        session.auth_method = method
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle_timeout or now - session.created > self.absolute_timeout

    def _purge(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[sid]
        if len(self._sessions) >= MAX_ANONYMOUS_SESSIONS:
            for sid in [sid for sid, s in self._sessions.items() if not s.authenticated]:
                del self._sessions[sid]


def csrf_valid(session: Session | None, submitted: str | None) -> bool:
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] > self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True


def security_headers(map_background_origin: str | None, https: bool) -> dict[str, str]:
    img_src = "'self' data:" + (f" {map_background_origin}" if map_background_origin else "")
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img_src}; font-src 'self'; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers
