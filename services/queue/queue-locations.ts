/**
 * The queue's locations: a queue is at a location of the scheduling service (issue 20), which
 * CreateQueue confirms there (GetLocation, with this service's token, for the caller), and staff
 * whose token lists locations reach only the queues at them (runtime/auth/location-scope.ts).
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { DEFAULT_LOCATION_ID, requireLocation, scopeOf } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import type { Peers } from "../runtime/clients/peers.js";
import { outgoingCallOptions } from "../runtime/clients/grpc-transport.js";
import type { Db } from "./db/database.js";
import { LocationNotFoundError, schedulingUnavailableError } from "./queue.errors.js";
import { findQueue, findQueueOfTicket } from "./repositories/queue.repository.js";

/** QueueLocations checks locations with the scheduling service and the caller's locations against queues. */
export class QueueLocations {
  constructor(
    private readonly db: Db,
    private readonly peers: Peers | undefined,
  ) {}

  /**
   * requireExists confirms a location with the scheduling service: NOT_FOUND LOCATION_NOT_FOUND for
   * one it does not know, UNAVAILABLE SCHEDULING_UNAVAILABLE when it cannot say. The default
   * location always exists (created with the schema, never removed): no call for it.
   */
  async requireExists(ctx: HandlerContext, locationId: string): Promise<void> {
    if (locationId === DEFAULT_LOCATION_ID) return;
    if (!this.peers) throw schedulingUnavailableError(undefined);
    const scheduling = this.peers.client(SchedulingService);
    try {
      await scheduling.getLocation({ locationId }, outgoingCallOptions(ctx, { onBehalfOf: callerOf(ctx).subject }));
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) throw new LocationNotFoundError(locationId);
      throw schedulingUnavailableError(err);
    }
  }

  /** requireQueue refuses a caller scoped to other locations than the queue's (OUTSIDE_YOUR_LOCATIONS); a queue that does not exist is left to the call. */
  async requireQueue(ctx: HandlerContext, queueId: string): Promise<void> {
    if (scopeOf(ctx).all) return;
    const queue = await findQueue(this.db, queueId);
    if (queue) requireLocation(ctx, queue.location_id, "this queue");
  }

  /** requireTicket refuses a caller scoped to other locations than the ticket's queue's; a ticket that does not exist is left to the call. */
  async requireTicket(ctx: HandlerContext, ticketId: string): Promise<void> {
    if (scopeOf(ctx).all) return;
    const queue = await findQueueOfTicket(this.db, ticketId);
    if (queue) requireLocation(ctx, queue.location_id, "this ticket's queue");
  }
}
