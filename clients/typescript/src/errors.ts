import type { ErrorItem } from "./types.js";

/** The server answered with an error status. `detail` names the input at fault. */
export class TTSQueueError extends Error {
  override readonly name = "TTSQueueError";

  constructor(
    /** The HTTP status (404 for a job that does not exist or is not the caller's). */
    readonly status: number,
    message: string,
    /** The server's `detail` items: `loc` is the path of the offending input. */
    readonly detail: ErrorItem[] = [],
    /** Seconds to wait before trying again, from `Retry-After` (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  /** The first error item's `type` (`notfound`, `not_ready`, `rate_limited`, …). */
  get type(): string | undefined {
    return this.detail[0]?.type;
  }
}

function isErrorItem(value: unknown): value is ErrorItem {
  if (typeof value !== "object" || value === null) return false;
  const item = value as Record<string, unknown>;
  return Array.isArray(item.loc) && typeof item.msg === "string" && typeof item.type === "string";
}

function retryAfterSeconds(value: string | null): number | null {
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

/** The error a non-2xx response stands for (reads the body). */
export async function errorFromResponse(response: Response): Promise<TTSQueueError> {
  let detail: ErrorItem[] = [];
  let message = `${response.status} ${response.statusText}`.trim();
  const text = await response.text().catch(() => "");
  try {
    const body: unknown = JSON.parse(text);
    const items = (body as { detail?: unknown } | null)?.detail;
    if (Array.isArray(items)) {
      detail = items.filter(isErrorItem);
    } else if (typeof items === "string") {
      detail = [{ loc: [], msg: items, type: "error" }];
    }
  } catch {
    if (text) detail = [{ loc: [], msg: text.slice(0, 500), type: "error" }];
  }
  if (detail.length > 0) {
    const first = detail[0]!;
    const where = first.loc.length > 0 ? ` (${first.loc.join(".")})` : "";
    message = `${response.status}: ${first.msg}${where}`;
  }
  return new TTSQueueError(
    response.status,
    message,
    detail,
    retryAfterSeconds(response.headers.get("retry-after")),
  );
}
