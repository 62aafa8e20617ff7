"""Tokens from a real identity provider: asymmetric keys served from a JWKS URL (a local
HTTP server), rotation, and the usual attacks."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pydantic
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.api.conftest import SECRET, bearer, make_jwt
from ttsqueue.api.auth import SERVICE_USER
from ttsqueue.settings import Settings

ISSUER = "https://abcdefgh.supabase.co/auth/v1"
AUDIENCE = "authenticated"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass
class Key:
    kid: str
    alg: str
    private: PrivateKey

    def jwk(self) -> dict[str, Any]:
        algo = jwt.get_algorithm_by_name(self.alg)
        data: dict[str, Any] = json.loads(algo.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **headers}
        )


def ec_key(kid: str = "ec-1") -> Key:
    return Key(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def rsa_key(kid: str = "rsa-1") -> Key:
    return Key(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ed_key(kid: str = "ed-1") -> Key:
    return Key(kid, "EdDSA", ed25519.Ed25519PrivateKey.generate())


def supabase_claims(
    sub: str = "9f0c1a4e-2b3d-4c5e-8f70-1234567890ab", **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "role": "authenticated",
        "sub": sub,
        "iat": now,
        "exp": now + 3600,
        "app_metadata": {"provider": "email"},
        **extra,
    }


@dataclass
class JwksServer:
    """A JWKS endpoint on a free local port; counts the requests it answers."""

    keys: list[Key]
    delay_s: float = 0.0
    hits: int = 0
    url: str = ""
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                body = json.dumps({"keys": [k.jwk() for k in owner.keys]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (the timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/auth/v1/.well-known/jwks.json"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@functools.cache
def provider_keys() -> tuple[Key, ...]:
    """Generated once per run: an RSA key takes a while on a busy machine."""
    return (ec_key(), rsa_key(), ed_key())


@pytest.fixture
def provider() -> Iterator[JwksServer]:
    server = JwksServer(keys=list(provider_keys()))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, provider: JwksServer) -> Settings:
    """Configured as for a Supabase project: JWKS, issuer and audience; no secret."""
    settings.jwt_secret = None
    settings.jwt_jwks_url = provider.url
    settings.jwt_issuer = ISSUER
    settings.jwt_audience = AUDIENCE
    settings.jwks_refetch_min_s = 0.0
    return settings


async def whoami(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/stats", headers=bearer(token))


@pytest.mark.parametrize("index", [0, 1, 2], ids=["ES256", "RS256", "EdDSA"])
async def test_a_token_signed_by_a_provider_key_is_accepted(
    client: httpx.AsyncClient, provider: JwksServer, index: int
) -> None:
    key = provider.keys[index]
    r = await client.post(
        "/v1/jobs",
        json={"chapters": [{"title": "c", "text": "words"}]},
        headers=bearer(key.sign(supabase_claims(sub="user-" + key.alg))),
    )
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == "user-" + key.alg


async def test_keys_are_cached_and_a_rotated_key_is_picked_up_without_restart(
    client: httpx.AsyncClient, provider: JwksServer
) -> None:
    old = provider.keys[0]
    for _ in range(5):
        assert (await whoami(client, old.sign(supabase_claims()))).status_code == 200
    assert provider.hits == 1  # fetched once, then from the cache
    new = ec_key("ec-2")
    provider.keys = [new]  # the provider rotates: the old key is gone
    assert (await whoami(client, new.sign(supabase_claims()))).status_code == 200
    assert provider.hits == 2
    r = await whoami(client, old.sign(supabase_claims()))
    assert r.status_code == 401
    assert "unknown" in r.json()["detail"][0]["msg"]


async def test_a_burst_of_unknown_kids_fetches_at_most_once_per_interval(
    client: httpx.AsyncClient, provider: JwksServer, settings: Settings
) -> None:
    settings.jwks_refetch_min_s = 60.0
    good = provider.keys[0]
    assert (await whoami(client, good.sign(supabase_claims()))).status_code == 200
    assert provider.hits == 1
    stranger = ec_key()
    tokens = [
        Key(f"bogus-{secrets.token_hex(4)}", "ES256", stranger.private).sign(supabase_claims())
        for _ in range(60)
    ]
    answers = await asyncio.gather(*(whoami(client, t) for t in tokens))
    assert {r.status_code for r in answers} == {401}
    assert provider.hits == 1  # the last fetch was less than an interval ago
    # with a short interval, a burst spread over time fetches about once per interval
    settings.jwks_refetch_min_s = 0.2
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        await asyncio.gather(*(whoami(client, t) for t in tokens[:10]))
    elapsed = time.monotonic() - started
    assert 2 <= provider.hits <= 1 + int(elapsed / 0.2) + 1


async def test_a_slow_provider_times_out_without_blocking_the_server(
    client: httpx.AsyncClient, provider: JwksServer, settings: Settings
) -> None:
    provider.delay_s = 10.0
    settings.jwks_timeout_s = 1.5
    token = provider.keys[0].sign(supabase_claims())
    started = time.monotonic()
    pending = asyncio.create_task(whoami(client, token))
    while provider.hits == 0:  # the fetch has reached the provider and waits there
        await asyncio.sleep(0.01)
    health = await client.get("/v1/health")  # served meanwhile: the loop is not blocked
    assert health.status_code == 200
    assert not pending.done()
    r = await pending
    waited = time.monotonic() - started
    assert r.status_code == 401
    assert "unknown" in r.json()["detail"][0]["msg"]
    assert 1.4 < waited < 8.0  # the timeout ended it, long before the provider answered


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _attacks(provider: JwksServer, attacker: JwksServer) -> dict[str, str]:
    ec1, rsa1 = provider.keys[0], provider.keys[1]
    claims = supabase_claims()
    forged = Key(ec1.kid, "ES256", ec.generate_private_key(ec.SECP256R1()))
    evil = attacker.keys[0]
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    return {
        "alg-none": f"{_b64({'alg': 'none', 'kid': ec1.kid})}.{_b64(claims)}.",
        "alg-none-no-kid": jwt.encode(claims, None, algorithm="none"),
        # HS256 "signed" with the provider's public key as the secret
        "hs256-with-public-key": _hs_with(rsa1.public_pem(), claims, rsa1.kid),
        "hs256-with-ec-public-key": _hs_with(ec1.public_pem(), claims, ec1.kid),
        "wrong-issuer": ec1.sign({**claims, "iss": "https://evil.supabase.co/auth/v1"}),
        "no-issuer": ec1.sign({k: v for k, v in claims.items() if k != "iss"}),
        "wrong-audience": ec1.sign({**claims, "aud": "anon-elsewhere"}),
        "no-audience": ec1.sign({k: v for k, v in claims.items() if k != "aud"}),
        "expired": ec1.sign({**claims, "exp": int(time.time()) - 120}),
        "no-exp": ec1.sign(no_exp),
        "unknown-kid": Key("nope", "ES256", ec1.private).sign(claims),
        "no-kid": jwt.encode(claims, ec1.private, algorithm="ES256"),
        "forged-signature-same-kid": forged.sign(claims),
        "ec-kid-with-rs256": Key(ec1.kid, "RS256", rsa1.private).sign(claims),
        "jku-to-attacker": evil.sign(claims, jku=attacker.url),
        "x5u-to-attacker": evil.sign(claims, x5u=attacker.url),
        "embedded-jwk": evil.sign(claims, jwk=evil.jwk()),
        "es384": jwt.encode(
            claims,
            ec.generate_private_key(ec.SECP384R1()),
            algorithm="ES384",
            headers={"kid": ec1.kid},
        ),
        "nul-in-sub": ec1.sign({**claims, "sub": "alice\x00admin"}),
        "newline-in-sub": ec1.sign({**claims, "sub": "alice\nbob"}),
    }


def _hs_with(secret: bytes, claims: dict[str, Any], kid: str) -> str:
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": kid})
    body = _b64(claims)
    import hashlib
    import hmac

    sig = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


ATTACKS = [
    "alg-none",
    "alg-none-no-kid",
    "hs256-with-public-key",
    "hs256-with-ec-public-key",
    "wrong-issuer",
    "no-issuer",
    "wrong-audience",
    "no-audience",
    "expired",
    "no-exp",
    "unknown-kid",
    "no-kid",
    "forged-signature-same-kid",
    "ec-kid-with-rs256",
    "jku-to-attacker",
    "x5u-to-attacker",
    "embedded-jwk",
    "es384",
    "nul-in-sub",
    "newline-in-sub",
]


@pytest.mark.parametrize("with_secret", [False, True], ids=["jwks-only", "jwks-and-secret"])
@pytest.mark.parametrize("attack", ATTACKS)
async def test_attacks_answer_401(
    client: httpx.AsyncClient,
    provider: JwksServer,
    settings: Settings,
    attack: str,
    with_secret: bool,
) -> None:
    if with_secret:
        settings.jwt_secret = SECRET
    attacker = JwksServer(keys=[ec_key("evil")])
    attacker.start()
    try:
        # the genuine claims signed by the genuine key pass: the attacks fail on their own
        assert (await whoami(client, provider.keys[0].sign(supabase_claims()))).status_code == 200
        r = await whoami(client, _attacks(provider, attacker)[attack])
        assert r.status_code == 401, (attack, r.text)
        assert attacker.hits == 0  # a token never makes us fetch a URL it names
    finally:
        attacker.stop()


async def test_the_hs256_secret_and_the_provider_keys_work_side_by_side(
    client: httpx.AsyncClient, provider: JwksServer, settings: Settings
) -> None:
    settings.jwt_secret = SECRET
    hs = make_jwt("legacy-user", iss=ISSUER, aud=AUDIENCE)
    assert (await whoami(client, hs)).status_code == 200
    assert (await whoami(client, provider.keys[0].sign(supabase_claims()))).status_code == 200
    # the secret never verifies an asymmetric algorithm, nor a JWKS key HS256
    forged = jwt.encode(supabase_claims(), SECRET, algorithm="HS384")
    assert (await whoami(client, forged)).status_code == 401


async def test_a_service_role_token_without_sub_is_an_admin(
    client: httpx.AsyncClient, provider: JwksServer
) -> None:
    claims = {k: v for k, v in supabase_claims(role="service_role").items() if k != "sub"}
    token = provider.keys[0].sign(claims)
    r = await whoami(client, token)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "all"
    r = await client.post(
        "/v1/jobs", json={"chapters": [{"title": "c", "text": "w"}]}, headers=bearer(token)
    )
    assert r.json()["user_id"] == SERVICE_USER
    # an authenticated user's token without sub is still refused
    user = {k: v for k, v in supabase_claims().items() if k != "sub"}
    assert (await whoami(client, provider.keys[0].sign(user))).status_code == 401


async def test_exp_may_be_made_optional_explicitly(
    client: httpx.AsyncClient, provider: JwksServer, settings: Settings
) -> None:
    claims = {k: v for k, v in supabase_claims().items() if k != "exp"}
    token = provider.keys[0].sign(claims)
    assert (await whoami(client, token)).status_code == 401
    settings.jwt_require_exp = False
    assert (await whoami(client, token)).status_code == 200


def test_a_short_secret_is_refused_at_start() -> None:
    with pytest.raises(pydantic.ValidationError, match="at least 32 bytes"):
        Settings(_env_file=None, jwt_secret="s" * 31)  # type: ignore[call-arg]
    assert Settings(_env_file=None, jwt_secret="s" * 32).jwt_secret  # type: ignore[call-arg]


def test_a_jwks_url_must_be_http() -> None:
    with pytest.raises(pydantic.ValidationError, match="JWKS_URL"):
        Settings(_env_file=None, jwt_jwks_url="file:///etc/passwd")  # type: ignore[call-arg]


def test_the_cli_refuses_a_short_secret_without_printing_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    secret = "hunter2-short"
    env = {**os.environ, "TTSQUEUE_JWT_SECRET": secret, "TTSQUEUE_DATABASE_URL": "memory://"}
    done = subprocess.run(
        [sys.executable, "-m", "ttsqueue", "api"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "at least 32 bytes" in done.stderr
    assert secret not in done.stderr + done.stdout


async def test_keys_are_refreshed_after_their_age_and_kept_while_the_provider_is_down(
    provider: JwksServer,
) -> None:
    from ttsqueue.api.jwks import JwksCache

    cache = JwksCache(provider.url, max_age_s=0.3, refetch_min_s=0.0, timeout_s=2.0)
    kid = provider.keys[0].kid
    assert (await cache.key(kid)) == provider.keys[0].jwk()
    assert (await cache.key(kid)) is not None
    assert provider.hits == 1  # fresh: from the cache
    await asyncio.sleep(0.4)
    assert (await cache.key(kid)) is not None
    assert provider.hits == 2  # aged: fetched again
    provider.stop()  # the provider goes away
    await asyncio.sleep(0.4)
    assert (await cache.key(kid)) == provider.keys[0].jwk()  # the keys held keep working
    assert cache.fetches == 3
