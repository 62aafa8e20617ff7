"""The Python webhook verifier, with the Standard Webhooks specification's test vector."""

from __future__ import annotations

import base64

import pytest

from ttsqueue.client.webhooks import WebhookVerificationError, sign_webhook, verify_webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = '{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER = "whsec_" + base64.b64encode(b"another secret entirely, 32 byte").decode()


def headers(
    signature: str = EXPECTED, ts: str = str(TIMESTAMP), msg: str = MSG_ID
) -> dict[str, str]:
    return {"webhook-id": msg, "webhook-timestamp": ts, "webhook-signature": signature}


def test_the_specification_vector() -> None:
    assert sign_webhook(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED
    assert verify_webhook(BODY, headers(), SECRET, now=TIMESTAMP) == {"test": 2432232314}
    bare = SECRET.removeprefix("whsec_")
    assert verify_webhook(BODY.encode(), headers(), bare, now=TIMESTAMP + 299)
    mixed = {
        "Webhook-Id": MSG_ID,
        "Webhook-Timestamp": str(TIMESTAMP),
        "Webhook-Signature": EXPECTED,
    }
    assert verify_webhook(BODY, mixed, [OTHER, SECRET], now=TIMESTAMP)
    several = f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,xyz {EXPECTED}"
    assert verify_webhook(BODY, headers(several), SECRET, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("body", "hdrs", "now", "match"),
    [
        ('{"test": 2432232315}', headers(), TIMESTAMP, "no matching"),
        (BODY, headers(ts=str(TIMESTAMP + 1)), TIMESTAMP, "no matching"),
        (BODY, headers(msg="msg_other"), TIMESTAMP, "no matching"),
        (BODY, headers(EXPECTED.replace("v1,", "v2,")), TIMESTAMP, "no matching"),
        (BODY, headers("v1,not base64!!"), TIMESTAMP, "no matching"),
        (BODY, headers(), TIMESTAMP + 301, "too old"),
        (BODY, headers(), TIMESTAMP - 301, "too new"),
        (BODY, headers(), None, "too old"),
        (BODY, headers(ts="hello"), TIMESTAMP, "invalid webhook-timestamp"),
        (BODY, {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)}, TIMESTAMP, "missing"),
    ],
)
def test_refusals(body: str, hdrs: dict[str, str], now: float | None, match: str) -> None:
    with pytest.raises(WebhookVerificationError, match=match):
        verify_webhook(body, hdrs, SECRET, now=now)


def test_a_wrong_secret_and_bad_secrets() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, headers(), OTHER, now=TIMESTAMP)
    for bad in ("", "whsec_", "whsec_!!", b""):
        with pytest.raises(ValueError):
            verify_webhook(BODY, headers(), bad, now=TIMESTAMP)
    with pytest.raises(ValueError):
        verify_webhook(BODY, headers(), [], now=TIMESTAMP)


def test_signed_now_verifies_with_the_clock() -> None:
    import time

    now = int(time.time())
    body = '{"type": "job.completed", "data": {"job_id": "j1"}}'
    sig = sign_webhook(SECRET, "msg_1", now, body)
    assert verify_webhook(body, headers(sig, str(now), "msg_1"), SECRET)["type"] == "job.completed"
    assert (
        verify_webhook(b"", headers(sign_webhook(SECRET, "m", now, b""), str(now), "m"), SECRET)
        is None
    )
