"""Voice previews: a short MP3 (checked with PyAV and mutagen), cached, bounded in text
and length, rate-limited like submissions, and the string rule on its text."""

from __future__ import annotations

import io

import av
import httpx
import mutagen.mp3
import pytest

from tests.api.conftest import ADMIN, ALICE, BOB
from ttsqueue.settings import Settings

URL = "/v1/voices/espeak:en-us/preview"


def seconds(clip: bytes) -> float:
    with av.open(io.BytesIO(clip)) as container:
        stream = container.streams.audio[0]
        assert container.format.name == "mp3"
        return sum(f.samples for f in container.decode(stream)) / stream.rate


async def test_the_catalogue_gives_each_voice_an_id(client: httpx.AsyncClient) -> None:
    voices = (await client.get("/v1/voices", headers=ALICE)).json()
    en = next(v for v in voices if v["engine"] == "espeak" and v["name"] == "en-us")
    assert en["id"] == "espeak:en-us"


async def test_a_preview_is_a_short_mp3_of_the_text(client: httpx.AsyncClient) -> None:
    short = await client.get(URL, params={"text": "Hello."}, headers=ALICE)
    assert short.status_code == 200, short.text
    assert short.headers["content-type"] == "audio/mpeg"
    longer = await client.get(
        URL, params={"text": "Hello there, this is a somewhat longer line to read."}, headers=ALICE
    )
    assert 0.3 < seconds(short.content) < seconds(longer.content) < 10
    info = mutagen.mp3.MP3(io.BytesIO(longer.content)).info
    assert info.channels == 1 and info.length == pytest.approx(seconds(longer.content), abs=0.1)
    default = await client.get(URL, headers=ALICE)  # no text: a line of its own
    assert default.status_code == 200 and seconds(default.content) > 1


async def test_a_long_text_is_cut_to_twenty_seconds(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    text = ("A rather long sentence that goes on and on. " * 6).strip()
    assert len(text) <= settings.preview_max_chars
    r = await client.get(URL, params={"text": text, "speed": 0.5}, headers=ALICE)
    assert r.status_code == 200
    assert 19.0 < seconds(r.content) <= 20.2


async def test_previews_are_cached_and_rate_limited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    state = client._transport.app.state.api  # type: ignore[attr-defined]
    state.previews.limit = 2
    first = await client.get(URL, params={"text": "One."}, headers=ALICE)
    assert (await client.get(URL, params={"text": "Two."}, headers=ALICE)).status_code == 200
    third = await client.get(URL, params={"text": "Three."}, headers=ALICE)
    assert third.status_code == 429 and int(third.headers["retry-after"]) >= 1
    assert "previews per minute" in third.json()["detail"][0]["msg"]
    again = await client.get(URL, params={"text": "One."}, headers=ALICE)  # from the cache
    assert again.status_code == 200 and again.content == first.content
    assert (await client.get(URL, params={"text": "Three."}, headers=BOB)).status_code == 200
    assert (await client.get(URL, params={"text": "Four."}, headers=ADMIN)).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        (URL, {"text": "x" * 301}, 422, "text"),
        (URL, {"text": "bad\x00text"}, 422, "text"),
        (URL, {"text": "bell\x07"}, 422, "text"),
        (URL, {"speed": "9"}, 422, "speed"),
        ("/v1/voices/espeak:no-such-voice/preview", {}, 404, "voice_id"),
        ("/v1/voices/en-us/preview", {}, 404, "voice_id"),
        ("/v1/voices/piper:..%2F..%2Fetc%2Fpasswd/preview", {}, 404, ""),  # no such route
        ("/v1/voices/nothing:en-us/preview", {}, 404, "voice_id"),
    ],
)
async def test_bad_previews_are_refused_naming_the_field(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int, field: str
) -> None:
    r = await client.get(path, params=params, headers=ALICE)
    assert r.status_code == status, r.text
    assert field in str(r.json()["detail"][0]["loc"])


async def test_a_preview_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401


def test_the_clip_cache_keeps_the_most_recent_within_its_size() -> None:
    from ttsqueue.api.preview import ClipCache

    cache = ClipCache(max_bytes=10)
    a, b, c = ("e", "v", 1.0, "a"), ("e", "v", 1.0, "b"), ("e", "v", 1.0, "c")
    cache.put(a, b"aaaa")
    cache.put(b, b"bbbb")
    assert cache.get(a) == b"aaaa"  # a is now the most recent
    cache.put(c, b"cccc")  # over 10 bytes: the least recent (b) goes
    assert cache.get(b) is None
    assert cache.get(a) == b"aaaa" and cache.get(c) == b"cccc"
    cache.put(("e", "v", 1.0, "huge"), b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get(("e", "v", 1.0, "huge")) is None and cache.get(a) == b"aaaa"
