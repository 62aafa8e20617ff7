"""Which webhook targets are refused, at registration."""

from __future__ import annotations

import ipaddress

import pytest

from ttsqueue.webhooks.safety import UnsafeTarget, check_url, refusal


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "private"),  # shared address space
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.0.0.5/hook", "private"),
        ("ftp://93.184.216.34/hook", "must start with"),
        ("https://user:pw@93.184.216.34/hook", "user name or password"),
        ("https:///hook", "no host"),
        ("https://93.184.216.34:99999/hook", "not a valid URL"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_unsafe_urls_are_refused_at_registration(url: str, message: str) -> None:
    with pytest.raises(UnsafeTarget, match=message):
        await check_url(url, allow_private=False, allow_http=True)


async def test_http_can_be_refused_and_private_targets_allowed() -> None:
    with pytest.raises(UnsafeTarget, match="https://"):
        await check_url("http://93.184.216.34/hook", allow_private=False, allow_http=False)
    assert await check_url("https://93.184.216.34/x", allow_private=False, allow_http=False)
    url = "http://127.0.0.1:9/hook"
    assert await check_url(url, allow_private=True, allow_http=True) == url
