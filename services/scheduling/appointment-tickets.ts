// An appointment's queue ticket, kept in step with the appointment.
//
// Why: a CHECKED_IN appointment has a ticket in a QueueService queue, and each says something about
// the visit. If they drift apart, a cancelled appointment's patient is still called, a patient who
// never came is recorded as seen, or a patient whose ticket was withdrawn cannot get back in line.
//
// How: scheduling orchestrates; the queue never calls scheduling. Every change of a CHECKED_IN
// appointment reads its ticket first (GetTicket with the service token, following a transfer to the
// ticket that continues it) and decides by ticketPlan(): end the ticket through the queue before the
// appointment moves, refuse the change, or go ahead. The appointment then changes by compare-and-swap
// on its status AND the ticket it was read with, so a check-in that slipped in between (a new ticket)
// makes the change fail (APPOINTMENT_CHANGED, retryable) instead of leaving that new ticket behind.
//
// Why this keeps the guarantee: an appointment leaves CHECKED_IN only after its ticket has ended
// (a ticket that cannot be ended, e.g. the queue is down, leaves the appointment as it was), and a
// ticket that ends on its own (called and marked a no-show, withdrawn by staff) is read before
// CompleteAppointment and a new check-in, which act on what it says.
import type { HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError, type CallOptions, type Client } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { TicketPriority, TicketStatus, type Ticket } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { AbortedError, errorReasonOf } from "../runtime/errors.js";
import { outgoingCallOptions } from "../runtime/clients/grpc-transport.js";
import type { Peers } from "../runtime/clients/peers.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { ProviderRow } from "./db/provider.table.js";
import { providerQueueId, providerQueuePrefix } from "./provider-queue.js";
import { peerError, peerUnreachableError, type AppointmentAction } from "./scheduling.errors.js";

/**
 * TicketOutcome is what an appointment's ticket says about the visit: NONE (no ticket, or the queue
 * no longer knows it), WAITING or CALLED (active), COMPLETED (seen), NO_SHOW (did not come when
 * called), CANCELLED (withdrawn), MOVED (transferred to another queue, and no ticket of the
 * appointment is active there any more).
 */
export type TicketOutcome = "NONE" | "WAITING" | "CALLED" | "COMPLETED" | "NO_SHOW" | "CANCELLED" | "MOVED";

/** AppointmentTicket is an appointment's ticket as read, with its outcome (ticket undefined for NONE). */
export interface AppointmentTicket {
  /** outcome is what the ticket says. */
  outcome: TicketOutcome;
  /** ticket is the ticket: the one that continues a transferred ticket, when there is one. */
  ticket: Ticket | undefined;
}

/** TicketEnd is how an active ticket is ended: withdrawn, marked a no-show, or completed at its counter. */
export type TicketEnd = "CANCELLED" | "NO_SHOW" | "COMPLETED";

/**
 * TicketPlan is what a change of a CHECKED_IN appointment does about its ticket: go ahead, end the
 * ticket first, refuse, keep the ticket (check-in: answer with it) or issue a new one (check-in).
 */
export type TicketPlan = { kind: "proceed" } | { kind: "end"; as: TicketEnd } | { kind: "refuse" } | { kind: "keep" } | { kind: "reissue" };

/** TicketAction is a change of a CHECKED_IN appointment that depends on its ticket. */
export type TicketAction = Extract<AppointmentAction, "CANCEL" | "MARK_NO_SHOW" | "COMPLETE" | "CHECK_IN">;

const ACTIVE_TICKET: Record<TicketAction, { WAITING: TicketPlan; CALLED: TicketPlan }> = {
  // The patient no longer comes: out of the queue.
  CANCEL: { WAITING: { kind: "end", as: "CANCELLED" }, CALLED: { kind: "end", as: "CANCELLED" } },
  // Called and absent: the ticket is a no-show too; still waiting (left without a word): withdrawn.
  MARK_NO_SHOW: { WAITING: { kind: "end", as: "CANCELLED" }, CALLED: { kind: "end", as: "NO_SHOW" } },
  // Seen: the called ticket is completed at its counter; one still waiting was seen without a call.
  COMPLETE: { WAITING: { kind: "end", as: "CANCELLED" }, CALLED: { kind: "end", as: "COMPLETED" } },
  // Still in line: that ticket is the answer.
  CHECK_IN: { WAITING: { kind: "keep" }, CALLED: { kind: "keep" } },
};

/**
 * ticketPlan decides what `action` on a CHECKED_IN appointment does about a ticket with `outcome`
 * (the table in the README's appointment lifecycle):
 *
 * | ticket     | Cancel      | MarkNoShow              | Complete                       | CheckIn again |
 * |------------|-------------|-------------------------|--------------------------------|---------------|
 * | WAITING    | withdraw it | withdraw it             | withdraw it                    | answer with it|
 * | CALLED     | withdraw it | mark it NO_SHOW         | complete it                    | answer with it|
 * | COMPLETED  | refuse      | refuse                  | go ahead                       | answer with it|
 * | NO_SHOW    | go ahead    | go ahead                | refuse                         | new ticket    |
 * | CANCELLED  | go ahead    | go ahead                | refuse                         | new ticket    |
 * | MOVED/NONE | go ahead    | go ahead                | go ahead                       | new ticket    |
 */
