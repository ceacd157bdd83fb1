// Server-streaming calls over cleartext HTTP/2 as a display board or an attacker opens them: Connect
// streaming with JSON (`application/connect+json`), many streams per connection, each stream's
// messages collected and its end read back with its code and google.rpc.ErrorInfo; streams stay
// open until closed.
import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** WatchEnd is how a stream ended: its Connect error code ("ok" without one), message and ErrorInfo. */
export interface WatchEnd {
  /** code is the Connect code name ("resource_exhausted"), "ok", or "broken" when the stream was reset without an answer. */
  code: string;
  /** message is the error message. */
  message: string;
  /** reason is the ErrorInfo reason, if any. */
  reason?: string;
  /** metadata is the ErrorInfo metadata. */
  metadata: Record<string, string>;
}

/** Watch is one open (or ended) stream. */
export interface Watch {
  /** messages are the messages received so far (decoded JSON). */
  readonly messages: Record<string, unknown>[];
  /** first resolves with "message" once a message came, or with how the stream ended before one. */
  readonly first: Promise<"message" | WatchEnd>;
  /** ended resolves when the stream ends. */
  readonly ended: Promise<WatchEnd>;
  /** waitFor resolves with the first message (already received or to come) that `match` accepts. */
  waitFor(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** close resets the stream (the client goes away). */
  close(): void;
}

function endOf(json: string): WatchEnd {
  try {
    const end = JSON.parse(json) as { error?: { code?: string; message?: string; details?: { type: string; value: string }[] } };
    if (!end.error) return { code: "ok", message: "", metadata: {} };
    const info = (end.error.details ?? []).find((d) => d.type === "google.rpc.ErrorInfo");
    const decoded = info ? fromBinary(ErrorInfoSchema, Buffer.from(info.value, "base64")) : undefined;
    return { code: end.error.code ?? "unknown", message: end.error.message ?? "", reason: decoded?.reason, metadata: { ...(decoded?.metadata ?? {}) } };
  } catch {
    return { code: "unparseable end-stream", message: json.slice(0, 200), metadata: {} };
  }
}

function frame(request: object): Buffer {
  const body = Buffer.from(JSON.stringify(request));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/**
 * WatchClient opens streams to one server over HTTP/2 connections of its own, `perConnection` streams
 * each (at most the server's limit of concurrent streams, or the rest would wait for a place).
 */
export class WatchClient {
  private readonly sessions: http2.ClientHttp2Session[] = [];
  private readonly streams = new Set<http2.ClientHttp2Stream>();
  private onCurrent = 0;

  constructor(
    private readonly base: string,
    private readonly perConnection = 100,
  ) {}

  /** open starts one stream of `procedure` ("/pkg.Service/Method") with `request`, with a bearer token unless it is undefined, and any extra headers. */
  open(procedure: string, request: object, token?: string, headers: Record<string, string> = {}): Watch {
    let session = this.sessions[this.sessions.length - 1];
    if (!session || session.closed || session.destroyed || this.onCurrent >= this.perConnection) {
      session = http2.connect(this.base);
      session.on("error", () => undefined);
      this.sessions.push(session);
      this.onCurrent = 0;
    }
    this.onCurrent++;
    const stream = session.request({
      ":method": "POST",
      ":path": procedure,
      "content-type": "application/connect+json",
      "connect-protocol-version": "1",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    });
    this.streams.add(stream);
    const messages: Record<string, unknown>[] = [];
    const waiters = new Set<() => void>();
    let resolveFirst!: (v: "message" | WatchEnd) => void;
    let resolveEnded!: (v: WatchEnd) => void;
    const first = new Promise<"message" | WatchEnd>((r) => (resolveFirst = r));
    const ended = new Promise<WatchEnd>((r) => (resolveEnded = r));
    let end: WatchEnd | undefined;
    let buf = Buffer.alloc(0);
    stream.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const flags = buf[0];
        const data = buf.subarray(5, 5 + buf.readUInt32BE(1)).toString("utf8");
        buf = buf.subarray(5 + buf.readUInt32BE(1));
        if (flags & 2) {
          end = endOf(data);
          resolveFirst(end);
        } else {
          messages.push(JSON.parse(data) as Record<string, unknown>);
          resolveFirst("message");
          for (const w of [...waiters]) w();
        }
      }
    });
    stream.on("error", () => undefined);
    stream.on("close", () => {
      this.streams.delete(stream);
      const e = end ?? { code: "broken", message: `reset (${stream.rstCode})`, metadata: {} };
      resolveFirst(e);
      resolveEnded(e);
      for (const w of [...waiters]) w();
    });
    stream.end(frame(request));
    return {
      messages,
      first,
      ended,
      waitFor: (match) =>
        new Promise((resolve, reject) => {
          const check = () => {
            const found = messages.find(match);
            if (found) {
              waiters.delete(check);
              resolve(found);
            } else if (stream.closed) {
              waiters.delete(check);
              reject(new Error(`the stream ended (${end?.code ?? "reset"}) before the awaited message`));
            }
          };
          waiters.add(check);
          check();
        }),
      close: () => stream.close(http2.constants.NGHTTP2_CANCEL),
    };
  }

  /** openMany opens `count` streams and resolves once each has its first answer (a message or its end). */
  async openMany(count: number, procedure: string, request: object, token?: string): Promise<{ watches: Watch[]; firsts: ("message" | WatchEnd)[] }> {
    const watches = Array.from({ length: count }, () => this.open(procedure, request, token));
    return { watches, firsts: await Promise.all(watches.map((w) => w.first)) };
  }

  /** open counts the streams not ended yet. */
  openCount(): number {
    return this.streams.size;
  }

  /** close resets every stream and closes every connection. */
  close(): void {
    for (const s of this.streams) s.close(http2.constants.NGHTTP2_CANCEL);
    for (const s of this.sessions) s.destroy();
    this.sessions.length = 0;
  }
}

/** tally counts first answers: "message", or the end's code and ErrorInfo reason and scope. */
export function tally(firsts: ("message" | WatchEnd)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of firsts) {
    const key = f === "message" ? "message" : [f.code, f.reason, f.metadata.scope].filter(Boolean).join(" ");
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
