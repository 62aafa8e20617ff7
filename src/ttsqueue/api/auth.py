"""Who is calling: a JWT from an identity provider (Supabase and the like) or a
ttsqueue API key.

A JWT is verified with the HS256 shared secret (``settings.jwt_secret``) or with the
provider's public keys from its JWKS URL (``settings.jwt_jwks_url``: ES256, RS256 or
EdDSA, found by ``kid``). The algorithm is pinned by which key verifies it: HS256 only
against the secret, the asymmetric ones only against a JWKS key of the matching type,
so ``alg: none`` and an RS256/HS256 swap using the public key as a secret both fail.
``exp`` is required (unless ``jwt_require_exp`` is off); ``iss`` and ``aud`` are
checked when configured.

Claims: ``sub`` is the user id (printable characters only); the user is premium when
``premium`` or ``app_metadata.premium`` is true (or the deployment's premium lookup
says so); an admin when ``role`` is ``service_role`` or ``admin``, or
``app_metadata.role`` is ``admin``. A Supabase ``service_role`` token carries no
``sub``: it is the service acting for itself, an admin named :data:`SERVICE_USER`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from ttsqueue.api.jwks import KEY_TYPES, JwksCache, key_fits
from ttsqueue.api.keys import hash_token, looks_like_api_key
from ttsqueue.backends.base import Backend
from ttsqueue.models import MAX_USER_ID_CHARS, User, valid_user_id
from ttsqueue.settings import Settings

MAX_TOKEN_CHARS = 8192
ADMIN_ROLES = frozenset({"service_role", "admin"})
SERVICE_ROLE = "service_role"
SERVICE_USER = "service"
HS_ALGORITHMS = ("HS256",)

PremiumCheck = Callable[[str], Awaitable[bool]]


class AuthError(Exception):
    """The credentials are missing or not valid; the message says why."""


def user_from_claims(claims: dict[str, Any]) -> User:
    meta = claims.get("app_metadata")
    meta = meta if isinstance(meta, dict) else {}
    premium = claims.get("premium") is True or meta.get("premium") is True
    admin = claims.get("role") in ADMIN_ROLES or meta.get("role") == "admin"
    sub = claims.get("sub")
    if sub is None and claims.get("role") == SERVICE_ROLE:
        return User(id=SERVICE_USER, premium=premium, admin=True)
    if not valid_user_id(sub):
        raise AuthError(
            f"the token's sub claim must name the user (1-{MAX_USER_ID_CHARS} printable characters)"
        )
    return User(id=sub, premium=premium, admin=admin)


class Authenticator:
    """Verifies bearer tokens for one app. It reads ``settings`` at each call and keeps
    the JWKS cache, which lives as long as the app."""

    def __init__(
        self, settings: Settings, backend: Backend, premium: PremiumCheck | None = None
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.premium = premium
        self._jwks: JwksCache | None = None

    @property
    def jwks(self) -> JwksCache | None:
        url = self.settings.jwt_jwks_url
        if not url:
            return None
        if self._jwks is None or self._jwks.url != url:
            self._jwks = JwksCache(url)
        s = self.settings  # read at each call, like every other setting
        self._jwks.timeout_s = s.jwks_timeout_s
        self._jwks.max_age_s = s.jwks_cache_s
        self._jwks.refetch_min_s = s.jwks_refetch_min_s
        return self._jwks

    async def user(self, token: str) -> User:
        """The user a bearer token stands for; raises :class:`AuthError`."""
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise AuthError("missing bearer token")
        if looks_like_api_key(token):
            key = await self.backend.get_api_key(hash_token(token))
            if key is None:
                raise AuthError("unknown or revoked API key")
            user = User(id=key.user_id, premium=key.premium, admin=key.admin)
        else:
            user = user_from_claims(await self.claims(token))
        if not user.premium and self.premium is not None and user.id != SERVICE_USER:
            if await self.premium(user.id):
                user = User(id=user.id, premium=True, admin=user.admin)
        return user

    async def _key(self, token: str) -> tuple[Any, str]:
        """The key that may verify ``token`` and the one algorithm it may use."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        alg = header.get("alg")
        s = self.settings
        if alg in HS_ALGORITHMS and s.jwt_secret:
            return s.jwt_secret, alg
        jwks = self.jwks
        if isinstance(alg, str) and alg in KEY_TYPES and jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid or len(kid) > 200:
                raise AuthError("the token names no key (kid)")
            jwk = await jwks.key(kid)
            if jwk is None:
                raise AuthError("the token's signing key is unknown")
            if not key_fits(jwk, alg):
                raise AuthError(f"key {kid[:50]!r} does not sign {alg}")
            try:
                return jwt.PyJWK(jwk, algorithm=alg).key, alg
            except jwt.PyJWTError as exc:
                raise AuthError(f"unusable signing key: {exc}") from None
        if not s.jwt_secret and jwks is None:
            raise AuthError("JWT authentication is not configured on this server")
        raise AuthError(f"tokens signed with {str(alg)[:20]!r} are not accepted")

    async def claims(self, token: str) -> dict[str, Any]:
        key, alg = await self._key(token)
        s = self.settings
        required = ["exp"] if s.jwt_require_exp else []
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=s.jwt_audience or None,
                issuer=s.jwt_issuer or None,
                leeway=s.jwt_leeway_s,
                options={
                    "verify_aud": bool(s.jwt_audience),
                    "verify_iss": bool(s.jwt_issuer),
                    "require": required,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        if not isinstance(claims, dict):
            raise AuthError("invalid token")
        return claims
