"""Who is calling: an HS256 JWT (Supabase-compatible) or a ttsqueue API key.

JWT claims: ``sub`` is the user id; the user is premium when ``premium`` or
``app_metadata.premium`` is true; an admin when ``role`` is ``service_role`` or
``admin``, or ``app_metadata.role`` is ``admin``. Tokens are verified with
``settings.jwt_secret`` (and ``settings.jwt_audience`` when set); ``exp`` is honoured
when present.
"""

from __future__ import annotations

from typing import Any

import jwt

from ttsqueue.api.keys import hash_token, looks_like_api_key
from ttsqueue.backends.base import Backend
from ttsqueue.models import User
from ttsqueue.settings import Settings

MAX_TOKEN_CHARS = 8192
MAX_USER_ID_CHARS = 200
ADMIN_ROLES = frozenset({"service_role", "admin"})


class AuthError(Exception):
    """The credentials are missing or not valid; the message says why."""


def user_from_claims(claims: dict[str, Any]) -> User:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_USER_ID_CHARS:
        raise AuthError("the token's sub claim must name the user")
    meta = claims.get("app_metadata")
    meta = meta if isinstance(meta, dict) else {}
    premium = claims.get("premium") is True or meta.get("premium") is True
    admin = claims.get("role") in ADMIN_ROLES or meta.get("role") == "admin"
    return User(id=sub, premium=premium, admin=admin)


def decode_jwt(token: str, settings: Settings) -> User:
    if not settings.jwt_secret:
        raise AuthError("JWT authentication is not configured on this server")
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience or None,
            options={"verify_aud": bool(settings.jwt_audience), "require": ["sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    if not isinstance(claims, dict):
        raise AuthError("invalid token")
    return user_from_claims(claims)


async def authenticate(token: str, settings: Settings, backend: Backend) -> User:
    """The user a bearer token stands for; raises :class:`AuthError`."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise AuthError("missing bearer token")
    if looks_like_api_key(token):
        key = await backend.get_api_key(hash_token(token))
        if key is None:
            raise AuthError("unknown or revoked API key")
        return User(id=key.user_id, premium=key.premium, admin=key.admin)
    return decode_jwt(token, settings)
