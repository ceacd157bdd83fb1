import { on } from "node:events";
import { EventEmitter } from "node:events";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponseSchema,
  type HealthListResponseSchema,
} from "../../../gen/health/v1/health_pb.js";

export { ServingStatus };

/**
 * HealthServiceImpl serves grpc.health.v1.Health (Check, Watch, List) from a status table: the
 * overall server ("") and each served service by full name. Shutdown flips everything to NOT_SERVING.
 */
export class HealthServiceImpl implements ServiceImpl<typeof Health> {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly changes = new EventEmitter();

  constructor(services: string[] = []) {
    this.changes.setMaxListeners(0);
    this.statuses.set("", ServingStatus.SERVING);
    for (const s of services) this.statuses.set(s, ServingStatus.SERVING);
  }

  /** setStatus sets the status of one service ("" is the whole server) and notifies watchers. */
  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    this.changes.emit("change", service);
  }

  /** setAll sets every known service, and the server, to one status (e.g. NOT_SERVING while draining). */
  setAll(status: ServingStatus): void {
    for (const s of [...this.statuses.keys()]) this.setStatus(s, status);
  }

  /** status reads one service's status, undefined when unknown. */
  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** check answers the current status, NOT_FOUND for an unknown service. */
  check(req: HealthCheckRequest): MessageInitShape<typeof HealthCheckResponseSchema> {
    const status = this.statuses.get(req.service);
    if (status === undefined) throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
    return { status };
  }

  /** list answers every known service's status. */
  list(): MessageInitShape<typeof HealthListResponseSchema> {
    return { statuses: Object.fromEntries([...this.statuses].map(([k, status]) => [k, { status }])) };
  }

  /** watch sends the current status, then every change, until the client goes away. */
  async *watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof HealthCheckResponseSchema>> {
    const changes = on(this.changes, "change", { signal: ctx.signal });
    let last = this.statuses.get(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
    yield { status: last };
    try {
      for await (const [service] of changes) {
        if (service !== req.service) continue;
        const now = this.statuses.get(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (now === last) continue;
        last = now;
        yield { status: now };
      }
    } catch (err) {
      if (ctx.signal.aborted) return;
      throw err;
    }
  }
}
