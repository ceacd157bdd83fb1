// A gRPC transport whose every call carries a bearer token: how the tests call a server over the
// network as a given caller.
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/** tokenGrpcTransport is a gRPC transport to 127.0.0.1:`port` whose every call carries `authorization: Bearer <token>`. */
export function tokenGrpcTransport(port: number, token: string): Transport {
  return createGrpcTransport({
    baseUrl: `http://127.0.0.1:${port}`,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
}
