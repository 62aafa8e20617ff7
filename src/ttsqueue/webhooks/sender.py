"""One HTTP attempt of one webhook: resolve, check the address, connect to that
address (never a second lookup), post, read at most a little of the answer.

Redirects are never followed (a 3xx is a failed attempt), the whole attempt has one
deadline, and the receiver's body is read only up to ``MAX_RESPONSE_BYTES`` (kept,
cut short, in the delivery log as the error of a failed attempt).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

import httpx

from ttsqueue import __version__
from ttsqueue.webhooks.safety import UnsafeTarget, parse_target, resolve
from ttsqueue.webhooks.signature import sign_webhook

MAX_RESPONSE_BYTES = 1024
MAX_ERROR_CHARS = 500
USER_AGENT = f"ttsqueue-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class Attempt:
    delivered: bool
    status: int | None  # the receiver's HTTP status, None when none came
    error: str | None


def signed_headers(msg_id: str, timestamp: int, body: bytes, secrets: list[str]) -> dict[str, str]:
    """The Standard Webhooks headers, one ``v1,`` signature per valid secret."""
    signatures = " ".join(sign_webhook(s, msg_id, timestamp, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _address_url(
    scheme: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, path: str, query: str
) -> str:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"{scheme}://{host}:{port}{path or '/'}{'?' + query if query else ''}"


async def post(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    timeout_s: float,
    allow_private: bool,
    allow_http: bool,
) -> Attempt:
    try:
        async with asyncio.timeout(timeout_s):
            return await _post(client, url, headers, body, timeout_s, allow_private, allow_http)
    except TimeoutError:
        return Attempt(False, None, f"no answer within {timeout_s:g} s")
    except UnsafeTarget as exc:
        return Attempt(False, None, str(exc))
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])


async def _post(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    timeout_s: float,
    allow_private: bool,
    allow_http: bool,
) -> Attempt:
    parts = parse_target(url, allow_http=allow_http)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    (ip, *_) = await resolve(host, port, allow_private=allow_private)
    default_port = port == (443 if parts.scheme == "https" else 80)
    host_header = host if ":" not in host else f"[{host}]"
    if not default_port:
        host_header += f":{port}"
    request = client.build_request(
        "POST",
        _address_url(parts.scheme, ip, port, parts.path, parts.query),
        headers={**headers, "host": host_header},
        content=body,
        timeout=httpx.Timeout(timeout_s),
        extensions={"sni_hostname": host} if parts.scheme == "https" else {},
    )
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        text = b""
        async for chunk in response.aiter_raw():
            text += chunk
            if len(text) >= MAX_RESPONSE_BYTES:
                break
    finally:
        await response.aclose()
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code, None)
    if 300 <= response.status_code < 400:
        where = response.headers.get("location", "")[:200]
        return Attempt(False, response.status_code, f"redirect to {where!r} not followed")
    snippet = text[:MAX_RESPONSE_BYTES].decode("utf-8", "replace").strip()
    message = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
    return Attempt(False, response.status_code, message[:MAX_ERROR_CHARS])
