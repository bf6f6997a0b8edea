"""OIDC sign-in against a local test IdP: real RS256 tokens and JWKS, the IdP's HTTP replaced by a function.

What this covers: discovery, the authorization redirect (state, nonce, PKCE S256), the token
request, ID-token signature and claim checks, role mapping, and the app's /oidc routes. What it
does not: a real identity provider over the network (see docs/WEB.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient

from web.app import create_app
from web.config import OIDCSettings, WebSettings
from web.events import SecurityEvents
from web.oidc import OIDCClient, OIDCError

ISSUER = "https://idp.gemeente.example"
SETTINGS = OIDCSettings(
    issuer=ISSUER,
    client_id="knooppunt",
    client_secret="test-secret",  # noqa: S106 - the local test IdP's client secret
    redirect_uri="https://knooppunt.gemeente.example/oidc/callback",
    role_map={"g-bibob": "bibob_officer", "g-fg": "privacy_officer"},
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalIdP:
    """Signs ID tokens with its own RSA key and answers discovery, JWKS and token requests."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.claims: dict = {}
        self.token_requests: list[dict] = []

    def sign(self, claims: dict, key=None, alg: str = "RS256") -> str:
        header = b64(json.dumps({"alg": alg, "kid": "k1", "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims).encode())
        signature = (key or self.key).sign(
            f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{header}.{payload}.{b64(signature)}"

    def fetch(self, url: str, form: dict | None) -> dict:
        if url.endswith("/.well-known/openid-configuration"):
            return {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
            }
        if url.endswith("/jwks"):
            numbers = self.key.public_key().public_numbers()
            return {
                "keys": [
                    {
                        "kty": "RSA",
                        "kid": "k1",
                        "n": b64(numbers.n.to_bytes(256, "big")),
                        "e": b64(b"\x01\x00\x01"),
                    }
                ]
            }
        assert url.endswith("/token") and form is not None
        self.token_requests.append(form)
        return {"id_token": self.sign(self.claims), "token_type": "Bearer"}

    def claims_for(self, nonce: str, **extra) -> dict:
        now = int(time.time())
        return {
            "iss": ISSUER,
            "aud": "knooppunt",
            "sub": "u-17",
            "preferred_username": "j.jansen",
            "name": "J. Jansen",
            "roles": ["g-bibob", "g-other"],
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
        } | extra


@pytest.fixture
def idp() -> LocalIdP:
    return LocalIdP()


def test_authorization_url_carries_state_nonce_and_pkce(idp):
    client = OIDCClient(SETTINGS, idp.fetch)
    url, pending = client.authorization_url()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert url.startswith(f"{ISSUER}/authorize?")
    assert query["state"] == [pending["state"]] and query["nonce"] == [pending["nonce"]]
    assert query["code_challenge_method"] == ["S256"]
    expected = b64(hashlib.sha256(pending["verifier"].encode()).digest())
    assert query["code_challenge"] == [expected]
    assert query["redirect_uri"] == [SETTINGS.redirect_uri]


def test_complete_verifies_the_token_and_maps_the_role(idp):
    client = OIDCClient(SETTINGS, idp.fetch)
    _, pending = client.authorization_url()
    idp.claims = idp.claims_for(pending["nonce"])
    user = client.complete(pending, pending["state"], "code-123")
    assert (user.role, user.display_name) == ("bibob_officer", "J. Jansen")
    assert user.user_id.startswith("oidc-") and "jansen" not in user.user_id  # iss + sub, not the name
    assert idp.token_requests[0]["code_verifier"] == pending["verifier"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aud": "someone-else"}, "niet voor deze toepassing"),
        ({"iss": "https://evil.example"}, "andere issuer"),
        ({"exp": 1_000}, "verlopen"),
        ({"nonce": "replayed"}, "nonce"),
        ({"roles": ["g-unknown"]}, "geen rol"),
        ({"roles": ["g-bibob", "g-fg"]}, "meer dan een rol"),
    ],
)
def test_bad_tokens_are_refused(idp, change, message):
    client = OIDCClient(SETTINGS, idp.fetch)
    _, pending = client.authorization_url()
    idp.claims = idp.claims_for(pending["nonce"]) | change
    with pytest.raises(OIDCError, match=message):
        client.complete(pending, pending["state"], "code")


def test_forged_signature_wrong_algorithm_and_wrong_state_are_refused(idp):
    client = OIDCClient(SETTINGS, idp.fetch)
    _, pending = client.authorization_url()
    claims = idp.claims_for(pending["nonce"])
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(OIDCError, match="handtekening"):
        client.verify_id_token(idp.sign(claims, key=other_key), pending["nonce"])
    with pytest.raises(OIDCError, match="algoritme"):
        client.verify_id_token(idp.sign(claims, alg="none"), pending["nonce"])
    with pytest.raises(OIDCError, match="verlopen of ongeldig"):
        client.complete(pending, "not-the-state", "code")


def test_the_app_signs_in_through_the_idp(idp, tmp_path):
    app = create_app(
        WebSettings(warehouse_root=tmp_path, oidc=SETTINGS, local_accounts=False), oidc_fetch=idp.fetch
    )
    c = TestClient(app, follow_redirects=False)
    page = c.get("/aanmelden").text
    assert "Aanmelden met het gemeentelijke account" in page and 'name="wachtwoord"' not in page
    r = c.get("/oidc/start")
    assert r.status_code == 303 and r.headers["location"].startswith(f"{ISSUER}/authorize?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["location"]).query)
    idp.claims = idp.claims_for(query["nonce"][0])
    r = c.get("/oidc/callback", params={"state": query["state"][0], "code": "abc"})
    assert r.status_code == 303 and r.headers["location"] == "/zoeken"
    # Replaying the callback (state already used) is refused in Dutch and recorded.
    r = c.get("/oidc/callback", params={"state": query["state"][0], "code": "abc"})
    assert r.status_code == 401 and "verlopen of ongeldig" in r.text
    assert SecurityEvents(tmp_path).recent()[0].event == "login_failed"
