// The client against a real ttsqueue server: submit, follow, download, cancel, retry,
// stats, and another user's job staying invisible.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { TTSQueue, TTSQueueError, type JobCreate, type JobEvent } from "ttsqueue";

import { startServer, type RunningServer } from "./server.js";

const book = (title: string, extra: Partial<JobCreate> = {}): JobCreate => ({
  title,
  author: "Test Author",
  output_format: "m4b",
  chapters: [
    { title: "Morning", text: "The sun rose over the quiet harbour. Gulls called." },
    { title: "Evening", text: "The lamp was lit at dusk, nine minutes late." },
  ],
  ...extra,
});

async function rejectsWith(promise: Promise<unknown>, status: number): Promise<TTSQueueError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TTSQueueError, `expected a TTSQueueError, got ${String(error)}`);
    assert.equal(error.status, status, error.message);
    return error;
  }
  assert.fail(`expected an error with status ${status}`);
}

async function collect(events: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe("TTSQueue against a real server", { timeout: 240_000 }, () => {
  let server: RunningServer;
  let alice: TTSQueue;
  let bob: TTSQueue;
  let completedId = "";
  let completedEvents: JobEvent[] = [];

  before(async () => {
    server = await startServer();
    alice = new TTSQueue({ baseUrl: server.baseUrl, token: server.token("alice") });
    bob = alice.withToken(server.token("bob"));
  });

  after(async () => {
    await server?.stop();
  });

  test("health needs no token and tells a stranger only up or down", async () => {
    const health = await new TTSQueue({ baseUrl: server.baseUrl }).health();
    assert.equal(health.status, "ok");
    assert.equal(health.store, undefined);
    const admin = new TTSQueue({ baseUrl: server.baseUrl, token: server.token("root", "--admin") });
    assert.equal((await admin.health()).store, "ok");
  });

  test("submit, follow the events to the end, download the audio", async () => {
    const job = await alice.addJob(book("Two Short Chapters"));
    assert.match(job.id, /^[0-9a-f-]{36}$/);
    assert.equal(job.user_id, "alice");
    assert.ok(["queued", "processing"].includes(job.status), job.status);
    assert.equal(job.total_chapters, 2);
    assert.equal(job.chapters.length, 2);

    const finished = await alice.waitForJob(job.id, {
      onEvent: (event) => completedEvents.push(event),
    });
    completedId = job.id;
    assert.equal(finished.status, "completed", finished.error ?? "");
    assert.equal(finished.progress_percent, 100);
    assert.equal(finished.completed_chapters, 2);
    const types = completedEvents.map((e) => e.type);
    assert.equal(types.at(-1), "job.completed");
    assert.equal(types[0], "job.queued");
    for (const step of ["job.processing", "chapter.started", "job.assembling"]) {
      assert.ok(types.includes(step), `${step} in ${types.join(", ")}`);
    }
    const chapters = completedEvents.filter((e) => e.type === "chapter.completed");
    assert.deepEqual(chapters.map((e) => e.data.title).sort(), ["Evening", "Morning"]);
    assert.deepEqual(
      completedEvents.map((e) => e.seq),
      completedEvents.map((_, i) => i + 1),
      "sequence numbers from 1 without gaps",
    );
    assert.ok(completedEvents.every((e) => e.job_id === job.id && e.user_id === "alice"));

    assert.equal(finished.audio_url, `/v1/jobs/${job.id}/audio`);
    assert.equal(alice.audioUrl(job.id), `${server.baseUrl}/v1/jobs/${job.id}/audio`);
    const audio = await alice.fetchAudio(job.id);
    assert.equal(audio.status, 200);
    assert.equal(audio.headers.get("content-type"), "audio/mp4");
    const bytes = new Uint8Array(await audio.arrayBuffer());
    assert.ok(bytes.length > 1000, `an audiobook of ${bytes.length} bytes`);
    assert.equal(new TextDecoder().decode(bytes.slice(4, 8)), "ftyp", "an MP4 container");

    const chapter = await alice.fetchAudio(job.id, { chapter: 2 });
    assert.equal(chapter.status, 200);
    assert.ok((await chapter.arrayBuffer()).byteLength > 100);
    assert.equal(
      alice.audioUrl(job.id, 2),
      `${server.baseUrl}/v1/jobs/${job.id}/chapters/2/audio`,
    );

    const part = await alice.fetchAudio(job.id, { range: "bytes=0-15" });
    assert.equal(part.status, 206);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.slice(0, 16));

    const missing = await rejectsWith(alice.fetchAudio(job.id, { chapter: 3 }), 404);
    assert.deepEqual(missing.detail[0]?.loc, ["path", "n"]);
  });

  test("events resume after Last-Event-ID, and end at once for a finished job", async () => {
    assert.ok(completedId, "needs the completed job");
    const resumed = await collect(alice.events(completedId, { lastEventId: 2 }));
    assert.deepEqual(resumed, completedEvents.slice(2));
    const last = completedEvents.at(-1)!.seq;
    assert.deepEqual(await collect(alice.events(completedId, { lastEventId: last })), []);
  });

  test("cancel a waiting job, then retry it to completion", async () => {
    const runAt = Date.now() / 1000 + 3;
    const job = await alice.addJob(book("Cancelled Then Retried", { run_at: runAt }));
    assert.equal(job.status, "scheduled");

    const cancelled = await alice.cancelJob(job.id);
    assert.equal(cancelled.status, "cancelled");
    const events = await collect(alice.events(job.id));
    assert.equal(events.at(-1)?.type, "job.cancelled");
    const again = await rejectsWith(alice.cancelJob(job.id), 409);
    assert.ok(again.message.length > 0);

    const retried = await alice.retryJob(job.id);
    assert.ok(["queued", "scheduled", "processing"].includes(retried.status), retried.status);
    const done = await alice.waitForJob(job.id, { lastEventId: events.at(-1)!.seq });
    assert.equal(done.status, "completed", done.error ?? "");
    await rejectsWith(alice.retryJob(job.id), 409);
  });

  test("list the caller's jobs, a page at a time", async () => {
    const page = await alice.getUserJobs({ limit: 1 });
    assert.equal(page.items.length, 1);
    assert.ok(page.next_cursor);
    const all: string[] = [];
    for await (const job of alice.iterateUserJobs({ limit: 1 })) all.push(job.id);
    assert.ok(all.includes(completedId));
    assert.equal(new Set(all).size, all.length);
    const completed = await alice.getUserJobs({ status: "completed" });
    assert.ok(completed.items.every((j) => j.status === "completed"));
    assert.ok(completed.items.some((j) => j.id === completedId));
  });

  test("stats count the caller's jobs", async () => {
    const stats = await alice.getQueueStats();
    assert.equal(stats.scope, "user");
    assert.ok((stats.jobs.completed ?? 0) >= 2, JSON.stringify(stats.jobs));
    const bobs = await bob.getQueueStats();
    assert.equal(bobs.jobs.completed ?? 0, 0);
  });

  test("another user's job is not found", async () => {
    assert.ok(completedId);
    const error = await rejectsWith(bob.getJob(completedId), 404);
    assert.equal(error.type, "notfound");
    assert.deepEqual(error.detail[0]?.loc, ["path", "job_id"]);
    await rejectsWith(bob.cancelJob(completedId), 404);
    await rejectsWith(bob.retryJob(completedId), 404);
    await rejectsWith(bob.fetchAudio(completedId), 404);
    await rejectsWith(collect(bob.events(completedId)), 404);
    const page = await bob.getUserJobs();
    assert.deepEqual(page.items, []);
  });

  test("bad input and bad credentials are errors naming the cause", async () => {
    const empty = await rejectsWith(alice.addJob({ chapters: [] }), 422);
    assert.ok(
      empty.detail.some((d) => d.loc.includes("chapters")),
      JSON.stringify(empty.detail),
    );
    const nobody = new TTSQueue({ baseUrl: server.baseUrl, token: "tq_not-a-real-key" });
    await rejectsWith(nobody.getUserJobs(), 401);
    await rejectsWith(alice.getJob("not-a-job-id"), 404);
  });

  test("submit a batch: all or nothing, or a status per book", async () => {
    const books = [
      book("Batch One", { idempotency_key: "batch-1" }),
      book("Batch Two", { idempotency_key: "batch-2" }),
    ];
    const batch = await alice.addJobs(books);
    assert.equal(batch.created, 2);
    assert.deepEqual(batch.items.map((i) => i.status), [201, 201]);
    const again = await alice.addJobs(books);
    assert.deepEqual(again.items.map((i) => i.status), [200, 200]);
    assert.equal(again.items[0]?.job?.id, batch.items[0]?.job?.id);

    const bad = [book("Batch Three", { idempotency_key: "batch-3" }), { ...book("No"), chapters: [] }];
    const refused = await rejectsWith(alice.addJobs(bad), 422);
    assert.deepEqual(refused.detail[0]?.loc, ["body", "jobs", 1, "chapters"]);
    const mixed = await alice.addJobs(bad, { atomic: false });
    assert.equal(mixed.items.length, 2);
    for (const item of [...batch.items, ...mixed.items]) {
      if (item.job) await alice.cancelJob(item.job.id).catch(() => undefined);
    }
  });

  test("submit Markdown text and an idempotency key", async () => {
    const text = "# A Title\n\n## First\n\nOne sentence.\n\n## Second\n\nAnother sentence.\n";
    const job = await alice.addJobFromText(text, { output_format: "mp3" }, { idempotencyKey: "md-1" });
    assert.equal(job.total_chapters, 2);
    assert.deepEqual(job.chapters.map((c) => c.title), ["First", "Second"]);
    const same = await alice.addJobFromText(text, {}, { idempotencyKey: "md-1" });
    assert.equal(same.id, job.id);
    const file = await alice.addJobFromFile(new Blob([text]), "book.md", { title: "From a file" });
    assert.equal(file.title, "From a file");
    await alice.cancelJob(file.id).catch(() => undefined);
  });
});
