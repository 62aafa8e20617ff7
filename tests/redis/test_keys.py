"""Key layout and URL parameters (no server needed)."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from ttsqueue.backends.keys import TEMPLATES, Keys
from ttsqueue.backends.redis_codec import RedisUrl
from ttsqueue.models import new_id

JOB_KEYS = ("job", "tasks", "text", "events")


def test_a_jobs_keys_share_one_cluster_slot() -> None:
    keys = Keys("ttsqueue")
    for _ in range(20):
        job_id = new_id()
        slots = {key_slot(keys.key(name, job_id).encode()) for name in JOB_KEYS}
        assert len(slots) == 1


def test_different_jobs_spread_over_slots() -> None:
    keys = Keys("ttsqueue")
    slots = {key_slot(keys.job(new_id()).encode()) for _ in range(50)}
    assert len(slots) > 10


def test_a_hash_tag_prefix_puts_every_key_in_one_slot() -> None:
    keys = Keys("{tq}")
    names = [keys.key(n, *["x"] * t.count("%s")) for n, t in TEMPLATES.items()]
    assert {key_slot(n.encode()) for n in names} == {key_slot(b"tq")}


def test_every_key_lives_under_the_prefix() -> None:
    keys = Keys("app1")
    for name, template in TEMPLATES.items():
        assert keys.key(name, *["a"] * template.count("%s")).startswith("app1:")


def test_scan_pattern_escapes_glob_characters() -> None:
    assert Keys("a*b[1]").pattern() == "a\\*b\\[1\\]:*"


def test_a_prefix_with_spaces_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        Keys("has space")


def test_url_parameters_are_ours_or_redis_pys() -> None:
    url = RedisUrl("redis://h:1/2?prefix=p1&retention_days=2&events_max=50&socket_timeout=5")
    assert url.prefix == "p1"
    assert url.retention_s == 2 * 86400
    assert url.events_max == 50
    assert url.client_url == "redis://h:1/2?socket_timeout=5"


def test_url_defaults() -> None:
    url = RedisUrl("redis://localhost")
    assert (url.prefix, url.retention_s, url.events_max) == ("ttsqueue", 30 * 86400, 10_000)


@pytest.mark.parametrize("query", ["retention_days=x", "retention_days=-1", "events_max=0"])
def test_bad_url_parameters_are_refused(query: str) -> None:
    with pytest.raises(ValueError, match="TTSQUEUE_DATABASE_URL"):
        RedisUrl(f"redis://localhost/0?{query}")


def test_retention_defaults_to_the_setting_and_the_url_overrides_it() -> None:
    assert RedisUrl("redis://localhost", retention_days=2).retention_s == 2 * 86400
    assert RedisUrl("redis://localhost?retention_days=1", retention_days=2).retention_s == 86400
