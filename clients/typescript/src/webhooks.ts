/**
 * Verifying webhooks signed as the Standard Webhooks specification describes: the
 * headers `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
 * space-separated list of `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; secrets are
 * `whsec_<base64>`. Uses WebCrypto (`crypto.subtle`), so it runs on Node 20+, edge
 * runtimes and browsers alike.
 */

export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
}

/** A `Headers` object (fetch, Next.js) or a plain record (Node's `IncomingMessage.headers`). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** The raw body exactly as received: never a re-serialised JSON object. */
export type WebhookPayload = string | Uint8Array | ArrayBuffer;

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The current time (default `Date.now()`), for tests. */
  now?: Date | number;
}

const SECRET_PREFIX = "whsec_";
const DEFAULT_TOLERANCE_S = 5 * 60;
const encoder = new TextEncoder();

function base64Decode(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function base64Encode(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function secretBytes(secret: string | Uint8Array): Uint8Array {
  if (typeof secret !== "string") {
    if (secret.length === 0) throw new TypeError("the webhook secret is empty");
    return secret;
  }
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!encoded) throw new TypeError("the webhook secret is empty");
  try {
    return base64Decode(encoded);
  } catch {
    throw new TypeError("the webhook secret is not base64 (expected whsec_<base64>)");
  }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  for (const [key, value] of Object.entries(record)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(" ") : value;
  }
  return undefined;
}

function payloadBytes(payload: WebhookPayload): Uint8Array {
  if (typeof payload === "string") return encoder.encode(payload);
  return payload instanceof Uint8Array ? payload : new Uint8Array(payload);
}

function signedContent(id: string, timestamp: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(`${id}.${timestamp}.`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/**
 * A verifier for one endpoint. Give it several secrets while rotating: a signature made
 * with any of them is accepted.
 */
export class Webhook {
  private readonly keys: Promise<CryptoKey[]>;

  constructor(secret: string | Uint8Array | readonly (string | Uint8Array)[]) {
    const secrets = Array.isArray(secret) ? secret : [secret as string | Uint8Array];
    if (secrets.length === 0) throw new TypeError("at least one webhook secret is required");
    const raw = secrets.map(secretBytes);
    this.keys = Promise.all(
      raw.map((bytes) =>
        crypto.subtle.importKey("raw", new Uint8Array(bytes), { name: "HMAC", hash: "SHA-256" }, false, [
          "sign",
          "verify",
        ]),
      ),
    );
  }

  /**
   * Check the signature and the timestamp, then answer the parsed JSON body (`undefined`
   * for an empty one). Throws {@link WebhookVerificationError} when anything is off.
   */
  async verify<T = unknown>(
    payload: WebhookPayload,
    headers: WebhookHeaders,
    options: VerifyOptions = {},
  ): Promise<T> {
    const id = header(headers, "webhook-id");
    const timestamp = header(headers, "webhook-timestamp");
    const signatures = header(headers, "webhook-signature");
    if (!id || !timestamp || !signatures) {
      throw new WebhookVerificationError(
        "missing webhook-id, webhook-timestamp or webhook-signature header",
      );
    }
    this.checkTimestamp(timestamp, options);
    const body = payloadBytes(payload);
    const content = signedContent(id, timestamp, body);
    const keys = await this.keys;
    for (const entry of signatures.split(" ")) {
      const [version, encoded] = entry.split(",", 2);
      if (version !== "v1" || !encoded) continue;
      let signature: Uint8Array<ArrayBuffer>;
      try {
        signature = new Uint8Array(base64Decode(encoded));
      } catch {
        continue;
      }
      for (const key of keys) {
        // crypto.subtle.verify compares in constant time
        if (await crypto.subtle.verify("HMAC", key, signature, content)) {
          const text = new TextDecoder().decode(body);
          return (text ? JSON.parse(text) : undefined) as T;
        }
      }
    }
    throw new WebhookVerificationError("no matching signature");
  }

  /** The `webhook-signature` value for a message, signed with the first secret. */
  async sign(id: string, timestamp: Date | number, payload: WebhookPayload): Promise<string> {
    const seconds =
      typeof timestamp === "number" ? Math.floor(timestamp) : Math.floor(timestamp.getTime() / 1000);
    const [key] = await this.keys;
    const content = signedContent(id, String(seconds), payloadBytes(payload));
    const mac = await crypto.subtle.sign("HMAC", key!, content);
    return `v1,${base64Encode(new Uint8Array(mac))}`;
  }

  private checkTimestamp(value: string, options: VerifyOptions): void {
    if (!/^\d{1,15}$/.test(value)) {
      throw new WebhookVerificationError("invalid webhook-timestamp header");
    }
    const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_S;
    const now = options.now === undefined ? Date.now() : Number(options.now);
    const age = now / 1000 - Number(value);
    if (age > tolerance) throw new WebhookVerificationError("the message timestamp is too old");
    if (age < -tolerance) throw new WebhookVerificationError("the message timestamp is too new");
  }
}

/**
 * Verify one webhook request: `payload` is the raw body (`await request.text()`), `secret`
 * the endpoint's `whsec_…` secret (or several while rotating). Answers the parsed body.
 */
export function verifyWebhook<T = unknown>(
  payload: WebhookPayload,
  headers: WebhookHeaders,
  secret: string | Uint8Array | readonly (string | Uint8Array)[],
  options: VerifyOptions = {},
): Promise<T> {
  return new Webhook(secret).verify<T>(payload, headers, options);
}
