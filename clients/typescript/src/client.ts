import { TTSQueueError, errorFromResponse } from "./errors.js";
import type { operations } from "./schema.js";
import { parseSse } from "./sse.js";
import {
  TERMINAL_EVENTS,
  isTerminal,
  type BatchResult,
  type DrainResult,
  type Health,
  type Job,
  type JobCreate,
  type JobEvent,
  type JobPage,
  type JobStatus,
  type JobSummary,
  type Pause,
  type QueueStats,
  type ResumeResult,
  type VoiceInfo,
} from "./types.js";

/** A bearer token, or a function that returns one (called for every request). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** Where the server answers, e.g. `https://tts.example.com` (a path prefix is kept). */
  baseUrl: string | URL;
  /** A ttsqueue API key (`ttsqueue token create`) or a JWT the server accepts. */
  token?: TokenSource;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /** Per request, in milliseconds (default 30 000); event streams have `idleTimeoutMs`. */
  timeoutMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Query parameters of a text or file submission (a JSON book carries its own). */
export type SubmitParams = NonNullable<operations["submit_job_v1_jobs_post"]["parameters"]["query"]>;

export interface AddJobOptions extends RequestOptions {
  /** A repeat with the same key answers the job made the first time. */
  idempotencyKey?: string;
}

export interface ListJobsOptions extends RequestOptions {
  status?: JobStatus;
  /** Page size, 1 to the server's maximum (default 50). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  /** Admins: every user's jobs. */
  all?: boolean;
  /** Admins: this user's jobs. */
  user?: string;
}

export interface EventsOptions extends RequestOptions {
  /** Resume after this sequence number (sent as `Last-Event-ID`). */
  lastEventId?: number;
  /** Reconnect when the connection drops (default true). */
  reconnect?: boolean;
  /** Give up after this many failed connections in a row (default 8). */
  maxRetries?: number;
  /** The first reconnection delay in ms, until the server sends its own (default 1000). */
  retryMs?: number;
  /** The longest reconnection delay in ms (default 30 000). */
  maxRetryMs?: number;
  /** Reconnect when nothing, not even a keep-alive, arrived for this long (default 60 000). */
  idleTimeoutMs?: number;
}

export interface AudioOptions extends RequestOptions {
  /** One chapter (from 1) instead of the whole book. */
  chapter?: number;
  /** An HTTP `Range` header value, e.g. `bytes=0-1023` (answers 206). */
  range?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function trimSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One signal that aborts when any of `signals` does. */
function anySignal(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    const onAbort = () => controller.abort(s.reason);
    s.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => s.removeEventListener("abort", onAbort));
  }
  return { signal: controller.signal, done: () => cleanups.forEach((c) => c()) };
}

/**
 * The ttsqueue HTTP API. One instance per server and token; `withToken` makes a sibling
 * for another caller (in a server route, the signed-in user's JWT).
 *
 * Every method throws {@link TTSQueueError} for an error answer: `status` 404 for a job that
 * does not exist or belongs to someone else, 409 for a transition the job cannot make,
 * 422 naming the field at fault, 429 with `retryAfter`.
 */
export class TTSQueue {
  readonly baseUrl: string;
  private readonly token: TokenSource | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    this.baseUrl = trimSlash(String(options.baseUrl));
    new URL(this.baseUrl); // fail early on a malformed address
    this.token = options.token;
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.headers = { ...options.headers };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The same server, another caller. */
  withToken(token: TokenSource): TTSQueue {
    return new TTSQueue({
      baseUrl: this.baseUrl,
      token,
      fetch: this.fetchFn,
      headers: this.headers,
      timeoutMs: this.timeoutMs,
    });
  }

  /** An absolute URL for a server path such as `/v1/jobs` (the base's own path kept). */
  url(path: string, query?: Record<string, unknown>): string {
    const url = new URL(path.replace(/^\/+/, ""), this.baseUrl);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  // -- jobs ------------------------------------------------------------------------

  /** Submit a book; answers the new job (or, for a repeated idempotency key, the existing one). */
  addJob(book: JobCreate, options: AddJobOptions = {}): Promise<Job> {
    return this.json<Job>("POST", "/v1/jobs", {
      body: JSON.stringify(book),
      headers: {
        "Content-Type": "application/json",
        ...(options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {}),
      },
      signal: options.signal,
    });
  }

  /**
   * Submit many books in one request, each with its own `idempotency_key`. `atomic`
   * (default true): all or nothing, an error rejects; false: every item carries its own
   * `status` (201, 200, 422, 429) and `error`.
   */
  addJobs(
    books: JobCreate[],
    options: { atomic?: boolean; signal?: AbortSignal } = {},
  ): Promise<BatchResult> {
    return this.json<BatchResult>("POST", "/v1/jobs/batch", {
      body: JSON.stringify({ jobs: books, atomic: options.atomic ?? true }),
      headers: { "Content-Type": "application/json" },
      signal: options.signal,
    });
  }

  /** Submit a book as plain text or Markdown; chapters are split at its headings. */
  addJobFromText(
    text: string,
    params: SubmitParams = {},
    options: AddJobOptions = {},
  ): Promise<Job> {
    const markdown = params.markdown ?? true;
    return this.json<Job>("POST", "/v1/jobs", {
      query: params,
      body: text,
      headers: {
        "Content-Type": markdown ? "text/markdown; charset=utf-8" : "text/plain; charset=utf-8",
        ...(options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {}),
      },
      signal: options.signal,
    });
  }

  /** Submit a book file (`.txt`, `.md` or `.epub`). */
  addJobFromFile(
    file: Blob,
    filename: string,
    params: SubmitParams = {},
    options: AddJobOptions = {},
  ): Promise<Job> {
    const form = new FormData();
    form.set("file", file, filename);
    return this.json<Job>("POST", "/v1/jobs", {
      query: params,
      body: form,
      headers: options.idempotencyKey ? { "Idempotency-Key": options.idempotencyKey } : {},
      signal: options.signal,
    });
  }

  /** A job with its chapters, progress and audio links. */
  getJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    return this.json<Job>("GET", this.jobPath(jobId), options);
  }

