// Calling another MedSchedule service: the generated Connect client over grpc-js to its *_ADDR
// replicas in distributed mode, or straight into the class mounted in this process (`npm start`).
// Either way the call carries this service's own token and goes through the callee's interceptors
// (auth, logging, metrics), so nothing differs between the two modes but the wire.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import type { Upstreams } from "../config.js";
import type { ServiceRegistration } from "../server/grpc-server.js";
import { createGrpcJsTransport, type GrpcJsTransport } from "./grpc-transport.js";
import { createInProcessTransport } from "./in-process-transport.js";

/** Peers hands out clients of the other services. */
export interface Peers {
  /**
   * client returns a client of `service`, calling as this service (SERVICE_TOKEN). Pass each call
   * `outgoingCallOptions(ctx, { onBehalfOf })` so the deadline, cancellation, request id and the end
   * user travel with it. Calls fail UNAVAILABLE when the service is neither mounted here nor
   * has an address configured.
   */
  client<S extends DescService>(service: S): Client<S>;
}

/** upstreamName maps "medschedule.lock.v1.LockService" to "lock". */
export function upstreamName(service: DescService): keyof Upstreams | undefined {
  const m = /^medschedule\.(scheduling|queue|lock|backup|patient)\.v1\./.exec(service.typeName);
  return m ? (m[1] as keyof Upstreams) : undefined;
}

function unavailableTransport(service: DescService): Transport {
  const name = upstreamName(service);
  const env = name ? `${name.toUpperCase()}_ADDR` : "its address";
  const fail = async (): Promise<never> => {
    throw new ConnectError(`${service.typeName} is not reachable from this process: set ${env}`, Code.Unavailable);
  };
  return { unary: fail, stream: fail };
}

/**
 * createPeers builds the Peers of a process. `local` returns the registrations mounted in this
 * process (read at call time, so services may be created after their peers); `upstreams` are the
 * configured addresses; `token` is this service's own bearer token.
 */
export function createPeers(opts: {
  local?: () => ServiceRegistration[];
  upstreams: Upstreams;
  token?: () => string | undefined;
}): Peers & { close(): void } {
  const transports = new Map<string, Transport>();
  const grpcTransports: GrpcJsTransport[] = [];
  const transportFor = (service: DescService): Transport => {
    let t = transports.get(service.typeName);
    if (t) return t;
    const name = upstreamName(service);
    const addresses = name ? opts.upstreams[name] : [];
    const localReg = opts.local?.().find((r) => r.service.typeName === service.typeName);
    if (localReg) {
      t = createInProcessTransport(localReg, (): Record<string, string> => {
        const token = opts.token?.();
        return token ? { authorization: `Bearer ${token}` } : {};
      });
    } else if (addresses.length > 0) {
      const token = opts.token?.();
      const g = createGrpcJsTransport({ addresses, headers: token ? { authorization: `Bearer ${token}` } : {} });
      grpcTransports.push(g);
      t = g;
    } else {
      t = unavailableTransport(service);
    }
    transports.set(service.typeName, t);
    return t;
  };
  return {
    client: <S extends DescService>(service: S) => createClient(service, transportFor(service)),
    close: () => {
      for (const g of grpcTransports) g.close();
    },
  };
}
