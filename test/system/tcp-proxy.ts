// A small TCP proxy (node:net) that a fault test puts between the services and Redis, so it can make
// Redis slow (every chunk delayed, both ways) and then unreachable (new connections refused, open
// ones cut) without touching the server itself.
import net from "node:net";

/** ProxyMode is how the proxy treats traffic: pass it, delay it, or refuse it. */
export type ProxyMode = { kind: "pass" } | { kind: "slow"; delayMs: number } | { kind: "down" };

/** TcpProxy is a running proxy on 127.0.0.1. */
export interface TcpProxy {
  /** port is where the proxy listens. */
  readonly port: number;
  /** mode is the current behaviour. */
  readonly mode: ProxyMode;
  /** connections counts the client connections accepted so far. */
  readonly connections: number;
  /** setMode switches behaviour; "down" also cuts every open connection at once. */
  setMode(mode: ProxyMode): void;
  /** close stops listening and cuts every connection. */
  close(): Promise<void>;
}

/** createTcpProxy listens on 127.0.0.1 (`port`, default 0: the OS chooses) and forwards to `target`. */
export async function createTcpProxy(target: { host?: string; port: number }, opts: { port?: number } = {}): Promise<TcpProxy> {
  let mode: ProxyMode = { kind: "pass" };
  let accepted = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  /** pipe copies from → to, delaying every chunk by the current slow delay (order kept). */
  const pipe = (from: net.Socket, to: net.Socket) => {
    let chain = Promise.resolve();
    from.on("data", (chunk: Buffer) => {
      if (mode.kind === "pass") {
        chain = chain.then(() => {
          if (!to.destroyed) to.write(chunk);
        });
        return;
      }
      if (mode.kind === "down") return;
      const delayMs = mode.delayMs;
      from.pause();
      chain = chain.then(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              if (!to.destroyed) to.write(chunk);
              if (!from.destroyed) from.resume();
              resolve();
            }, delayMs),
          ),
      );
    });
  };

  const server = net.createServer((client) => {
    accepted++;
    if (mode.kind === "down") {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host ?? "127.0.0.1", port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const cutAll = () => {
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return accepted;
    },
    setMode(next) {
      mode = next;
      if (next.kind === "down") cutAll();
    },
    close() {
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
