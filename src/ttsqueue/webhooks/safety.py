"""Where webhooks may go: public addresses only, checked when an endpoint is registered
and again on the address actually connected to (a name may resolve elsewhere later).

An address is refused unless it is globally routable: private, loopback, link-local
(the cloud metadata address 169.254.169.254 among them), shared, reserved,
documentation and unspecified addresses, and multicast. IPv4-mapped IPv6 addresses are
judged as the IPv4 address they carry. ``allow_private`` (a setting for tests and
closed networks) lifts the rule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

MAX_URL_CHARS = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL or the address it resolves to may not receive webhooks."""


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not receive webhooks, or ``None`` when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if not ip.is_global:
        return "a private or reserved address"
    return None


def parse_target(url: str, *, allow_http: bool) -> SplitResult:
    """Check the form of a webhook URL (scheme, host, no credentials); answers its parts."""
    if len(url) > MAX_URL_CHARS:
        raise UnsafeTarget(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeTarget("the URL must start with " + " or ".join(f"{s}://" for s in schemes))
    if not parts.hostname:
        raise UnsafeTarget("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL may not carry a user name or password")
    if port == 0:
        raise UnsafeTarget("the URL's port must be 1-65535")
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """The addresses ``host`` resolves to, every one of them allowed (or
    :class:`UnsafeTarget`)."""
    literal = _literal(host)
    if literal is not None:
        found = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeTarget(f"the host {host!r} does not resolve: {exc}") from None
        found = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in found:
                found.append(ip)
        if not found:
            raise UnsafeTarget(f"the host {host!r} does not resolve")
    if not allow_private:
        for ip in found:
            why = refusal(ip)
            if why is not None:
                raise UnsafeTarget(f"the host {host!r} is {why} ({ip}): refused")
    return found


async def check_url(url: str, *, allow_private: bool, allow_http: bool) -> str:
    """Check a URL at registration: its form, and every address its host resolves to."""
    parts = parse_target(url, allow_http=allow_http)
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await resolve(parts.hostname, port, allow_private=allow_private)
    return url
