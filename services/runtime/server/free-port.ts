import net from "node:net";

/**
 * freePort asks the OS for a free TCP port on 127.0.0.1 (listen on 0, read the port, close). For
 * servers that must be told a port up front (redis-server, child processes); another process may
 * take it before it is used, so callers that can should listen on 0 themselves.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
