"""Premium from the app's own table (the original app's profiles.is_premium), read
through a setting that names identifiers only, cached briefly."""

from __future__ import annotations

import psycopg
import pytest

from tests.stores.postgres import statement
from ttsqueue.api.auth import Authenticator
from ttsqueue.api.premium import parse_lookup, premium_check
from ttsqueue.backends.postgres import PostgresBackend
from ttsqueue.settings import Settings

SECRET = "a-secret-long-enough-for-hs256-0123456789"


def _settings(schema: str, cache_s: float) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret=SECRET,
        premium_lookup=f"{schema}.profiles.is_premium",
        premium_lookup_cache_s=cache_s,
    )


async def _set(base_url: str, schema: str, user: str, premium: bool | None) -> None:
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(statement("create_profiles", schema=schema))
        await conn.execute(
            statement("set_profile", schema=schema), {"id": user, "premium": premium}
        )


@pytest.mark.parametrize("cache_s", [0.0, 60.0])
async def test_the_app_table_decides_premium(
    pg: PostgresBackend, base_url: str, schema: str, cache_s: float
) -> None:
    import jwt

    alice, bob = "7d6f2c4e-0000-4000-8000-00000000000a", "7d6f2c4e-0000-4000-8000-00000000000b"
    await _set(base_url, schema, alice, True)
    await _set(base_url, schema, bob, False)
    settings = _settings(schema, cache_s)
    auth = Authenticator(settings, pg, premium_check(settings, pg))

    def token(sub: str) -> str:
        return jwt.encode({"sub": sub, "exp": 2_000_000_000}, SECRET, algorithm="HS256")

    assert (await auth.user(token(alice))).premium is True
    assert (await auth.user(token(bob))).premium is False
    assert (await auth.user(token("no-profile"))).premium is False
    await _set(base_url, schema, bob, True)  # bob upgrades
    assert (await auth.user(token(bob))).premium is (cache_s == 0.0)


def test_the_setting_names_identifiers_only() -> None:
    assert parse_lookup("public.profiles.is_premium", "id").table == ("public", "profiles")
    for bad in (
        "profiles",
        "profiles.is_premium; DROP TABLE jobs",
        "profiles.is_premium) OR (true",
        'public."profiles".x',
        "a.b.c.d",
    ):
        with pytest.raises(ValueError, match="PREMIUM_LOOKUP"):
            parse_lookup(bad, "id")
    with pytest.raises(ValueError, match="PREMIUM_LOOKUP_KEY"):
        parse_lookup("profiles.is_premium", "id = id OR true")


async def test_a_lookup_needs_postgres() -> None:
    from ttsqueue.backends import BackendOptions, open_backend

    settings = _settings("public", 60.0)
    async with open_backend("memory://", BackendOptions()) as memory:
        with pytest.raises(ValueError, match="PostgreSQL"):
            premium_check(settings, memory)
