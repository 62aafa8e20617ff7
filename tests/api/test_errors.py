"""Bad input gets a 4xx naming the field, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ALICE, BOB, book, submit
from ttsqueue.settings import Settings

JSON = {**ALICE, "Content-Type": "application/json"}


def locs(r: httpx.Response) -> list[list[Any]]:
    return [d["loc"] for d in r.json()["detail"]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b"{not json", ["body"]),
        (b"", ["body"]),
        (b"[]", ["body"]),
        (b"null", ["body"]),
        (b"\xff\xfe\x00garbage", ["body"]),
        (b'{"chapters": "x"}', ["body", "chapters"]),
        (b'{"chapters": [{"title": "t"}]}', ["body", "chapters", 0, "text"]),
        (b'{"chapters": [{"text": 5}]}', ["body", "chapters", 0, "text"]),
        (b'{"chapters": [{"text": "a"}], "priority": 1e400}', ["body", "priority"]),
        (
            b'{"chapters": [{"text": "a"}], "priority": 99999999999999999999999}',
            ["body", "priority"],
        ),
        (b'{"chapters": [{"text": "a"}], "voice": {"speed": NaN}}', ["body", "voice", "speed"]),
        (b'{"chapters": [{"text": "a"}], "voice": {"speed": 1e308}}', ["body", "voice", "speed"]),
        (b'{"chapters": [{"text": "a"}], "output_format": "aiff"}', ["body", "output_format"]),
        (b'{"chapters": [{"text": "a"}], "run_at": "yesterday"}', ["body", "run_at"]),
        (b'{"chapters": [{"text": "a"}], "run_at": 1e300}', ["body", "run_at"]),
        (b'{"chapters": [{"text": "a"}], "idempotency_key": ""}', ["body", "idempotency_key"]),
    ],
)
async def test_bad_json_answers_422_naming_the_field(
    client: httpx.AsyncClient, body: bytes, loc: list[Any]
) -> None:
    r = await client.post("/v1/jobs", content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert any(got[: len(loc)] == loc for got in locs(r)), locs(r)
    assert all(set(d) == {"loc", "msg", "type"} for d in r.json()["detail"])


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        (book(0), ["body", "chapters"], "at least one"),
        (book(11), ["body", "chapters"], "at most 10"),
        (
            {"chapters": [{"title": "x", "text": "a" * 5001}]},
            ["body", "chapters", 0, "text"],
            "5000",
        ),
        ({"chapters": [{"text": "  \n "}]}, ["body", "chapters", 0, "text"], "empty"),
        (
            {"chapters": [{"text": "a" * 4000}] * 6},
            ["body", "chapters"],
            "20000",
        ),
        (book(1, voice={"name": "zz-none"}), ["body", "voice"], "unknown voice"),
        (book(1, voice={"engine": "nope"}), ["body", "voice"], "unknown engine"),
        (
            {"chapters": [{"text": "Fine."}, {"text": "<speak><p>Open</speak>"}]},
            ["body", "chapters", 1, "text"],
            "not well-formed",
        ),
        (
            {"chapters": [{"text": '<!DOCTYPE x [<!ENTITY a "b">]><speak>&a;</speak>'}]},
            ["body", "chapters", 0, "text"],
            "DOCTYPE",
        ),
    ],
)
async def test_queue_limits_answer_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any], words: str
) -> None:
    r = await client.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 422, r.text
    assert locs(r) == [loc]
    assert words in r.json()["detail"][0]["msg"]


async def test_body_too_large_answers_413(client: httpx.AsyncClient) -> None:
    big = book(1)
    big["chapters"][0]["text"] = "a" * 70_000
    r = await client.post("/v1/jobs", json=big, headers=ALICE)
    assert r.status_code == 413
    assert r.json()["detail"][0]["msg"].startswith("request body larger than")


async def test_streamed_body_without_length_is_counted(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"a" * 1024

    r = await client.post(
        "/v1/jobs", content=chunks(), headers={**ALICE, "Content-Type": "text/plain"}
    )
    assert r.status_code == 413


async def test_invalid_content_length_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/jobs", content=b"{}", headers={**JSON, "Content-Length": "abc"})
    assert r.status_code == 400


async def test_text_bodies_must_decode_and_have_text(client: httpx.AsyncClient) -> None:
    h = {**ALICE, "Content-Type": "text/plain"}
    utf8 = {**ALICE, "Content-Type": "text/plain; charset=utf-8"}
    r = await client.post("/v1/jobs", content=b"caf\xe9 au lait", headers=utf8)
    assert r.status_code == 422
    assert "utf-8" in r.json()["detail"][0]["msg"]
    r = await client.post("/v1/jobs", content=b"caf\xe9 au lait", headers=h)
    assert r.status_code == 201, r.text  # undeclared, not UTF-8: Windows-1252
    r = await client.post("/v1/jobs", content=b"   \n\n ", headers=h)
    assert r.status_code == 422
    r = await client.post("/v1/jobs", content=b"words", params={"speed": "fast"}, headers=h)
    assert r.status_code == 422
    assert locs(r) == [["query", "speed"]]


async def test_unknown_content_type_is_415(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/jobs", content=b"<book/>", headers={**ALICE, "Content-Type": "application/xml"}
    )
    assert r.status_code == 415


async def test_malformed_multipart_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/jobs",
        content=b"--x\r\nbroken",
        headers={**ALICE, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code in (400, 422)


async def test_submissions_per_minute_answer_429_with_retry_after(
    client: httpx.AsyncClient, settings: Settings, app: Any
) -> None:
    app.state.api.submissions.limit = 3
    for _ in range(3):
        assert (await client.post("/v1/jobs", json=book(1), headers=ALICE)).status_code == 201
    r = await client.post("/v1/jobs", json=book(1), headers=ALICE)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert (await client.post("/v1/jobs", json=book(1), headers=BOB)).status_code == 201


async def test_active_jobs_per_user_answer_429(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.max_active_jobs = 2
    await submit(client, ALICE, n=1)
    second = await submit(client, ALICE, n=1)
    r = await client.post("/v1/jobs", json=book(1), headers=ALICE)
    assert r.status_code == 429
    assert "unfinished" in r.json()["detail"][0]["msg"]
    assert "retry-after" in r.headers
    await client.delete(f"/v1/jobs/{second}", headers=ALICE)
    assert (await client.post("/v1/jobs", json=book(1), headers=ALICE)).status_code == 201


async def test_the_active_jobs_answer_names_the_limit_and_no_input(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.max_active_jobs = 1
    await submit(client, ALICE, n=1)
    for url, body in (("/v1/jobs", book(1)), ("/api/tts/queue", {"chapters": [{"text": "a"}]})):
        r = await client.post(url, json=body, headers=ALICE)
        assert r.status_code == 429, r.text
        (item,) = r.json()["detail"]
        assert item["loc"] == []
        assert "max_active_jobs" in item["msg"] and "at most 1 " in item["msg"]


async def test_retry_counts_against_the_active_jobs_cap(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.max_active_jobs = 2
    first = await submit(client, ALICE, n=1)
    await client.delete(f"/v1/jobs/{first}", headers=ALICE)
    await submit(client, ALICE, n=1)
    second = await submit(client, ALICE, n=1)
    r = await client.post(f"/v1/jobs/{first}/retry", headers=ALICE)
    assert r.status_code == 429, r.text
    assert "max_active_jobs" in r.json()["detail"][0]["msg"]
    assert (await client.get(f"/v1/jobs/{first}", headers=ALICE)).json()["status"] == "cancelled"
    await client.delete(f"/v1/jobs/{second}", headers=ALICE)
    r = await client.post(f"/v1/jobs/{first}/retry", headers=ALICE)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "queued"


async def test_retry_counts_against_the_submission_rate(
    client: httpx.AsyncClient, app: Any
) -> None:
    job = await submit(client, ALICE, n=1)
    await client.delete(f"/v1/jobs/{job}", headers=ALICE)
    app.state.api.submissions.limit = 2  # the submission above was the first
    assert (await client.post(f"/v1/jobs/{job}/retry", headers=ALICE)).status_code == 200
    await client.delete(f"/v1/jobs/{job}", headers=ALICE)
    r = await client.post(f"/v1/jobs/{job}/retry", headers=ALICE)
    assert r.status_code == 429, r.text
    assert "per minute" in r.json()["detail"][0]["msg"]
    assert "retry-after" in r.headers


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/v1/jobs?limit=0", ["query", "limit"]),
        ("/v1/jobs?limit=99999999999999999999", ["query", "limit"]),
        ("/v1/jobs?status=lost", ["query", "status"]),
        ("/v1/jobs?cursor=%%%", ["query", "cursor"]),
        ("/v1/jobs?cursor=" + "A" * 1001, ["query", "cursor"]),
        ("/v1/jobs/not-a-uuid", ["path", "job_id"]),
        ("/v1/jobs/00000000-0000-7000-8000-000000000000", ["path", "job_id"]),
        ("/v1/jobs/00000000-0000-7000-8000-000000000000/events?after=-1", ["query", "after"]),
        ("/v1/jobs/00000000-0000-7000-8000-000000000000/chapters/0/audio", ["path", "n"]),
        ("/v1/jobs/%00%ff/audio", ["path", "job_id"]),
        ("/api/tts/queue?jobId=../../etc", ["query", "jobId"]),
    ],
)
async def test_bad_query_and_path_values_are_4xx(
    client: httpx.AsyncClient, url: str, loc: list[str]
) -> None:
    r = await client.get(url, headers=ALICE)
    assert r.status_code in (404, 422), r.text
    assert locs(r)[0] == loc


async def test_a_well_formed_but_unknown_cursor_is_harmless(client: httpx.AsyncClient) -> None:
    await submit(client, ALICE, n=1)
    r = await client.get("/v1/jobs", params={"cursor": "bm9wZQ"}, headers=ALICE)
    assert r.status_code in (200, 422)


async def test_bad_last_event_id_is_422(client: httpx.AsyncClient) -> None:
    job_id = await submit(client, ALICE, n=1)
    r = await client.get(f"/v1/jobs/{job_id}/events", headers={**ALICE, "Last-Event-ID": "seven"})
    assert r.status_code == 422
    assert locs(r) == [["header", "Last-Event-ID"]]


async def test_deeply_nested_json_is_refused_not_crashed(client: httpx.AsyncClient) -> None:
    deep = b'{"chapters":' + b"[" * 30000 + b"]" * 30000 + b"}"
    for url in ("/v1/jobs", "/api/tts/queue"):
        r = await client.post(url, content=deep, headers=JSON)
        assert r.status_code in (400, 422), (url, r.status_code)


async def test_a_voice_cannot_name_a_file_on_the_server(
    client: httpx.AsyncClient, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the path exists or not, the answer is the same 422: no file is read and
    nothing is learnt about the server's files."""
    monkeypatch.delenv("TTSQUEUE_PIPER_VOICES_DIR", raising=False)
    (tmp_path / "real.onnx").write_bytes(b"model")
    (tmp_path / "real.onnx.json").write_text("{}")
    answers = []
    for path in (tmp_path / "real.onnx", tmp_path / "absent.onnx"):
        body = book(1, voice={"engine": "piper", "name": str(path)})
        r = await client.post("/v1/jobs", json=body, headers=ALICE)
        assert r.status_code == 422, r.text
        (item,) = r.json()["detail"]
        assert item["loc"] == ["body", "voice"]
        answers.append(item["msg"].replace(str(path), "PATH"))
    assert answers[0] == answers[1]
