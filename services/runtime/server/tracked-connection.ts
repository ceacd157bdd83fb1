// What the connection limiter (connection-limiter.ts) knows of each client connection
// (TrackedConnection) and of each request on it (OpenRequest), and the per-address order in which idle
// connections are closed first for new ones (AddressGroups; see the header of connection-limiter.ts).
import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import type tls from "node:tls";
import { PUBLIC_SERVICES } from "../auth/role-table.js";

/** OpenRequest is a request or stream in progress on a tracked connection. */
export interface OpenRequest {
  readonly req: http.IncomingMessage | http2.Http2ServerRequest;
  readonly startedAt: number;
  bodyDone: boolean;
  /** public is a call to health or reflection, which need no token (a Health/Watch stream costs an attacker nothing). */
  readonly public: boolean;
}

/** isPublicCall says whether a request path calls a service that needs no token. */
export function isPublicCall(url: string | undefined): boolean {
  const service = (url ?? "").split("/")[1] ?? "";
  return PUBLIC_SERVICES.has(service);
}

/** TrackedConnection is an accepted TCP socket and what it turned into (TLS, an HTTP/2 session), with its requests. */
export interface TrackedConnection {
  readonly socket: net.Socket;
  /** address is the remote address of the TCP socket. */
  readonly address: string;
  tlsSocket?: tls.TLSSocket;
  session?: http2.Http2Session;
  readonly openedAt: number;
  /** idleSince is when the last request ended (openedAt before the first). */
  idleSince: number;
  /** served is set by the first request or stream. */
  served: boolean;
  readonly requests: Set<OpenRequest>;
  /** closingAt is when it was told to close (HTTP/2 GOAWAY), 0 while open. */
  closingAt: number;
  /** gone is set once it is destroyed or closed (its requests' last events may come later). */
  gone: boolean;
}

/**
 * AddressGroups counts the connections of each remote address and keeps its idle ones (nothing in
 * progress: waiting for a first request, or idle), longest-idle first.
 */
export class AddressGroups {
  private readonly groups = new Map<string, { count: number; idle: Set<TrackedConnection> }>();

  /** join counts a new connection, idle until its first request. */
  join(c: TrackedConnection): void {
    let g = this.groups.get(c.address);
    if (!g) this.groups.set(c.address, (g = { count: 0, idle: new Set() }));
    g.count++;
    g.idle.add(c);
  }

  /** leave forgets a closed connection. */
  leave(c: TrackedConnection): void {
    const g = this.groups.get(c.address);
    if (!g) return;
    g.idle.delete(c);
    if (--g.count === 0) this.groups.delete(c.address);
  }

  /** idle puts a connection last in its address's idle order. */
  idle(c: TrackedConnection): void {
    const g = this.groups.get(c.address);
    if (!g) return;
    g.idle.delete(c);
    g.idle.add(c);
  }

  /** busy takes a connection out of the idle order. */
  busy(c: TrackedConnection): void {
    this.groups.get(c.address)?.idle.delete(c);
  }

  /**
   * pick is the longest-idle connection of the address holding the most idle ones (ties: the
   * longest-idle): a flood of idle sockets from one address sheds its own first, while the one idle
   * keep-alive of a busy clinic is left for its next click.
   */
  pick(): TrackedConnection | undefined {
    let best: TrackedConnection | undefined;
    let bestCount = 0;
    for (const g of this.groups.values()) {
      const first = g.idle.values().next().value as TrackedConnection | undefined;
      if (!first) continue;
      if (g.idle.size > bestCount || (g.idle.size === bestCount && best && first.idleSince < best.idleSince)) {
        best = first;
        bestCount = g.idle.size;
      }
    }
    return best;
  }
}

/** bodyDone says whether a request's body has arrived in full (read or not). */
export function bodyDone(req: http.IncomingMessage | http2.Http2ServerRequest): boolean {
  const stream = (req as http2.Http2ServerRequest).stream as http2.ServerHttp2Stream | undefined;
  if (!stream) return (req as http.IncomingMessage).complete;
  return stream.destroyed || stream.endAfterHeaders || stream.state.remoteClose === 1;
}
