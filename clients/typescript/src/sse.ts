/**
 * A Server-Sent Events parser over a fetch body, as the HTML living standard describes
 * the `text/event-stream` format: UTF-8, lines ended by CRLF, LF or CR, `field: value`
 * lines, comments starting with `:`, and a blank line dispatching the event.
 */

export interface SseMessage {
  /** The last `id:` seen on the stream so far (it persists across messages). */
  lastEventId: string | undefined;
  /** `event:`, or "message" when the server named none. */
  event: string;
  data: string;
}

export interface SseHandlers {
  /** A `retry:` field: the server's reconnection delay in milliseconds. */
  onRetry?: (ms: number) => void;
  /** Called for every chunk read, comments and keep-alives included. */
  onChunk?: () => void;
}

/** Splits decoded text into lines, holding back a trailing CR until it knows what follows. */
class LineSplitter {
  private buffer = "";

  push(text: string, final: boolean): string[] {
    this.buffer += text;
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c === 10 /* \n */) {
        lines.push(this.buffer.slice(start, i));
        start = i + 1;
      } else if (c === 13 /* \r */) {
        if (i + 1 === this.buffer.length && !final) break; // wait for a possible \n
        lines.push(this.buffer.slice(start, i));
        if (this.buffer.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
      }
    }
    this.buffer = this.buffer.slice(start);
    return lines;
  }
}

/** The messages of an event stream, in order, until the body ends. */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  handlers: SseHandlers = {},
): AsyncGenerator<SseMessage, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8", { ignoreBOM: false });
  const splitter = new LineSplitter();
  let lastEventId: string | undefined;
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      handlers.onChunk?.();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const line of splitter.push(text, done)) {
        if (line === "") {
          if (data.length > 0) {
            yield { lastEventId, event: event || "message", data: data.join("\n") };
          }
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
        else if (field === "id" && !value.includes("\0")) lastEventId = value;
        else if (field === "retry" && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
      }
      if (done) return; // an event not ended by a blank line is discarded, as the standard says
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
