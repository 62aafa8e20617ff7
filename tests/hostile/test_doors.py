"""The hostile cases one by one: each answers a 4xx naming the field, or is accepted and
reads; cheap refusals come before parsing; parsing stays off the event loop."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALICE, BOB, bearer, make_jwt
from tests.hostile import inputs
from ttsqueue import tts
from ttsqueue.api import submit as submit_module
from ttsqueue.api.app import create_app
from ttsqueue.api.errors import ApiError
from ttsqueue.api.parsing import ParseSlots
from ttsqueue.backends import Backend
from ttsqueue.books import BookError, epub, parse_epub
from ttsqueue.models import Chapter, User, Voice
from ttsqueue.queue import BookRequest, Queue
from ttsqueue.settings import Settings
from ttsqueue.worker import Worker

NINES = "9" * 4400  # past Python's 4300-digit int() limit


def loc(response: httpx.Response) -> list[Any]:
    return list(response.json()["detail"][0]["loc"])


async def post_json(client: httpx.AsyncClient, texts: list[str], **extra: Any) -> httpx.Response:
    body = {"chapters": [{"title": f"C{i}", "text": t} for i, t in enumerate(texts)], **extra}
    return await client.post("/v1/jobs", json=body, headers=ALICE)


def chunks_of(text: str) -> list[str]:
    engine = tts.get_engine("espeak")
    return [c.text for c in tts.prepare_chunks(text, Voice(), engine)]


async def test_a_chapter_with_nothing_to_say_becomes_silence(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    r = await post_json(client, ["* * *", "Then it began."], output_format="wav")
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    settings.heartbeat_s = 0.2
    with ThreadPoolExecutor(2) as pool:
        worker = Worker(backend, settings, concurrency=2, pool=pool, worker_id="silence-w")
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job = await backend.get(job_id)
            assert job is not None
            if job.status.terminal:
                break
            await asyncio.sleep(0.1)
        worker.stop()
        await running
    assert job.status.value == "completed", job.error
    assert job.tasks[0].result is not None and job.tasks[0].result["duration_s"] > 0


@pytest.mark.parametrize(
    "text",
    [
        '<speak><prosody pitch="+99999st">high</prosody></speak>',
        '<speak><prosody pitch="-99999st" rate="+99999%">low</prosody></speak>',
        f'<speak><say-as interpret-as="cardinal">{NINES}</say-as></speak>',
        f'<speak><say-as interpret-as="ordinal">{NINES}</say-as></speak>',
        f'<speak><say-as interpret-as="date">{NINES}</say-as></speak>',
        f"A number: {NINES}.",
        f"Money: ${NINES}.",
        f"The {NINES}th.",
        f"Up {NINES}.5%.",
        f"Or 1,{'000,' * 1100}000.",
    ],
)
async def test_what_once_answered_500_or_failed_later_is_accepted_and_reads(
    client: httpx.AsyncClient, text: str
) -> None:
    r = await post_json(client, [text])
    assert r.status_code == 201, r.text
    chunks = chunks_of(text)
    assert chunks and all(c.strip() for c in chunks)


def test_a_huge_number_is_read_digit_by_digit() -> None:
    read = " ".join(chunks_of(f"Say {NINES}."))
    assert read.count("nine") == len(NINES)
    assert "twelfth" in " ".join(chunks_of("the 12th"))


async def test_a_user_at_the_cap_is_refused_before_the_body_is_parsed(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.max_active_jobs = 1
    assert (await post_json(client, ["One."])).status_code == 201

    def parse_text(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed before the cap was checked")

    monkeypatch.setattr(submit_module, "parse_text", parse_text)
    r = await client.post(
        "/v1/jobs",
        content=b"# Title\n\n" + b"*a " * 15000,
        headers={**ALICE, "Content-Type": "text/markdown"},
    )
    assert r.status_code == 429, r.text
    r = await client.post("/api/tts/queue", json={"chapters": [{"text": "x"}]}, headers=ALICE)
    assert r.status_code == 429, r.text
    assert (await post_json(client, ["Bob's own."])).status_code == 429  # Alice, still
    r = await client.post("/v1/jobs", json={"chapters": [{"text": "x"}]}, headers=BOB)
    assert r.status_code == 201


async def test_a_text_body_too_long_for_a_book_is_refused_before_parsing(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse_text(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed a body that could not hold a book")

    monkeypatch.setattr(submit_module, "parse_text", parse_text)
    body = b"word " * (2 * settings.max_book_chars // 5 + 1)
    r = await client.post("/v1/jobs", content=body, headers={**ALICE, "Content-Type": "text/plain"})
    assert r.status_code == 422, r.text
    assert loc(r) == ["body"]
    assert str(settings.max_book_chars) in r.json()["detail"][0]["msg"]


async def test_the_45_kb_markdown_line_is_answered_at_once(client: httpx.AsyncClient) -> None:
    body = ("# Title\n\n" + "*a " * 15000).encode()
    start = time.thread_time()
    r = await client.post(
        "/v1/jobs", content=body, headers={**ALICE, "Content-Type": "text/markdown"}
    )
    assert r.status_code in (201, 422), r.text  # 422: longer than this test's chapter limit
    assert time.thread_time() - start < 1.0  # it took 9.5 s of CPU when it was quadratic


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (inputs.repeated_spine(2000), "names 'd0.xhtml' twice"),
        (inputs.deep_opf(5000), f"more than {epub.MAX_XML_DEPTH} deep"),
        (inputs.epub({"c.opf": '<!DOCTYPE p [<!ENTITY a "b">]><p>&a;</p>'}), "entities"),
        (inputs.one_document("<p>" + "a" * (epub.MAX_MEMBER_BYTES + 1) + "</p>"), "of XHTML"),
    ],
    ids=["repeated spine", "deep package", "entities", "large file"],
)
async def test_hostile_epubs_are_refused_naming_the_file(
    client: httpx.AsyncClient, data: bytes, message: str
) -> None:
    start = time.monotonic()
    files = {"file": ("book.epub", data, "application/epub+zip")}
    r = await client.post("/v1/jobs", files=files, headers=ALICE)
    assert r.status_code == 422, r.text
    assert loc(r) == ["body", "file"]
    assert message in r.json()["detail"][0]["msg"]
    assert time.monotonic() - start < 10  # seconds each when it was quadratic (and loaded)


def test_a_file_that_inflates_past_its_declared_size_is_stopped_while_reading() -> None:
    data = bytearray(inputs.one_document("<p>" + "a" * (epub.MAX_MEMBER_BYTES + 10) + "</p>"))
    # Declare the document small in the central directory (and the local header): zipfile
    # stops at the declared size and then fails its check, so nothing past it is read.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("d0.xhtml")
    with pytest.raises(BookError):
        parse_epub(_lie_about_size(bytes(data), info, 100))


def _lie_about_size(data: bytes, info: zipfile.ZipInfo, size: int) -> bytes:
    out = bytearray(data)
    local = info.header_offset
    out[local + 22 : local + 26] = size.to_bytes(4, "little")
    central = out.find(
        b"PK\x01\x02" + data[data.find(b"PK\x01\x02") + 4 : data.find(b"PK\x01\x02") + 4][:0]
    )
    while central != -1:
        name_len = int.from_bytes(out[central + 28 : central + 30], "little")
        if out[central + 46 : central + 46 + name_len] == info.filename.encode():
            out[central + 24 : central + 28] = size.to_bytes(4, "little")
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def test_an_epub_with_more_text_than_a_book_is_refused_while_reading() -> None:
    data = inputs.many_documents(50)
    assert "Part 49." in parse_epub(data).chapters[-1].text
    with pytest.raises(BookError, match="more than 100 characters"):
        parse_epub(data, max_chars=100)


def test_an_epub_of_markup_without_text_is_refused_before_it_is_parsed() -> None:
    data = inputs.one_document("<p></p>" * 1000 + "<p>Some text.</p>")
    assert parse_epub(data, max_chars=10_000).chapters[0].text == "Some text."
    with pytest.raises(BookError, match="bytes of XHTML per character"):
        parse_epub(data, max_chars=1000)


def test_an_epub_file_over_the_size_limit_is_refused_before_it_is_inflated() -> None:
    data = inputs.one_document("<p>" + "a" * (epub.MAX_MEMBER_BYTES + 1) + "</p>")
    with pytest.raises(BookError, match="too large"):
        parse_epub(data)


def test_an_epub_of_too_many_files_is_refused_before_any_is_read() -> None:
    with pytest.raises(BookError, match=f"more than {epub.MAX_FILES} files"):
        parse_epub(inputs.many_files(epub.MAX_FILES + 1))


async def test_the_legacy_route_names_the_body_when_it_is_not_json(
    client: httpx.AsyncClient,
) -> None:
    json_type = {**ALICE, "Content-Type": "application/json"}
    for body in (b"{not json", b"\x80 not UTF-8"):
        r = await client.post("/api/tts/queue", content=body, headers=json_type)
        assert r.status_code == 422, r.text
        assert loc(r)[0] == "body"
        assert r.json()["success"] is False


async def test_parse_slots_bound_the_parses_and_refuse_a_flood() -> None:
    slots = ParseSlots(1, max_waiting=1)
    release = threading.Event()
    started = threading.Event()

    def hold() -> str:
        started.set()
        release.wait(30)
        return "done"

    first = asyncio.create_task(slots.run(hold))
    while not started.is_set():
        await asyncio.sleep(0.01)
    second = asyncio.create_task(slots.run(lambda: "second"))
    while slots.waiting < 1:
        await asyncio.sleep(0.01)
    with pytest.raises(ApiError) as refused:
        await slots.run(lambda: "third")
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "2"}
    assert not second.done()  # it waits for the slot, it does not run beside the first
    release.set()
    assert await first == "done"
    assert await second == "second"
    assert await slots.run(lambda: "later") == "later"


async def test_the_event_loop_keeps_answering_while_a_book_is_parsed(
    backend: Backend, settings: Settings
) -> None:
    big = settings.model_copy(
        update={"max_body_bytes": 8 << 20, "max_chapter_chars": 8 << 20, "max_book_chars": 8 << 20}
    )
    queue = Queue(backend, big, check_voice=tts.check_voice, check_text=tts.check_text)
    transport = httpx.ASGITransport(app=create_app(big, queue=queue))
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    body = ("# Title\n\n" + "The *storm* came [in](x) at 10:30 on 1,000 ships. " * 120_000).encode()
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            gaps.append(time.perf_counter() - t)

    ticker = asyncio.create_task(tick())
    start = time.perf_counter()
    r = await client.post(
        "/v1/jobs", content=body, headers={**ALICE, "Content-Type": "text/markdown"}
    )
    took = time.perf_counter() - start
    done.set()
    await ticker
    assert r.status_code == 201, r.text
    assert took > 0.1  # a parse long enough to see
    assert max(gaps) < took / 2, (max(gaps), took)  # on the loop, one gap would be all of it


def test_the_bench_cases_exist() -> None:
    """The bench of hostile submissions builds its EPUBs with the same shapes."""
    from bench import hostile

    assert hostile.epub(3, b"<p>x</p>").startswith(b"PK")
    _ = bearer(make_jwt("x"))


async def test_the_worker_plans_a_long_chapter_off_its_event_loop(
    backend: Backend, settings: Settings
) -> None:
    text = ("It was 10:30 on March 3rd, 1999 when Mr. Smith paid $1,250.50 for 3 books. " * 3000)[
        :200_000
    ]
    voice = Voice(engine="noop", name="silence")
    plan_s = float("inf")  # what one tick would wait if planning ran on the loop
    for _ in range(2):
        start = time.perf_counter()
        tts.prepare_chunks(text, voice, tts.get_engine("noop"))
        plan_s = min(plan_s, time.perf_counter() - start)
    limits = {"max_chapter_chars": 300_000, "max_book_chars": 300_000, "heartbeat_s": 0.2}
    big = settings.model_copy(update=limits)
    queue = Queue(backend, big, check_voice=tts.check_voice, check_text=tts.check_text)
    user = User("reader")
    result = await queue.add_job(
        user, BookRequest(chapters=[Chapter("Long", text)], voice=voice, output_format="wav")
    )
    gaps: list[float] = []
    with ThreadPoolExecutor(2) as pool:
        worker = Worker(backend, big, concurrency=1, pool=pool, worker_id="plan-w")
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            gaps.append(time.perf_counter() - t)
            job = await backend.get(result.job.id)
            assert job is not None
            if job.status.terminal:
                break
        worker.stop()
        await running
    assert job.status.value == "completed", job.error
    assert plan_s > 0.05
    assert max(gaps) < plan_s / 2, (max(gaps), plan_s)
