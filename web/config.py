"""Settings of the web interface, from the environment (documented in docs/WEB.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.environment import current


@dataclass(frozen=True)
class OIDCSettings:
    """Sign-in through the municipality's own identity provider (OpenID Connect, code flow + PKCE)."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    role_claim: str = "roles"
    # IdP role/group value -> knooppunt role; unmapped users are refused.
    role_map: dict[str, str] = field(default_factory=dict)
    user_claim: str = "preferred_username"
    scopes: str = "openid profile"


@dataclass(frozen=True)
class WebSettings:
    warehouse_root: Path
    idle_timeout: int = 15 * 60
    absolute_timeout: int = 8 * 60 * 60
    lookups_per_minute: int = 20
    logins_per_minute: int = 10  # per client address
    logins_per_minute_total: int = 60  # from all addresses together
    https: bool = False
    map_background: str | None = None
    oidc: OIDCSettings | None = None
    local_accounts: bool = True
    # Host headers the app answers to (Starlette's TrustedHostMiddleware); "*" only in tests.
    trusted_hosts: tuple[str, ...] = ("*",)

    @property
    def map_background_origin(self) -> str | None:
        if not self.map_background:
            return None
        parts = urlsplit(self.map_background)
        return f"{parts.scheme}://{parts.netloc}"


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _role_map(raw: str) -> dict[str, str]:
    """``"idp-group=bibob_officer,other=analyst"`` -> mapping."""
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


DEMO_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _trusted_hosts(production: bool) -> tuple[str, ...]:
    raw = os.environ.get("KNOOPPUNT_TRUSTED_HOSTS", "")
    hosts = tuple(h.strip() for h in raw.split(",") if h.strip())
    if production and (not hosts or "*" in hosts):
        raise RuntimeError(
            "KNOOPPUNT_ENV=production needs KNOOPPUNT_TRUSTED_HOSTS: the host names the service is "
            "reached by, comma-separated (no '*')"
        )
    return hosts or DEMO_HOSTS


def from_environment(warehouse_root: Path | None = None) -> WebSettings:
    """Settings from the environment. Production always has Secure cookies and HSTS and a list of
    trusted hosts; a demo answers only on the loopback names unless KNOOPPUNT_TRUSTED_HOSTS says."""
    production = os.environ.get("KNOOPPUNT_ENV") == "production"
    oidc = None
    if issuer := os.environ.get("KNOOPPUNT_OIDC_ISSUER"):
        missing = [
            v
            for v in (
                "KNOOPPUNT_OIDC_CLIENT_ID",
                "KNOOPPUNT_OIDC_CLIENT_SECRET",
                "KNOOPPUNT_OIDC_REDIRECT_URI",
            )
            if not os.environ.get(v)
        ]
        if missing:
            raise RuntimeError(f"KNOOPPUNT_OIDC_ISSUER is set, so {', '.join(missing)} must be set too")
        oidc = OIDCSettings(
            issuer=issuer.rstrip("/"),
            client_id=os.environ["KNOOPPUNT_OIDC_CLIENT_ID"],
            client_secret=os.environ["KNOOPPUNT_OIDC_CLIENT_SECRET"],
            redirect_uri=os.environ["KNOOPPUNT_OIDC_REDIRECT_URI"],
            role_claim=os.environ.get("KNOOPPUNT_OIDC_ROLE_CLAIM", "roles"),
            role_map=_role_map(os.environ.get("KNOOPPUNT_OIDC_ROLE_MAP", "")),
            user_claim=os.environ.get("KNOOPPUNT_OIDC_USER_CLAIM", "preferred_username"),
        )
    return WebSettings(
        warehouse_root=Path(warehouse_root or current().warehouse),
        idle_timeout=_int("KNOOPPUNT_SESSION_IDLE_SECONDS", 15 * 60),
        absolute_timeout=_int("KNOOPPUNT_SESSION_MAX_SECONDS", 8 * 60 * 60),
        lookups_per_minute=_int("KNOOPPUNT_LOOKUPS_PER_MINUTE", 20),
        https=production or os.environ.get("KNOOPPUNT_HTTPS", "") == "1",
        trusted_hosts=_trusted_hosts(production),
        logins_per_minute=_int("KNOOPPUNT_LOGINS_PER_MINUTE_PER_ADDRESS", 10),
        logins_per_minute_total=_int("KNOOPPUNT_LOGINS_PER_MINUTE", 60),
        map_background=os.environ.get("KNOOPPUNT_MAP_BACKGROUND") or None,
        oidc=oidc,
        local_accounts=os.environ.get("KNOOPPUNT_LOCAL_ACCOUNTS", "1") != "0",
    )