export function ticketPlan(action: TicketAction, outcome: TicketOutcome): TicketPlan {
  switch (outcome) {
    case "WAITING":
    case "CALLED":
      return ACTIVE_TICKET[action][outcome];
    case "COMPLETED":
      return action === "CHECK_IN" ? { kind: "keep" } : action === "COMPLETE" ? { kind: "proceed" } : { kind: "refuse" };
    case "NO_SHOW":
    case "CANCELLED":
      return action === "CHECK_IN" ? { kind: "reissue" } : action === "COMPLETE" ? { kind: "refuse" } : { kind: "proceed" };
    case "MOVED":
    case "NONE":
      return action === "CHECK_IN" ? { kind: "reissue" } : { kind: "proceed" };
  }
}

/** outcomeOf maps a ticket's status to its outcome (a transferred ticket not followed: MOVED). */
export function outcomeOf(ticket: Ticket): TicketOutcome {
  switch (ticket.status) {
    case TicketStatus.WAITING:
      return "WAITING";
    case TicketStatus.CALLED:
      return "CALLED";
    case TicketStatus.COMPLETED:
      return "COMPLETED";
    case TicketStatus.NO_SHOW:
      return "NO_SHOW";
    case TicketStatus.CANCELLED:
      return "CANCELLED";
    case TicketStatus.TRANSFERRED:
      return "MOVED";
    default:
      throw new AbortedError("NO_TICKET", "the queue answered with a ticket in no known state; retry");
  }
}

/** TicketCall is who a ticket call is for: the end user (x-on-behalf-of) and the change it serves. */
export interface TicketCall {
  /** onBehalfOf is the caller of the scheduling RPC. */
  onBehalfOf: string;
  /** action is the appointment change the call serves (for the error when the queue is unreachable). */
  action: TicketAction;
}

/**
 * AppointmentTickets makes the QueueService calls of an appointment's ticket with this service's own
 * token: issuing it at check-in (into the provider's own queue, created on first use), reading it
 * (following transfers) and ending it.
 */
export class AppointmentTickets {
  constructor(private readonly peers: Peers) {}

  /**
   * issue issues the appointment's APPOINTMENT ticket, ranked by the appointment's own start, into
   * `queueId` or the provider's own queue; `requestId` makes retries and concurrent check-ins get
   * the same ticket. A ticket of the appointment still active anywhere is returned instead (the
   * queue allows one per appointment).
   */
  async issue(ctx: HandlerContext, call: TicketCall, q: { provider: ProviderRow; row: AppointmentRow; queueId: string | undefined; requestId: (queueId: string) => string }): Promise<Ticket> {
    const queue = this.peers.client(QueueService);
    const callOpts = outgoingCallOptions(ctx, { onBehalfOf: call.onBehalfOf });
    const queueId = q.queueId ?? (await this.providerQueue(queue, q.provider, callOpts, call));
    const issued = await queue
      .issueTicket(
        {
          requestId: q.requestId(queueId),
          queueId,
          patientId: q.row.patient_id,
          priority: TicketPriority.APPOINTMENT,
          appointmentId: q.row.appointment_id,
          appointmentTime: timestampFromDate(q.row.start_at),
        },
        callOpts,
      )
      .catch((err: unknown) => {
        throw failure(err, call);
      });
    if (!issued.ticket) throw new AbortedError("NO_TICKET", "the queue answered without a ticket; retry");
    return issued.ticket;
  }

  /**
   * read reads the appointment's ticket. A transferred ticket is followed to the appointment's ticket
   * active in another queue (MOVED when there is none any more); a ticket the queue does not know is
   * NONE.
   */
  async read(ctx: HandlerContext, call: TicketCall, row: AppointmentRow): Promise<AppointmentTicket> {
    if (!row.ticket_id) return { outcome: "NONE", ticket: undefined };
    const queue = this.peers.client(QueueService);
    const callOpts = outgoingCallOptions(ctx, { onBehalfOf: call.onBehalfOf });
    let ticket: Ticket | undefined;
    try {
      ticket = (await queue.getTicket({ ticketId: row.ticket_id }, callOpts)).ticket;
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return { outcome: "NONE", ticket: undefined };
      throw failure(err, call);
    }
    if (!ticket) throw new AbortedError("NO_TICKET", "the queue answered without a ticket; retry");
    if (ticket.status !== TicketStatus.TRANSFERRED) return { outcome: outcomeOf(ticket), ticket };
    const successor = await this.activeTicketOf(queue, callOpts, call, row.appointment_id);
    return successor ? { outcome: outcomeOf(successor), ticket: successor } : { outcome: "MOVED", ticket };
  }

