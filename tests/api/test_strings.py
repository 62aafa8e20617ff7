"""One rule for strings on every route, the same on every store: NUL, lone surrogates
and control characters (but line breaks and tabs in text) answer 422 naming the field,
never 500 and never a job that fails later."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import ADMIN, ALICE, book
from ttsqueue import strings
from ttsqueue.api.guards import StringGuard

JSON = {**ALICE, "Content-Type": "application/json"}


@pytest.fixture
async def client(store_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return store_client


def raw(body: dict[str, Any]) -> bytes:
    """JSON as a client may send it: escapes such as \\u0000 and \\ud800 kept."""
    return json.dumps(body).encode()


def chapter(**kw: Any) -> dict[str, Any]:
    return book(1, chapters=[{"title": "One", "text": "Hello.", **kw}])


V1_CASES = [
    (book(1, title="a\x00b"), ["body", "title"]),
    (book(1, author="\x07"), ["body", "author"]),
    (book(1, work_id="w\x00"), ["body", "work_id"]),
    (book(1, idempotency_key="k\x1b"), ["body", "idempotency_key"]),
    (book(1, voice={"name": "en\x00us"}), ["body", "voice", "name"]),
    (book(1, voice={"engine": "espeak\x7f"}), ["body", "voice", "engine"]),
    (chapter(text="Hello\x00world."), ["body", "chapters", 0, "text"]),
    (chapter(text="Hello\x0bworld."), ["body", "chapters", 0, "text"]),
    (chapter(text="Hello\x85world."), ["body", "chapters", 0, "text"]),
    (chapter(title="One\ntwo"), ["body", "chapters", 0, "title"]),
    (chapter(title="One\ttwo"), ["body", "chapters", 0, "title"]),
    (chapter(id="c\x00"), ["body", "chapters", 0, "id"]),
    (chapter(text="\ud800"), ["body"]),  # not JSON the body parser takes
]


@pytest.mark.parametrize(("body", "loc"), V1_CASES)
async def test_v1_json_fields(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any]
) -> None:
    r = await client.post("/v1/jobs", content=raw(body), headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


LEGACY_CASES = [
    ({"chapters": [{"text": "Hi \ud800 there."}]}, ["body", "chapters", 0, "text"]),
    ({"chapters": [{"text": "Hi \udfff"}]}, ["body", "chapters", 0, "text"]),
    ({"chapters": [{"text": "Hi \x00"}]}, ["body", "chapters", 0, "text"]),
    ({"chapters": [{"text": "Hi", "title": "\ud83d"}]}, ["body", "chapters", 0, "title"]),
    ({"chapters": [{"text": "Hi"}], "title": "\x00"}, ["body", "title"]),
    ({"chapters": [{"text": "Hi"}], "workId": "\x00"}, ["body", "workId"]),
    ({"chapters": [{"text": "Hi"}], "jobType": "\x00"}, ["body", "jobType"]),
    ({"chapters": [{"text": "Hi"}], "idempotencyKey": "\x01"}, ["body", "idempotencyKey"]),
    (
        {"chapters": [{"text": "Hi"}], "voiceSettings": {"voice": "\x00"}},
        ["body", "voiceSettings", "voice"],
    ),
]


@pytest.mark.parametrize(("body", "loc"), LEGACY_CASES)
async def test_legacy_fields(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any]
) -> None:
    r = await client.post("/api/tts/queue", content=raw(body), headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    assert r.json()["success"] is False


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/markdown", "# Title\n\nHello \x00 world.\n"),
        ("text/plain", "Hello \x1b[31m world.\n"),
        ("text/plain", "Hello \u009b world.\n"),
    ],
)
async def test_text_bodies(client: httpx.AsyncClient, content_type: str, body: str) -> None:
    headers = {**ALICE, "Content-Type": content_type}
    r = await client.post("/v1/jobs", content=body.encode(), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "chapters", 0, "text"]


async def test_uploaded_files(client: httpx.AsyncClient) -> None:
    files = {"file": ("book.txt", b"Hello \x00 world.\n", "text/plain")}
    r = await client.post("/v1/jobs", files=files, headers=ALICE)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "chapters", 0, "text"]


async def test_text_may_hold_line_breaks_and_tabs(client: httpx.AsyncClient) -> None:
    body = chapter(text="Line one,\tthen a tab.\r\nLine two.\n\nA paragraph.")
    r = await client.post("/v1/jobs", content=raw(body), headers=JSON)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/jobs",
        content=b"Line one.\r\n\tLine two.\r\n",
        headers={**ALICE, "Content-Type": "text/plain"},
    )
    assert r.status_code == 201, r.text


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


NUL_CURSOR = _b64("a\x00b")
NUL_SEARCH_CURSOR = _b64(json.dumps(["\x00", 5, 0]))


@pytest.mark.parametrize(
    ("method", "url", "headers", "loc"),
    [
        ("GET", "/v1/jobs?cursor=%00", ALICE, ["query", "cursor"]),
        ("GET", f"/v1/jobs?cursor={NUL_CURSOR}", ALICE, ["query", "cursor"]),
        ("GET", "/v1/jobs?user=%00&all=false", ADMIN, ["query", "user"]),
        ("GET", "/v1/jobs?%00=1", ALICE, ["query", "\\x00"]),
        ("GET", "/api/tts/queue?jobId=%00", ALICE, ["query", "jobId"]),
        ("DELETE", "/api/tts/queue?jobId=a%07", ALICE, ["query", "jobId"]),
        ("GET", "/v1/admin/jobs?q=%1b", ADMIN, ["query", "q"]),
        ("GET", "/v1/admin/jobs?user=a%00", ADMIN, ["query", "user"]),
        (
            "GET",
            f"/v1/admin/jobs?cursor={NUL_SEARCH_CURSOR}",
            ADMIN,
            ["query", "cursor"],
        ),
        ("POST", "/v1/jobs?title=%00", {**ALICE, "Content-Type": "text/plain"}, ["query", "title"]),
        (
            "POST",
            "/v1/jobs?voice=en%0a",
            {**ALICE, "Content-Type": "text/plain"},
            ["query", "voice"],
        ),
    ],
)
async def test_query_parameters(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], loc: list[Any]
) -> None:
    r = await client.request(method, url, headers=headers, content=b"Hello.")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


async def test_read_headers(client: httpx.AsyncClient) -> None:
    headers: dict[str, Any] = {**JSON, "Idempotency-Key": b"key\x85"}
    r = await client.post("/v1/jobs", content=raw(book(1)), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    r = await client.get("/v1/jobs", headers={"Authorization": b"Bearer abc\x9f"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["header", "Authorization"]


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00",
        "since=0001-01-01T00:00:00%2B05:00",
        "until=9999-12-31T23:59:59",
        "until=9999-12-31T23:59:59-05:00",
        "since=1970-01-01&until=0001-01-01T00:00:00Z",
    ],
)
async def test_admin_search_dates_at_the_ends_of_time(
    client: httpx.AsyncClient, query: str
) -> None:
    await client.post("/v1/jobs", content=raw(book(1)), headers=JSON)
    r = await client.get(f"/v1/admin/jobs?{query}", headers=ADMIN)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "run_at", ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "9999-12-31T23:59:59-12:00", 0]
)
async def test_run_at_at_the_ends_of_time(client: httpx.AsyncClient, run_at: Any) -> None:
    r = await client.post("/v1/jobs", content=raw(book(1, run_at=run_at)), headers=JSON)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201:
        got = await client.get(f"/v1/jobs/{r.json()['id']}", headers=ALICE)
        assert got.status_code == 200, got.text
    else:
        assert r.json()["detail"][0]["loc"][:2] == ["body", "run_at"]


def test_the_rule() -> None:
    assert strings.problem("plain text, é, 漢字, 🙂") is None
    assert strings.problem("line\nbreak\ttab\r\n", text=True) is None
    for bad in ("\x00", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x80", "\x9f", "\ud800", "\udfff"):
        assert strings.problem(f"a{bad}b") is not None
        assert strings.problem(f"a{bad}b", text=True) is not None
    for ws in ("\n", "\t", "\r"):
        assert strings.problem(ws) is not None
    assert "NUL" in (strings.problem("\x00") or "")
    assert "surrogate" in (strings.problem("\ud800") or "")


async def test_a_websocket_with_a_bad_query_is_refused_before_the_handshake() -> None:
    reached: list[object] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/v1/ws", "query_string": b"token=a%00b", "headers": []}
    await StringGuard(app)(scope, receive, send)
    assert reached == [] and sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008
    await StringGuard(app)({**scope, "query_string": b"token=ab"}, receive, send)
    assert len(reached) == 1
