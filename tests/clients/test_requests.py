"""How the clients build requests and read error answers, on a mock transport."""

from __future__ import annotations

import httpx
import pytest

from ttsqueue.client import AsyncClient, Client, ClientError


def recorder(response: httpx.Response) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return seen, httpx.MockTransport(handle)


def test_base_path_quoting_and_headers() -> None:
    body = {"detail": [{"loc": ["path", "job_id"], "msg": "no job", "type": "notfound"}]}
    seen, transport = recorder(httpx.Response(404, json=body))
    client = Client("https://h.test/tts/", "tok", transport=transport, headers={"X-App": "a"})
    with pytest.raises(ClientError) as err:
        client.get_job("a/b")
    assert str(seen[0].url) == "https://h.test/tts/v1/jobs/a%2Fb"
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert seen[0].headers["x-app"] == "a"
    assert seen[0].headers["user-agent"].startswith("ttsqueue-client/")
    assert str(err.value) == "404: no job (path.job_id)"
    assert err.value.type == "notfound" and err.value.retry_after is None
    assert client.audio_url("x", 2) == "https://h.test/tts/v1/jobs/x/chapters/2/audio"
    with pytest.raises(ValueError):
        client.get_job("")

    other = client.with_token("tok2")
    with pytest.raises(ClientError):
        other.cancel_job("j")
    assert seen[-1].method == "DELETE" and seen[-1].headers["authorization"] == "Bearer tok2"


def test_query_parameters_leave_out_what_is_unset() -> None:
    seen, transport = recorder(httpx.Response(200, json={"items": [], "next_cursor": None}))
    client = Client("http://h.test", transport=transport)
    client.get_user_jobs(status="failed", limit=5)
    client.get_user_jobs(all_users=True, user="bob")
    assert seen[0].url.query == b"status=failed&limit=5"
    assert seen[1].url.query == b"all=true&user=bob"
    assert "authorization" not in seen[0].headers
    with pytest.raises(ValueError):
        client.get_user_jobs(status="nonsense")


@pytest.mark.parametrize(
    ("response", "message", "retry_after"),
    [
        (
            httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow"}),
            "429: slow",
            7,
        ),
        (
            httpx.Response(502, text="<html>bad gateway</html>"),
            "502: <html>bad gateway</html>",
            None,
        ),
        (httpx.Response(500), "500 Internal Server Error", None),
        (
            httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            "503 Service Unavailable",
            0,
        ),
    ],
)
async def test_error_answers(response: httpx.Response, message: str, retry_after: float) -> None:
    _, transport = recorder(response)
    async with AsyncClient("http://h.test", "t", transport=transport) as client:
        with pytest.raises(ClientError) as err:
            await client.get_queue_stats()
    assert str(err.value) == message
    assert err.value.status_code == response.status_code
    assert err.value.retry_after == retry_after