  /**
   * end ends an active ticket: withdrawn (CancelTicket), or at the counter that called it marked a
   * no-show or completed. Undefined when the ticket changed meanwhile (the queue refused: e.g. it was
   * called, or ended, in between): read it again and decide anew.
   */
  async end(ctx: HandlerContext, call: TicketCall, ticket: Ticket, as: TicketEnd): Promise<Ticket | undefined> {
    const queue = this.peers.client(QueueService);
    const callOpts = outgoingCallOptions(ctx, { onBehalfOf: call.onBehalfOf });
    try {
      const ended =
        as === "CANCELLED"
          ? await queue.cancelTicket({ ticketId: ticket.ticketId, reason: WITHDRAWN_BECAUSE[call.action] }, callOpts)
          : as === "NO_SHOW"
            ? await queue.markTicketNoShow({ ticketId: ticket.ticketId, counterId: ticket.counterId }, callOpts)
            : await queue.completeTicket({ ticketId: ticket.ticketId, counterId: ticket.counterId }, callOpts);
      return ended.ticket;
    } catch (err) {
      if (ConnectError.from(err).code === Code.FailedPrecondition) return undefined;
      throw failure(err, call);
    }
  }

  /**
   * activeTicketOf finds the appointment's WAITING or CALLED ticket in any queue (the one that
   * continues a transferred ticket; the queue keeps at most one per appointment). Walks every queue:
   * only a transfer, which is rare, needs it.
   */
  private async activeTicketOf(queue: Client<typeof QueueService>, callOpts: CallOptions, call: TicketCall, appointmentId: string): Promise<Ticket | undefined> {
    let queuesPage = "";
    do {
      const queues = await queue.listQueues({ pageSize: 500, pageToken: queuesPage }, callOpts).catch((err: unknown) => {
        throw failure(err, call);
      });
      for (const q of queues.queues) {
        let ticketsPage = "";
        do {
          const page = await queue
            .listTickets({ queueId: q.queueId, statuses: [TicketStatus.WAITING, TicketStatus.CALLED], pageSize: 500, pageToken: ticketsPage }, callOpts)
            .catch((err: unknown) => {
              throw failure(err, call);
            });
          const found = page.tickets.find((t) => t.appointmentId === appointmentId);
          if (found) return found;
          ticketsPage = page.nextPageToken;
        } while (ticketsPage !== "");
      }
      queuesPage = queues.nextPageToken;
    } while (queuesPage !== "");
    return undefined;
  }

  /**
   * providerQueue is the id of the provider's own queue, created on first use with a ticket prefix
   * no other queue has (providerQueuePrefix); a queue that exists already (perhaps renamed by staff)
   * is used as it is.
   */
  private async providerQueue(queue: Client<typeof QueueService>, provider: ProviderRow, callOpts: CallOptions, call: TicketCall): Promise<string> {
    const queueId = providerQueueId(provider.provider_id);
    try {
      await queue.getQueue({ queueId }, callOpts);
      return queueId;
    } catch (err) {
      if (ConnectError.from(err).code !== Code.NotFound) throw failure(err, call);
    }
    const taken = new Set<string>();
    let pageToken = "";
    for (let page = 0; page < 100; page++) {
      const res = await queue.listQueues({ pageSize: 500, pageToken }, callOpts).catch((err: unknown) => {
        throw failure(err, call);
      });
      for (const q of res.queues) taken.add(q.prefix);
      pageToken = res.nextPageToken;
      if (pageToken === "") break;
    }
    // Another queue may take the chosen prefix meanwhile (the first check-ins of two new providers at
    // once): the queue refuses it (PREFIX_IN_USE) and the next free one is tried.
    for (let attempt = 1; ; attempt++) {
      const prefix = providerQueuePrefix(provider.display_name, taken);
      try {
        await queue.createQueue({ queueId, displayName: provider.display_name.slice(0, 200), prefix, timeZone: provider.time_zone, locationId: provider.location_id }, callOpts);
        return queueId;
      } catch (err) {
        // Created meanwhile by a concurrent check-in: use it.
        if (ConnectError.from(err).code === Code.AlreadyExists) return queueId;
        if (errorReasonOf(err) !== "PREFIX_IN_USE" || attempt >= PREFIX_ATTEMPTS) throw failure(err, call);
        taken.add(prefix);
      }
    }
  }
}

/** PREFIX_ATTEMPTS bounds how many prefixes a new provider queue tries when others take them meanwhile. */
const PREFIX_ATTEMPTS = 5;

/** WITHDRAWN_BECAUSE is the reason the queue records when a ticket is withdrawn for an appointment change. */
const WITHDRAWN_BECAUSE: Record<TicketAction, string> = {
  CANCEL: "appointment cancelled",
  MARK_NO_SHOW: "appointment marked as a no-show",
  COMPLETE: "appointment completed without being called",
  CHECK_IN: "checked in again",
};

/** failure is a failed queue call as this call's error: QUEUE_UNAVAILABLE (saying nothing changed) when the queue cannot be reached, else the queue's own. */
function failure(err: unknown, call: TicketCall): unknown {
  if (err instanceof ConnectError && err.code === Code.Unavailable) return peerUnreachableError("queue", call.action);
  return peerError(err);
}
