// The Standard Webhooks verifier, with the specification's own test vector.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Webhook, WebhookVerificationError, verifyWebhook } from "ttsqueue/webhooks";

// From the specification's reference test suite.
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const AT = TIMESTAMP * 1000;

function headers(signature: string, timestamp = String(TIMESTAMP), id = MSG_ID): Record<string, string> {
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature };
}

const rejects = (p: Promise<unknown>, pattern: RegExp) =>
  assert.rejects(p, (e: unknown) => e instanceof WebhookVerificationError && pattern.test(e.message));

test("signs the specification's test vector", async () => {
  assert.equal(await new Webhook(SECRET).sign(MSG_ID, new Date(AT), PAYLOAD), EXPECTED);
  assert.equal(await new Webhook(SECRET).sign(MSG_ID, TIMESTAMP, PAYLOAD), EXPECTED);
});

test("verifies it and answers the parsed body", async () => {
  const body = await verifyWebhook<{ test: number }>(PAYLOAD, headers(EXPECTED), SECRET, { now: AT });
  assert.deepEqual(body, { test: 2432232314 });
  // without the whsec_ prefix, from raw bytes, and from a fetch Headers object
  const bare = SECRET.slice("whsec_".length);
  const bytes = new TextEncoder().encode(PAYLOAD);
  assert.deepEqual(
    await new Webhook(bare).verify(bytes, new Headers(headers(EXPECTED)), { now: AT }),
    { test: 2432232314 },
  );
  // header names in any case, as Node's IncomingMessage may hand them over
  const mixed = { "Webhook-Id": MSG_ID, "WEBHOOK-TIMESTAMP": String(TIMESTAMP), "webhook-signature": EXPECTED };
  await new Webhook(SECRET).verify(PAYLOAD, mixed, { now: AT });
});

test("accepts any one of several signatures, and any one of several secrets", async () => {
  const others = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
  await new Webhook(SECRET).verify(PAYLOAD, headers(`${others} ${EXPECTED} v1a,abc`), { now: AT });
  const rotated = "whsec_" + btoa("a brand new secret of 32 bytes!!");
  await new Webhook([rotated, SECRET]).verify(PAYLOAD, headers(EXPECTED), { now: AT });
  await rejects(new Webhook(rotated).verify(PAYLOAD, headers(EXPECTED), { now: AT }), /no matching/);
});

test("refuses a changed body, id or timestamp, and a wrong secret", async () => {
  const wh = new Webhook(SECRET);
  await rejects(wh.verify('{"test": 2432232315}', headers(EXPECTED), { now: AT }), /no matching/);
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED, String(TIMESTAMP + 1)), { now: AT }), /no matching/);
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED, undefined, "msg_other"), { now: AT }), /no matching/);
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED.slice(0, -4)), { now: AT }), /no matching/);
  await rejects(wh.verify(PAYLOAD, headers("v1,"), { now: AT }), /no matching/);
  await rejects(wh.verify(PAYLOAD, headers("v1,***not base64***"), { now: AT }), /no matching/);
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED.replace("v1,", "v2,")), { now: AT }), /no matching/);
  const other = new Webhook("whsec_" + btoa("another secret entirely, 32 byte"));
  await rejects(other.verify(PAYLOAD, headers(EXPECTED), { now: AT }), /no matching/);
});

test("refuses a timestamp outside the tolerance, or not a number", async () => {
  const wh = new Webhook(SECRET);
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED), { now: AT + 301_000 }), /too old/);
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED), { now: AT - 301_000 }), /too new/);
  await wh.verify(PAYLOAD, headers(EXPECTED), { now: AT + 299_000 });
  await wh.verify(PAYLOAD, headers(EXPECTED), { now: AT + 3_000_000, toleranceSeconds: 3600 });
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED, "hello"), { now: AT }), /invalid webhook-timestamp/);
  // by default the tolerance is measured from the real clock: 2021 is long past
  await rejects(wh.verify(PAYLOAD, headers(EXPECTED)), /too old/);
});

test("a fresh message signed now verifies with the real clock", async () => {
  const wh = new Webhook(SECRET);
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ type: "job.completed", data: { id: "j1" } });
  const signature = await wh.sign("msg_1", now, body);
  assert.deepEqual(await wh.verify(body, headers(signature, String(now), "msg_1")), {
    type: "job.completed",
    data: { id: "j1" },
  });
  assert.equal(await wh.verify("", headers(await wh.sign("msg_2", now, ""), String(now), "msg_2")), undefined);
});

test("refuses missing headers and empty secrets", async () => {
  const wh = new Webhook(SECRET);
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const h = headers(EXPECTED);
    delete h[name];
    await rejects(wh.verify(PAYLOAD, h, { now: AT }), /missing/);
  }
  assert.throws(() => new Webhook(""), TypeError);
  assert.throws(() => new Webhook("whsec_"), TypeError);
  assert.throws(() => new Webhook([]), TypeError);
  assert.throws(() => new Webhook("whsec_not base64!"), TypeError);
});
