"""Sessions, CSRF tokens, sign-in throttling, rate limiting and security headers.

Signed-in sessions live server-side in memory (one uvicorn worker, see docs/WEB.md): the browser
holds only a random session id in an HttpOnly, SameSite=Strict cookie. A session expires after
``idle_timeout`` seconds without a request and ``absolute_timeout`` after sign-in, whichever comes
first; signing out or a restart of the server ends all of them, and so does a block, role change
or password reset of the account (its ``generation``, checked on every request by ``web.app``).

Anonymous, pre-login state (the sign-in form's CSRF token, a message, the OIDC state) is never
kept on the server: it travels in its own cookie, encrypted and authenticated with a key of this
process (Fernet). Requests without cookies therefore cost no memory and cannot push anyone's
sign-in form out of a store. Every session carries a CSRF token that each POST must echo.

Sign-in is throttled before any password is hashed (:class:`LoginThrottle`): per client address,
globally, and with progressive delays per account and address instead of a hard lockout, so an
attacker can neither make every attempt cost a hash nor lock a user out from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken

SESSION_COOKIE = "knooppunt_sessie"
PRE_LOGIN_COOKIE = "knooppunt_aanmelden"
PRE_LOGIN_SECONDS = 60 * 60


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
    generation: int = 0  # the account's generation at sign-in (web.accounts)
    must_change_password: bool = False

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None


class SessionStore:
    """Signed-in sessions in memory; anonymous state only in the pre-login cookie (see above)."""

    def __init__(self, idle_timeout: int, absolute_timeout: int, clock=time.monotonic):
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._fernet = Fernet(Fernet.generate_key())
        self._csrf_key = secrets.token_bytes(32)

    # -- anonymous: nothing stored ------------------------------------------------------------------
    def new(self) -> Session:
        """A fresh anonymous session (not stored; see :meth:`pre_login_cookie`)."""
        now = self._clock()
        sid = secrets.token_urlsafe(32)
        return Session(sid, self._csrf_for(sid), now, now)

    def _csrf_for(self, sid: str) -> str:
        return hmac.new(self._csrf_key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()

    def pre_login_cookie(self, session: Session) -> str:
        state = {"sid": session.session_id, "flash": session.flash, "oidc": session.oidc_pending}
        return self._fernet.encrypt(json.dumps(state).encode()).decode()

    def from_pre_login_cookie(self, value: str | None) -> Session | None:
        if not value or len(value) > 4096:
            return None
        try:
            state = json.loads(self._fernet.decrypt(value.encode(), ttl=PRE_LOGIN_SECONDS))
            sid = str(state["sid"])
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
        now = self._clock()
        session = Session(sid, self._csrf_for(sid), now, now)
        session.flash = [str(m) for m in state.get("flash", [])][:5]
        session.oidc_pending = {str(k): str(v) for k, v in dict(state.get("oidc") or {}).items()}
        return session

    # -- signed in --------------------------------------------------------------------------------
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
                return None, True
            session.last_seen = now
            return session, False

    def sign_in(
        self,
        old: Session,
        user_id: str,
        role: str,
        display_name: str,
        method: str,
        *,
        generation: int = 0,
        must_change_password: bool = False,
    ) -> Session:
        """A fresh session id and CSRF token on sign-in (no session fixation)."""
        self.end(old.session_id)
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        session.user_id, session.role, session.display_name = user_id, role, display_name
        session.auth_method, session.generation = method, generation
        session.must_change_password = must_change_password
        with self._lock:
            self._purge(now)
            self._sessions[session.session_id] = session
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def end_user(self, user_id: str) -> int:
        """End every session of ``user_id`` (blocked, role changed, password reset); how many."""
        with self._lock:
            ids = [sid for sid, s in self._sessions.items() if s.user_id == user_id]
            for sid in ids:
                del self._sessions[sid]
        return len(ids)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle_timeout or now - session.created > self.absolute_timeout

    def _purge(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if self._expired(s, now)]:
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
        """Whether one more event is allowed now; if so, it is counted."""
        with self._lock:
            if len(self._recent(key)) >= self.limit:
                return False
            self._events.setdefault(key, deque()).append(self._clock())
            return True

    def full(self, key: str) -> bool:
        """Whether the limit is reached now (counts nothing)."""
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def record(self, key: str) -> None:
        with self._lock:
            self._recent(key)
            self._events.setdefault(key, deque()).append(self._clock())

    def refund(self, key: str) -> None:
        """Take back the latest event of ``key`` (an attempt that turned out to succeed)."""
        with self._lock:
            events = self._events.get(key)
            if events:
                events.pop()

    def _recent(self, key: str) -> deque[float]:
        """The events of ``key`` within the window; a key without any is forgotten."""
        now = self._clock()
        events = self._events.get(key, deque())
        while events and now - events[0] > self.window:
            events.popleft()
        if not events:
            self._events.pop(key, None)
        return events


class LoginThrottle:
    """Decides, before any password is hashed, whether a sign-in attempt may go ahead.

    * at most ``per_address`` failed attempts per minute from one client address;
    * at most ``total`` failed attempts per minute from everywhere together (bounds the hashing
      work an attacker causes in the one worker, whatever the number of addresses);

    Only failures count towards these limits, so colleagues signing in from one office address
    (NAT) in the morning are not held up; an attacker guessing names or passwords fails. An
    attempt is counted when it is let through (before hashing) and refunded when it succeeds, so
    concurrent attempts cannot slip past the limit while earlier ones are still being hashed.
    * after ``free_failures`` failed attempts for one account from one address, each further
      attempt waits twice as long as the previous (1 s, 2 s, 4 s ... at most ``max_delay``); a
      success clears it. Keyed on account *and* address, so nobody can lock a user out from
      elsewhere, and there is no hard lockout at all.
    """

    def __init__(
        self,
        per_address: int,
        total: int,
        free_failures: int = 3,
        max_delay: float = 300.0,
        clock=time.monotonic,
    ):
        self._per_address = RateLimiter(per_address, clock=clock)
        self._total = RateLimiter(total, clock=clock)
        self.free_failures = free_failures
        self.max_delay = max_delay
        self._clock = clock
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}  # -> (count, last failure)
        self._lock = threading.Lock()

    def check(self, user_id: str, address: str) -> tuple[str | None, float]:
        """(None, 0) to go ahead; else ("address" | "total" | "delay", seconds to wait)."""
        wait = self.delay(user_id, address)
        if wait > 0:
            return "delay", wait
        with self._lock:  # check and reserve together
            if self._per_address.full(address):
                return "address", 60.0
            if self._total.full("*"):
                return "total", 60.0
            self._per_address.record(address)
            self._total.record("*")
        return None, 0.0

    def delay(self, user_id: str, address: str) -> float:
        with self._lock:
            count, last = self._failures.get((user_id, address), (0, 0.0))
        if count < self.free_failures:
            return 0.0
        delay = min(2.0 ** (count - self.free_failures), self.max_delay)
        return max(0.0, last + delay - self._clock())

    def failed(self, user_id: str, address: str) -> None:
        """The attempt let through by :meth:`check` failed: it stays counted; delays grow."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > 50_000:  # forget failures older than the longest delay
                self._failures = {k: v for k, v in self._failures.items() if now - v[1] < self.max_delay}
            count, _ = self._failures.get((user_id, address), (0, 0.0))
            self._failures[(user_id, address)] = (count + 1, now)

    def succeeded(self, user_id: str, address: str) -> None:
        """The attempt let through by :meth:`check` succeeded: it does not count; delays reset."""
        self._per_address.refund(address)
        self._total.refund("*")
        with self._lock:
            self._failures.pop((user_id, address), None)


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
