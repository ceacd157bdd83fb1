// Test helpers for the gateway's connection limits: an attacker that opens sockets which cost the
// server a file descriptor without a request (from its own loopback address), a Connect call on a
// fresh connection, and a bounded wait.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/** HTTP2_PREFACE is the HTTP/2 client connection preface. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** EMPTY_SETTINGS is an HTTP/2 SETTINGS frame with no settings (length 0, type 4, no flags, stream 0). */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/** AttackKind names a way of holding a socket without a request. */
export type AttackKind =
  | "silent"
  | "partial-preface"
  | "partial-headers"
  | "preface-then-silence"
  | "slowloris-headers"
  | "keep-alive-idle"
  | "h2-idle-after-call"
  | "h2-stream-no-body";

/** ATTACK_KINDS are all of them, in the order openMix cycles through them. */
export const ATTACK_KINDS: AttackKind[] = [
  "silent",
  "partial-preface",
  "partial-headers",
  "preface-then-silence",
  "slowloris-headers",
  "keep-alive-idle",
  "h2-idle-after-call",
  "h2-stream-no-body",
];

interface Held {
  kind: AttackKind;
  connected: boolean;
  closed: boolean;
  destroy(): void;
}

/**
 * Attacker holds sockets against a server from `localAddress` (e.g. 127.0.0.2) and never closes
 * them itself: it only notes when the server closes them.
 */
export class Attacker {
  private readonly held: Held[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly port: number,
    private readonly localAddress: string,
    private readonly host = "127.0.0.1",
  ) {}

  /** opened counts the sockets that connected. */
  opened(): number {
    return this.held.filter((h) => h.connected).length;
  }

  /** open counts the connected sockets the server has not closed yet. */
  open(): number {
    return this.held.filter((h) => h.connected && !h.closed).length;
  }

  /** openByKind counts the sockets still open, by kind (kinds with none left are absent). */
  openByKind(): Partial<Record<AttackKind, number>> {
    const out: Partial<Record<AttackKind, number>> = {};
    for (const h of this.held) if (h.connected && !h.closed) out[h.kind] = (out[h.kind] ?? 0) + 1;
    return out;
  }

  /** closedByKind counts the sockets the server closed, by kind. */
  closedByKind(): Record<AttackKind, number> {
    const out = Object.fromEntries(ATTACK_KINDS.map((k) => [k, 0])) as Record<AttackKind, number>;
    for (const h of this.held) if (h.connected && h.closed) out[h.kind]++;
    return out;
  }

  /** openMix opens `n` sockets cycling through every kind, 40 at a time; it resolves once each connected or failed. */
  async openMix(n: number): Promise<void> {
    for (let i = 0; i < n; i += 40) {
      await Promise.all(Array.from({ length: Math.min(40, n - i) }, (_, k) => this.openOne(ATTACK_KINDS[(i + k) % ATTACK_KINDS.length])));
    }
  }

  /** keepOpening opens `batch` more sockets every `everyMs` until stopped. */
  keepOpening(batch: number, everyMs: number): { stop(): Promise<void> } {
    let running: Promise<void> = Promise.resolve();
    let n = 0;
    const timer = setInterval(() => {
      running = running.then(() => Promise.all(Array.from({ length: batch }, () => this.openOne(ATTACK_KINDS[n++ % ATTACK_KINDS.length]))).then(() => undefined));
    }, everyMs);
    this.timers.add(timer);
    return {
      stop: async () => {
        clearInterval(timer);
        this.timers.delete(timer);
        await running;
      },
    };
  }

  /** destroyAll closes every socket from this side and stops every timer. */
  destroyAll(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const h of this.held) h.destroy();
  }

  private openOne(kind: AttackKind): Promise<void> {
    return kind === "h2-idle-after-call" || kind === "h2-stream-no-body" ? this.openSession(kind) : this.openSocket(kind);
  }

  private connect(): net.Socket {
    return net.connect({ host: this.host, port: this.port, localAddress: this.localAddress });
  }

  private openSocket(kind: AttackKind): Promise<void> {
    return new Promise((resolve) => {
      const socket = this.connect();
      const h: Held = { kind, connected: false, closed: false, destroy: () => socket.destroy() };
      this.held.push(h);
      let trickle: NodeJS.Timeout | undefined;
      socket.on("error", () => undefined);
      socket.on("data", () => undefined);
      socket.on("close", () => {
        h.closed = true;
        clearInterval(trickle);
        resolve();
      });
      socket.on("connect", () => {
        h.connected = true;
        switch (kind) {
          case "partial-preface":
            socket.write(HTTP2_PREFACE.subarray(0, 16));
            break;
          case "partial-headers":
            socket.write("POST /medschedule.queue.v1.QueueService/ListQueues HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n");
            break;
          case "preface-then-silence":
            socket.write(Buffer.concat([HTTP2_PREFACE, EMPTY_SETTINGS]));
            break;
          case "slowloris-headers":
            socket.write("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
            trickle = setInterval(() => socket.write("a"), 300);
            this.timers.add(trickle);
            break;
          case "keep-alive-idle":
            socket.write("GET /no-such-page HTTP/1.1\r\nHost: localhost\r\n\r\n");
            break;
          default:
            break;
        }
        resolve();
      });
    });
  }

  private openSession(kind: AttackKind): Promise<void> {
    return new Promise((resolve) => {
      const session = http2.connect(`http://${this.host}:${this.port}`, { createConnection: () => this.connect() });
      const h: Held = { kind, connected: false, closed: false, destroy: () => session.destroy() };
      this.held.push(h);
      session.on("error", () => undefined);
      session.on("close", () => {
        h.closed = true;
        resolve();
      });
      session.on("connect", () => {
        h.connected = true;
        if (kind === "h2-idle-after-call") {
          const s = session.request({ ":path": "/no-such-page" });
          s.on("error", () => undefined);
          s.resume();
        } else {
          // Headers of a gRPC call, and then never the body.
          const s = session.request({ ":method": "POST", ":path": "/medschedule.queue.v1.QueueService/ListQueues", "content-type": "application/grpc", te: "trailers" });
          s.on("error", () => undefined);
          s.resume();
        }
        resolve();
      });
    });
  }
}

/** connectJsonOnNewConnection makes one Connect JSON call over HTTP/1.1 on a connection of its own from 127.0.0.1. */
export function connectJsonOnNewConnection(
  port: number,
  procedure: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs = 15_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        localAddress: "127.0.0.1",
        path: procedure,
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", connection: "close", ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", (err) => resolve({ status: 0, body: String(err) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve({ status: 0, body: String(err) }));
    req.end(JSON.stringify(body));
  });
}

/** waitFor polls `cond` every 100 ms until it holds; past `boundMs` (a guard against a hang, not a timing check) it throws. */
export async function waitFor(cond: () => boolean | Promise<boolean>, boundMs: number, what: string): Promise<void> {
  const until = Date.now() + boundMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > until) throw new Error(`gave up waiting for ${what} after ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
