/** Friendly names for the API's bodies, all taken from the generated `schema.ts`. */

import type { components } from "./schema.js";

type Schemas = components["schemas"];

/** A book to read aloud: the body of `POST /v1/jobs`. */
export type JobCreate = Schemas["JobCreate"];
/** The answer of `POST /v1/jobs/batch`: one item per book, in order. */
export type BatchResult = Schemas["BatchResult"];
export type BatchItem = Schemas["BatchItem"];
export type ChapterIn = Schemas["ChapterIn"];
export type VoiceIn = Schemas["VoiceIn"];
/** A job with its chapters, progress and audio links. */
export type Job = Schemas["JobPublic"];
/** A job as listed (no chapters). */
export type JobSummary = Schemas["JobSummary"];
export type JobPage = Schemas["JobPage"];
export type Chapter = Schemas["ChapterPublic"];
export type JobStatus = Schemas["JobStatus"];
export type TaskStatus = Schemas["TaskStatus"];
/** One event of a job, as the SSE stream and webhooks carry it. */
export type JobEvent = Schemas["EventPublic"];
export type QueueStats = Schemas["StatsPublic"];
export type Health = Schemas["HealthPublic"];
export type VoiceInfo = Schemas["VoiceInfoPublic"];
/** A pause of claiming: for every engine (`engine` null) or one. */
export type Pause = Schemas["PauseOut"];
export type ResumeResult = Schemas["ResumeOut"];
export type DrainResult = Schemas["DrainOut"];
export type ErrorItem = Schemas["ErrorItem"];
export type OutputFormat = NonNullable<JobCreate["output_format"]>;

/** The job statuses after which nothing more happens unless the job is retried. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ["completed", "failed", "cancelled"];

/** The event types that end a job's event stream. */
export const TERMINAL_EVENTS: readonly string[] = ["job.completed", "job.failed", "job.cancelled"];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