  /** One page of the caller's jobs, newest first. */
  getUserJobs(options: ListJobsOptions = {}): Promise<JobPage> {
    const { signal, ...query } = options;
    return this.json<JobPage>("GET", "/v1/jobs", { query, signal });
  }

  /** Every job of the caller, newest first, page after page. */
  async *iterateUserJobs(options: Omit<ListJobsOptions, "cursor"> = {}): AsyncGenerator<JobSummary> {
    let cursor: string | undefined;
    do {
      const page = await this.getUserJobs({ ...options, cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** Cancel a job that has not finished (409 once it has). */
  cancelJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    return this.json<Job>("DELETE", this.jobPath(jobId), options);
  }

  /** Run a failed or cancelled job again; finished chapters are kept (409 otherwise). */
  retryJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    return this.json<Job>("POST", `${this.jobPath(jobId)}/retry`, options);
  }

  /** Jobs and tasks by status: the caller's own, or the whole queue for admins. */
  getQueueStats(options: RequestOptions = {}): Promise<QueueStats> {
    return this.json<QueueStats>("GET", "/v1/stats", options);
  }

  /** The voices the server can read with. */
  getVoices(options: RequestOptions = {}): Promise<VoiceInfo[]> {
    return this.json<VoiceInfo[]>("GET", "/v1/voices", options);
  }

  /** Admins: stop claiming for every engine (`null`) or one; jobs keep queueing. */
  pause(engine: string | null = null, options: RequestOptions = {}): Promise<Pause> {
    return this.json<Pause>("POST", "/v1/admin/pause", this.engineBody(engine, options));
  }

  /** Admins: lift a pause; `resumed` is false when it was not set. */
  resume(engine: string | null = null, options: RequestOptions = {}): Promise<ResumeResult> {
    return this.json<ResumeResult>("POST", "/v1/admin/resume", this.engineBody(engine, options));
  }

  /** Admins: ask a live worker to finish what it holds and exit (404 if not live). */
  drainWorker(workerId: string, options: RequestOptions = {}): Promise<DrainResult> {
    const path = `/v1/admin/workers/${encodeURIComponent(workerId)}/drain`;
    return this.json<DrainResult>("POST", path, options);
  }

  /** Admins: the pauses in force, the global one first. */
  getPauses(options: RequestOptions = {}): Promise<Pause[]> {
    return this.json<Pause[]>("GET", "/v1/admin/pauses", options);
  }

  private engineBody(engine: string | null, options: RequestOptions) {
    return {
      body: JSON.stringify({ engine }),
      headers: { "Content-Type": "application/json" },
      signal: options.signal,
    };
  }

  /** Whether the server and its store answer (needs no token). */
  health(options: RequestOptions = {}): Promise<Health> {
    return this.json<Health>("GET", "/v1/health", options);
  }

  // -- audio -----------------------------------------------------------------------

  /**
   * Where the book's audio (or one chapter's, from 1) is served. The server wants the
   * bearer token there too, so hand it to a browser through your own route (see
   * {@link fetchAudio}), not as a bare link.
   */
  audioUrl(jobId: string, chapter?: number): string {
    if (chapter === undefined) return this.url(`${this.jobPath(jobId)}/audio`);
    if (!Number.isInteger(chapter) || chapter < 1) {
      throw new RangeError(`chapter must be an integer from 1, not ${chapter}`);
    }
    return this.url(`${this.jobPath(jobId)}/chapters/${chapter}/audio`);
  }

  /**
   * The audio as a streaming `Response` (status 200, or 206 for a range), ready to be
   * returned from a route handler; an error answer throws (404 until the audio is ready).
   */
  async fetchAudio(jobId: string, options: AudioOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (options.range) headers.Range = options.range;
    return this.send("GET", this.audioUrl(jobId, options.chapter), {
      headers,
      signal: options.signal,
    });
  }

  // -- events ----------------------------------------------------------------------

  /**
   * The job's events, live, in order (`seq` from 1 without gaps): the history first,
   * then each new one, until `job.completed`, `job.failed` or `job.cancelled`. A dropped
   * connection is resumed from the last event seen (`Last-Event-ID`), so no event is lost
   * or repeated. Break out of the loop (or abort `signal`) to stop listening.
   */
  async *events(jobId: string, options: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    const reconnect = options.reconnect ?? true;
    const maxRetries = options.maxRetries ?? 8;
    const maxRetryMs = options.maxRetryMs ?? 30_000;
    const idleMs = options.idleTimeoutMs ?? 60_000;
    let retryMs = options.retryMs ?? 1000;
    let lastEventId = options.lastEventId;
    let failures = 0;
    const url = this.url(`${this.jobPath(jobId)}/events`);
    for (;;) {
      let received = 0;
      let failure: unknown = null;
      const idle = new AbortController();
      const { signal, done } = anySignal([options.signal, idle.signal]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const touch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
      };
      try {
        touch();
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (lastEventId !== undefined) headers["Last-Event-ID"] = String(lastEventId);
        const response = await this.send("GET", url, { headers, signal, raw: true });
        if (!response.ok) {
          const error = await errorFromResponse(response);
          if (error.status < 500 && error.status !== 429) throw error;
          failure = error;
        } else if (response.body) {
          const messages = parseSse(response.body, {
            onChunk: touch,
            onRetry: (ms) => {
              if (options.retryMs === undefined) retryMs = ms;
            },
          });
          for await (const message of messages) {
            const event = JSON.parse(message.data) as JobEvent;
            lastEventId = event.seq;
            received++;
            failures = 0;
            yield event;
            if (TERMINAL_EVENTS.includes(event.type)) return;
          }
        }
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (error instanceof TTSQueueError || error instanceof SyntaxError) throw error;
        failure = error;
      } finally {
        clearTimeout(timer);
        done();
      }
      if (failure === null && received === 0) {
        // The stream ended with nothing new: either the job already ended before the
        // event we resumed after, or the server is going away.
        const job = await this.getJob(jobId, { signal: options.signal });
        if (isTerminal(job.status)) return;
      }
      if (!reconnect) {
        if (failure !== null) throw failure;
        return;
      }
      if (received === 0) failures++;
      if (failures > maxRetries) {
        throw failure ?? new Error(`the event stream of job ${jobId} kept closing without events`);
      }
      const backoff = Math.min(maxRetryMs, retryMs * 2 ** Math.max(0, failures - 1));
      const wait =
        failure instanceof TTSQueueError && failure.retryAfter !== null
          ? Math.min(maxRetryMs, failure.retryAfter * 1000)
          : backoff;
      await sleep(wait * (0.8 + 0.4 * Math.random()), options.signal);
    }
  }

  /**
   * Follow the job until it ends and answer it as it then is; `onEvent` sees each event.
   * Throws nothing for a failed or cancelled job: look at `status` and `error`.
   */
  async waitForJob(
    jobId: string,
    options: EventsOptions & { onEvent?: (event: JobEvent) => void } = {},
  ): Promise<Job> {
    const { onEvent, ...rest } = options;
    for await (const event of this.events(jobId, rest)) onEvent?.(event);
    return this.getJob(jobId, { signal: options.signal });
  }

  // -- plumbing --------------------------------------------------------------------

  private jobPath(jobId: string): string {
    if (!jobId) throw new TypeError("a job id is required");
    return `/v1/jobs/${encodeURIComponent(jobId)}`;
  }

  private async authHeaders(): Promise<Record<string, string>> {
    const token = typeof this.token === "function" ? await this.token() : this.token;
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /** A request; an error status throws unless `raw`. */
  private async send(
    method: string,
    url: string,
    init: {
      headers?: Record<string, string>;
      body?: BodyInit;
      signal?: AbortSignal | undefined;
      raw?: boolean;
    } = {},
  ): Promise<Response> {
    const response = await this.fetchFn(url, {
      method,
      headers: { ...this.headers, ...(await this.authHeaders()), ...init.headers },
      body: init.body,
      signal: init.signal,
    });
    if (!init.raw && !response.ok) throw await errorFromResponse(response);
    return response;
  }

  /** A request answered with JSON, within `timeoutMs` (body included). */
  private async json<T>(
    method: string,
    path: string,
    init: {
      query?: Record<string, unknown>;
      headers?: Record<string, string>;
      body?: BodyInit;
      signal?: AbortSignal | undefined;
    } = {},
  ): Promise<T> {
    const { signal, done } = anySignal([init.signal, AbortSignal.timeout(this.timeoutMs)]);
    try {
      const response = await this.send(method, this.url(path, init.query), {
        headers: { Accept: "application/json", ...init.headers },
        body: init.body,
        signal,
      });
      return (await response.json()) as T;
    } finally {
      done();
    }
  }
}
