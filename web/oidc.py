"""OpenID Connect sign-in (authorization code flow with PKCE) against the municipality's own IdP.

Only what the code flow needs, on the standard library plus ``cryptography``:
discovery (``/.well-known/openid-configuration``), the authorization redirect with ``state``,
``nonce`` and a PKCE S256 challenge, the token request with the client secret, and verification of
the ID token's RS256 signature against the IdP's JWKS plus ``iss``, ``aud``, ``exp``, ``iat`` and
``nonce``. The role comes from a claim mapped through ``KNOOPPUNT_OIDC_ROLE_MAP``; a user without a
mapped role is refused. A user is identified by issuer and subject (``iss`` + ``sub``, which the
IdP never reassigns), as ``oidc-`` plus a hash of both; ``preferred_username`` (which can be
renamed or reused) and ``name`` are only shown. HTTP calls go through an injectable ``fetch`` so
the flow can be tested against a local test IdP (see docs/WEB.md for what is and is not tested).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from web.accounts import ROLES
from web.config import OIDCSettings

# fetch(url, form_data_or_None) -> parsed JSON
Fetch = Callable[[str, dict[str, str] | None], dict]
CLOCK_SKEW = 120


class OIDCError(Exception):
    """Sign-in through the IdP failed; the message is Dutch and safe to show."""


def http_fetch(url: str, form: dict[str, str] | None = None) -> dict:
    if not url.startswith("https://"):
        raise OIDCError("De identity provider moet via https bereikbaar zijn.")
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - https only, checked above
        return json.loads(response.read())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class OIDCUser:
    user_id: str
    role: str
    display_name: str


class OIDCClient:
    def __init__(self, settings: OIDCSettings, fetch: Fetch = http_fetch, clock=time.time):
        self.settings = settings
        self._fetch = fetch
        self._clock = clock
        self._metadata: dict | None = None

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            meta = self._fetch(f"{self.settings.issuer}/.well-known/openid-configuration", None)
            if meta.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise OIDCError("De identity provider meldt een andere issuer dan ingesteld.")
            self._metadata = meta
        return self._metadata

    def authorization_url(self) -> tuple[str, dict[str, str]]:
        """The URL to redirect the browser to, and the state to keep in the session."""
        pending = {
            "state": secrets.token_urlsafe(24),
            "nonce": secrets.token_urlsafe(24),
            "verifier": secrets.token_urlsafe(48),
        }
        challenge = _b64url(hashlib.sha256(pending["verifier"].encode()).digest())
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.settings.redirect_uri,
                "scope": self.settings.scopes,
                "state": pending["state"],
                "nonce": pending["nonce"],
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.metadata['authorization_endpoint']}?{query}", pending

    def complete(self, pending: dict[str, str], state: str, code: str) -> OIDCUser:
        """Exchange the code, verify the ID token and map the user to a role."""
        if not pending or not secrets.compare_digest(pending.get("state", ""), state or ""):
            raise OIDCError("De aanmelding is verlopen of ongeldig; probeer opnieuw.")
        tokens = self._fetch(
            self.metadata["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri,
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret,
                "code_verifier": pending["verifier"],
            },
        )
        if "id_token" not in tokens:
            raise OIDCError("De identity provider gaf geen ID-token terug.")
        claims = self.verify_id_token(tokens["id_token"], pending["nonce"])
        return self.user_from_claims(claims)

    def verify_id_token(self, token: str, nonce: str) -> dict:
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(signature_b64)
        except (ValueError, json.JSONDecodeError) as exc:
            raise OIDCError("Het ID-token is onleesbaar.") from exc
        if header.get("alg") != "RS256":
            raise OIDCError("Het ID-token gebruikt een niet-toegestaan algoritme.")
        key = self._signing_key(header.get("kid"))
        try:
            key.verify(signature, f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception as exc:  # noqa: BLE001 - any verification failure means: refuse
            raise OIDCError("De handtekening van het ID-token klopt niet.") from exc
        now = self._clock()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss", "").rstrip("/") != self.settings.issuer:
            raise OIDCError("Het ID-token komt van een andere issuer.")
        if self.settings.client_id not in audiences:
            raise OIDCError("Het ID-token is niet voor deze toepassing bestemd.")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - CLOCK_SKEW:
            raise OIDCError("Het ID-token is verlopen.")
        if isinstance(claims.get("iat"), int | float) and claims["iat"] > now + CLOCK_SKEW:
            raise OIDCError("Het ID-token is in de toekomst uitgegeven.")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OIDCError("Het ID-token hoort niet bij deze aanmelding (nonce).")
        return claims

    def _signing_key(self, kid: str | None) -> rsa.RSAPublicKey:
        jwks = self._fetch(self.metadata["jwks_uri"], None)
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and (kid is None or jwk.get("kid") == kid):
                n = int.from_bytes(_b64url_decode(jwk["n"]), "big")
                e = int.from_bytes(_b64url_decode(jwk["e"]), "big")
                return rsa.RSAPublicNumbers(e, n).public_key()
        raise OIDCError("De sleutel van het ID-token is onbekend bij de identity provider.")

    def user_from_claims(self, claims: dict) -> OIDCUser:
        issuer = str(claims.get("iss") or self.settings.issuer).rstrip("/")
        subject = str(claims.get("sub") or "")
        digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
        user_id = f"oidc-{digest[:20]}" if subject else ""
        shown = str(claims.get("name") or claims.get(self.settings.user_claim) or user_id)
        values = claims.get(self.settings.role_claim) or []
        values = [values] if isinstance(values, str) else list(values)
        roles = [self.settings.role_map[v] for v in values if v in self.settings.role_map]
        roles = [r for r in roles if r in ROLES]
        if not user_id or not roles:
            raise OIDCError("Uw account heeft geen rol in Knooppunt; neem contact op met de beheerder.")
        if len(set(roles)) > 1:
            raise OIDCError("Uw account heeft meer dan een rol in Knooppunt; dat is niet toegestaan.")
        return OIDCUser(user_id, roles[0], shown)
