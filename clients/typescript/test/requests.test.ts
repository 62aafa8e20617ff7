// How the client builds requests and reads error answers, on a fetch that records them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { TTSQueue, TTSQueueError } from "ttsqueue";

function recording(answer: () => Response) {
  const seen: Request[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push(new Request(input, init));
    return answer();
  };
  return { seen, fetch };
}

test("a token function is asked for every request; headers and query are sent", async () => {
  const { seen, fetch } = recording(() => Response.json({ items: [], next_cursor: null }));
  let n = 0;
  const client = new TTSQueue({
    baseUrl: "https://h.test/tts",
    token: async () => `tok-${++n}`,
    headers: { "X-App": "a" },
    fetch,
  });
  await client.getUserJobs({ status: "failed", limit: 5 });
  await client.getUserJobs();
  assert.equal(seen[0]!.url, "https://h.test/tts/v1/jobs?status=failed&limit=5");
  assert.equal(seen[0]!.headers.get("authorization"), "Bearer tok-1");
  assert.equal(seen[1]!.headers.get("authorization"), "Bearer tok-2");
  assert.equal(seen[0]!.headers.get("x-app"), "a");
  assert.equal(seen[1]!.url, "https://h.test/tts/v1/jobs");
  const anonymous = new TTSQueue({ baseUrl: "https://h.test", fetch });
  await anonymous.getUserJobs();
  assert.equal(seen[2]!.headers.get("authorization"), null);
});

test("submissions send the body, content type and idempotency key", async () => {
  const { seen, fetch } = recording(() => Response.json({ id: "j1" }, { status: 201 }));
  const client = new TTSQueue({ baseUrl: "http://h.test", token: "t", fetch });
  await client.addJob({ chapters: [{ text: "Hi." }] }, { idempotencyKey: "k1" });
  assert.equal(seen[0]!.method, "POST");
  assert.equal(seen[0]!.headers.get("content-type"), "application/json");
  assert.equal(seen[0]!.headers.get("idempotency-key"), "k1");
  assert.deepEqual(await seen[0]!.json(), { chapters: [{ text: "Hi." }] });
  await client.addJobFromText("# T\n\nHi.", { title: "T", markdown: false });
  assert.equal(seen[1]!.url, "http://h.test/v1/jobs?title=T&markdown=false");
  assert.match(seen[1]!.headers.get("content-type") ?? "", /^text\/plain/);
  await client.addJobFromFile(new Blob(["Hi."]), "b.md");
  const form = await seen[2]!.formData();
  assert.equal((form.get("file") as File).name, "b.md");
  await client.retryJob("a/b");
  assert.equal(seen[3]!.url, "http://h.test/v1/jobs/a%2Fb/retry");
});

test("pause and resume send the engine, null for every engine", async () => {
  const { seen, fetch } = recording(() => Response.json({ engine: null, since: "2026-01-01T00:00:00Z" }));
  const client = new TTSQueue({ baseUrl: "http://h.test", token: "t", fetch });
  await client.pause();
  await client.pause("espeak");
  await client.resume("espeak");
  await client.getPauses();
  await client.drainWorker("h/1");
  assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), [
    "POST http://h.test/v1/admin/pause",
    "POST http://h.test/v1/admin/pause",
    "POST http://h.test/v1/admin/resume",
    "GET http://h.test/v1/admin/pauses",
    "POST http://h.test/v1/admin/workers/h%2F1/drain",
  ]);
  assert.deepEqual(await seen[0]!.json(), { engine: null });
  assert.deepEqual(await seen[1]!.json(), { engine: "espeak" });
  assert.deepEqual(await seen[2]!.json(), { engine: "espeak" });
  assert.equal(seen[0]!.headers.get("content-type"), "application/json");
});

test("error answers become TTSQueueError with detail and Retry-After", async () => {
  const answers = [
    Response.json({ detail: [{ loc: ["body", "chapters"], msg: "at least one", type: "missing" }] }, { status: 422 }),
    Response.json({ detail: "slow down" }, { status: 429, headers: { "Retry-After": "7" } }),
    new Response("<html>bad gateway</html>", { status: 502 }),
  ];
  const { fetch } = recording(() => answers.shift()!);
  const client = new TTSQueue({ baseUrl: "http://h.test", fetch });
  const expect = async (status: number, message: string, retryAfter: number | null) => {
    await assert.rejects(client.getQueueStats(), (error: unknown) => {
      assert.ok(error instanceof TTSQueueError);
      assert.equal(error.status, status);
      assert.equal(error.message, message);
      assert.equal(error.retryAfter, retryAfter);
      return true;
    });
  };
  await expect(422, "422: at least one (body.chapters)", null);
  await expect(429, "429: slow down", 7);
  await expect(502, "502: <html>bad gateway</html>", null);
});

test("a request that takes longer than timeoutMs is aborted", async () => {
  const client = new TTSQueue({
    baseUrl: "http://h.test",
    timeoutMs: 50,
    fetch: (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
      }),
  });
  // AbortSignal.timeout's timer does not keep Node alive by itself (a real socket would)
  const alive = setTimeout(() => undefined, 10_000);
  const started = Date.now();
  try {
    await assert.rejects(client.health(), (error: unknown) => (error as Error).name === "TimeoutError");
  } finally {
    clearTimeout(alive);
  }
  assert.ok(Date.now() - started < 5000);
});
