export { TTSQueue } from "./client.js";
export type {
  AddJobOptions,
  AudioOptions,
  ClientOptions,
  EventsOptions,
  ListJobsOptions,
  RequestOptions,
  SubmitParams,
  TokenSource,
} from "./client.js";
export { TTSQueueError } from "./errors.js";
export { parseSse, type SseMessage } from "./sse.js";
export { TERMINAL_EVENTS, TERMINAL_STATUSES, isTerminal } from "./types.js";
export type * from "./types.js";
export type { components, operations, paths } from "./schema.js";
export {
  Webhook,
  WebhookVerificationError,
  verifyWebhook,
  type VerifyOptions,
  type WebhookHeaders,
  type WebhookPayload,
} from "./webhooks.js";
