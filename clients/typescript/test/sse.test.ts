// The event stream's parser and its reconnection, against a local server that drops
// the connection mid-stream.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";

import { TTSQueue, TTSQueueError, parseSse, type SseMessage } from "ttsqueue";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function parseAll(chunks: string[], retries: number[] = []): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of parseSse(streamOf(chunks), { onRetry: (ms) => retries.push(ms) })) {
    out.push(m);
  }
  return out;
}

test("parses fields, comments, multi-line data and every line ending", async () => {
  const retries: number[] = [];
  const messages = await parseAll(
    [
      "\uFEFFretry: 2500\n\n: keep-alive\n\n",
      "id: 1\nevent: job.queued\ndata: {\"a\":\r\n",
      "data: 1}\r\n\r",
      "\nid: 2\rdata:no space\r\r",
      "data: tail without a blank line",
    ],
    retries,
  );
  assert.deepEqual(retries, [2500]);
  assert.deepEqual(messages, [
    { lastEventId: "1", event: "job.queued", data: '{"a":\n1}' },
    { lastEventId: "2", event: "message", data: "no space" },
  ]);
});

test("a CR split from its LF across chunks ends one line, not two", async () => {
  const messages = await parseAll(["data: a\r", "\ndata: b\r", "\n\r", "\n"]);
  assert.deepEqual(messages, [{ lastEventId: undefined, event: "message", data: "a\nb" }]);
});

function frame(seq: number, type: string): string {
  const data = { job_id: "j1", user_id: "u", seq, type, data: {}, at: "2026-01-01T00:00:00Z" };
  return `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test("a dropped stream reconnects with Last-Event-ID and loses nothing", async () => {
  const seen: (string | undefined)[] = [];
  const server = await listen((req, res) => {
    seen.push(req.headers["last-event-id"] as string | undefined);
    assert.equal(req.headers.authorization, "Bearer secret-token");
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    if (seen.length === 1) {
      res.write("retry: 50\n\n" + frame(1, "job.queued") + frame(2, "job.processing"));
      setTimeout(() => res.socket?.destroy(), 50); // the connection drops mid-job
    } else if (seen.length === 2) {
      res.end(); // closes cleanly with nothing new: the client must come back again
    } else {
      res.end(frame(3, "chapter.completed") + frame(4, "job.completed") + frame(5, "never.read"));
    }
  });
  const jobs: string[] = [];
  const client = new TTSQueue({
    baseUrl: server.url,
    token: "secret-token",
    fetch: async (input, init) => {
      const url = String(input);
      if (!url.endsWith("/events")) {
        jobs.push(url);
        return Response.json({ id: "j1", status: "processing" });
      }
      return fetch(input, init);
    },
  });
  try {
    const events = [];
    for await (const event of client.events("j1")) events.push(event);
    assert.deepEqual(
      events.map((e) => [e.seq, e.type]),
      [
        [1, "job.queued"],
        [2, "job.processing"],
        [3, "chapter.completed"],
        [4, "job.completed"],
      ],
    );
    assert.deepEqual(seen, [undefined, "2", "2"]);
    assert.equal(jobs.length, 1, "an empty stream makes the client look at the job once");
  } finally {
    await server.close();
  }
});

test("an error answer is thrown, not retried; a 503 is retried", async () => {
  let calls = 0;
  const server = await listen((_req, res) => {
    calls++;
    if (calls === 1) {
      res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "0" });
      res.end(JSON.stringify({ detail: [{ loc: [], msg: "store unavailable", type: "unavailable" }] }));
    } else {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ detail: [{ loc: ["path", "job_id"], msg: "no such job", type: "not_found" }] }));
    }
  });
  try {
    const client = new TTSQueue({ baseUrl: server.url, token: "t" });
    await assert.rejects(
      async () => {
        for await (const _ of client.events("j1")) assert.fail("no events expected");
      },
      (error: unknown) =>
        error instanceof TTSQueueError && error.status === 404 && error.type === "not_found",
    );
    assert.equal(calls, 2);
  } finally {
    await server.close();
  }
});

test("gives up after maxRetries connections without events", async () => {
  let calls = 0;
  const server = await listen((_req, res) => {
    calls++;
    res.socket?.destroy();
  });
  try {
    const client = new TTSQueue({ baseUrl: server.url });
    await assert.rejects(async () => {
      for await (const _ of client.events("j1", { maxRetries: 2, retryMs: 10 })) assert.fail();
    });
    assert.equal(calls, 3);
  } finally {
    await server.close();
  }
});

test("an aborted signal stops the stream at once", async () => {
  const server = await listen((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    res.write(frame(1, "job.queued")); // and then nothing
  });
  try {
    const controller = new AbortController();
    const client = new TTSQueue({ baseUrl: server.url });
    const started = Date.now();
    await assert.rejects(async () => {
      for await (const event of client.events("j1", { signal: controller.signal })) {
        assert.equal(event.seq, 1);
        setTimeout(() => controller.abort(new Error("stop")), 20);
      }
    }, /stop/);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await server.close();
  }
});

test("URLs keep the base path and encode the job id", () => {
  const client = new TTSQueue({ baseUrl: "https://example.test/tts" });
  assert.equal(client.audioUrl("a/b"), "https://example.test/tts/v1/jobs/a%2Fb/audio");
  assert.equal(client.audioUrl("j", 3), "https://example.test/tts/v1/jobs/j/chapters/3/audio");
  assert.throws(() => client.audioUrl("j", 0), RangeError);
  assert.equal(client.url("/v1/jobs", { limit: 5, cursor: undefined }), "https://example.test/tts/v1/jobs?limit=5");
});
