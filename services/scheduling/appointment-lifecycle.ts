// An appointment's visit: check-in (BOOKED -> CHECKED_IN, with a ticket in the provider's queue),
// no-show and completion, each a compare-and-swap state change with its requestId, audit row and
// change event, and the queue ticket settled first (appointment-tickets.ts says how).
import { create, toBinary, type MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Ticket } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  CheckInAppointmentResponseSchema,
  CompleteAppointmentResponseSchema,
  MarkNoShowResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditBase } from "../runtime/audit.js";
import { callerOf, type Caller } from "../runtime/caller.js";
import { AbortedError } from "../runtime/errors.js";
import { requestHash, type RequestKey } from "../runtime/idempotency.js";
import { audit } from "./appointment-access.js";
import { ticketPlan, type AppointmentTicket, type AppointmentTickets, type TicketAction } from "./appointment-tickets.js";
import type { AppointmentRow, AppointmentStatusName } from "./db/appointment.table.js";
import { toAppointment } from "./mappers/scheduling.mapper.js";
import { changeAppointmentIf, findAppointment } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import {
  appointmentChangedError,
  checkInClosedError,
  checkInNotOpenError,
  noShowBeforeStartError,
  peerUnreachableError,
  queueChoiceNotAllowedError,
  ticketEndedUnseenError,
  visitTookPlaceError,
} from "./scheduling.errors.js";
import type { ValidAppointmentCommand } from "./scheduling.validation.js";

/** CheckedInMeanwhile rolls back a check-in that a concurrent one beat; the caller answers with that one's ticket. */
class CheckedInMeanwhile extends Error {
  constructor(readonly row: AppointmentRow) {
    super("checked in meanwhile");
  }
}

/** AppointmentLifecycle checks in, marks no-shows and completes appointments (see the file comment). */
export class AppointmentLifecycle {
  constructor(
    private readonly c: SchedulingContext,
    private readonly appointmentTickets: AppointmentTickets | undefined,
  ) {}

  /**
   * checkInAppointment marks the patient arrived, inside the check-in window only (from
   * checkInEarlyMs before the start until the appointment's end): issues an APPOINTMENT ticket
   * through the QueueService first, ranked by the appointment's own start time (into the given queue,
   * or the provider's own queue "prov-<providerId>", created on first use with a prefix of its own),
   * then BOOKED -> CHECKED_IN. When the ticket fails the appointment stays BOOKED. Patients check in
   * only themselves, and only into their provider's queue (PERMISSION_DENIED when they name one). A
   * check-in of an appointment already CHECKED_IN (the patient at the kiosk, then at the desk)
   * answers with its ticket and issues none while that ticket is in line or was served; when it
   * ended without a visit (a no-show, withdrawn, transferred and ended there) a new ticket is issued,
   * inside the window again, and the appointment holds that one.
   */
  async checkInAppointment(v: ValidAppointmentCommand & { queueId: string | undefined }, ctx: HandlerContext) {
    const { db, clock, options, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    if (caller.role === "patient" && v.queueId !== undefined) throw queueChoiceNotAllowedError();
    const key: RequestKey = { caller: caller.subject, rpc: "CheckInAppointment", requestId: v.requestId };
    const hash = requestHash([v.appointmentId, v.queueId ?? ""]);
    const read = await access.readCommand(key, hash, CheckInAppointmentResponseSchema, v.appointmentId, caller, "either");
    if (!read.current) return read.replayed;
    const current = read.current;
    const call = { onBehalfOf: caller.subject, action: "CHECK_IN" } as const;
    // The ticket a new one replaces, when checking in again.
    let replaces: string | undefined;
    if (current.status === "CHECKED_IN") {
      const held = await this.tickets().read(ctx, call, current);
      if (ticketPlan("CHECK_IN", held.outcome).kind === "keep") return this.checkedInAlready(caller, key, hash, current, held.ticket!);
      replaces = held.ticket?.ticketId ?? current.ticket_id ?? "";
    } else if (current.status !== "BOOKED") {
      throw await access.refusal(db, current, "CHECK_IN", ["BOOKED"]);
    }
    const provider = await access.requireProvider(db, current.provider_id);
    const arrived = clock.now().getTime();
    if (arrived < current.start_at.getTime() - options.checkInEarlyMs) throw checkInNotOpenError(provider, current, options.checkInEarlyMs);
    if (arrived >= current.end_at.getTime()) throw checkInClosedError(provider, current);
    const ticket = await this.tickets().issue(ctx, call, {
      provider,
      row: current,
      queueId: v.queueId,
      // A deterministic ticket requestId: retries and concurrent check-ins get the same ticket; a
      // check-in after the ticket ended gets a new one.
      requestId: (queueId) => `checkin-${requestHash(replaces === undefined ? [current.appointment_id, queueId] : [current.appointment_id, queueId, replaces])}`,
    });
    const now = clock.now();
    try {
      return await writes.transaction(async (trx, after) => {
        const replayed = await lock.claim(trx, key, hash, now, CheckInAppointmentResponseSchema, { providerId: current.provider_id, token: undefined });
        if (replayed) return replayed;
        const row = await changeAppointmentIf(
          trx,
          current.appointment_id,
          [current.status],
          { status: "CHECKED_IN", at: now, ticketId: ticket.ticketId },
          auditBase(caller, "CheckInAppointment", now),
          { ticketId: current.ticket_id },
        );
        if (!row) {
          const latest = (await findAppointment(trx, current.appointment_id)) ?? current;
          // Rolled back (the requestId claim too), then answered as a check-in of a checked-in appointment.
          if (latest.status === "CHECKED_IN" && latest.ticket_id) throw new CheckedInMeanwhile(latest);
          throw await access.refusal(trx, latest, "CHECK_IN", ["BOOKED"]);
        }
        const res = create(CheckInAppointmentResponseSchema, { appointment: toAppointment(row, this.c.reasons), ticket });
        await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(CheckInAppointmentResponseSchema, res)));
        after.changed(row.provider_id, "CHECKED_IN");
        return res;
      }, { claims: true });
    } catch (err) {
      if (!(err instanceof CheckedInMeanwhile)) throw err;
      const held = await this.tickets().read(ctx, call, err.row);
      if (!held.ticket) throw new AbortedError("NO_TICKET", "the patient's ticket could not be found in the queue; retry");
      return this.checkedInAlready(caller, key, hash, err.row, held.ticket);
    }
  }

  /** checkedInAlready answers a check-in of a CHECKED_IN appointment with the ticket it holds (audited, kept for the requestId). */
  private async checkedInAlready(caller: Caller, key: RequestKey, hash: string, row: AppointmentRow, ticket: Ticket) {
    const now = this.c.clock.now();
    return this.c.writes.transaction(async (trx) => {
      const replayed = await this.c.lock.claim(trx, key, hash, now, CheckInAppointmentResponseSchema, { providerId: row.provider_id, token: undefined });
      if (replayed) return replayed;
      await AUDIT_LOG.append(trx, audit(caller, "CheckInAppointment", [row], now));
      const res = create(CheckInAppointmentResponseSchema, { appointment: toAppointment(row, this.c.reasons), ticket });
      await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(CheckInAppointmentResponseSchema, res)));
      return res;
    }, { claims: true });
  }

  /**
   * markNoShow records that the patient did not come: BOOKED or CHECKED_IN -> NOSHOW, only once the
   * appointment has started (before that the patient may still come, and the time is not to be
   * freed). A checked-in patient's ticket ends with it (called: NO_SHOW; still waiting: withdrawn);
   * refused when the ticket shows the patient was seen.
   */
  async markNoShow(v: ValidAppointmentCommand, ctx: HandlerContext) {
    return this.transition(ctx, "MarkNoShow", "MARK_NO_SHOW", v, MarkNoShowResponseSchema, ["BOOKED", "CHECKED_IN"], "NOSHOW", async (current, now) => {
      if (now.getTime() < current.start_at.getTime()) throw noShowBeforeStartError(await this.c.access.providerNaming(current.provider_id), current);
    });
  }

  /**
   * completeAppointment records that the visit took place: CHECKED_IN -> FULFILLED. The ticket says
   * whether it did: refused when it ended as a no-show or withdrawn (mark a no-show, or check in
   * again); a ticket still called is completed at its counter, one still waiting withdrawn. Needs no
   * clock rule of its own: only a checked-in appointment completes, and check-in opens shortly before
   * the start.
   */
  async completeAppointment(v: ValidAppointmentCommand, ctx: HandlerContext) {
    return this.transition(ctx, "CompleteAppointment", "COMPLETE", v, CompleteAppointmentResponseSchema, ["CHECKED_IN"], "FULFILLED");
  }

  /**
   * transition is a compare-and-swap state change (doctors: their own appointments) with requestId,
   * audit and change event; `check` may refuse it for the appointment as read, at `now`. A CHECKED_IN
   * appointment's ticket is settled first (settleTicket), and the change applies only while the
   * appointment still holds the status and ticket it was read with.
   */
  private async transition<S extends typeof MarkNoShowResponseSchema | typeof CompleteAppointmentResponseSchema>(
    ctx: HandlerContext,
    rpc: string,
    action: "MARK_NO_SHOW" | "COMPLETE",
    v: ValidAppointmentCommand,
    schema: S,
    from: AppointmentStatusName[],
    to: AppointmentStatusName,
    check?: (current: AppointmentRow, now: Date) => Promise<void>,
  ): Promise<MessageShape<S>> {
    const { db, clock, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc, requestId: v.requestId };
    const hash = requestHash([v.appointmentId]);
    const read = await access.readCommand(key, hash, schema, v.appointmentId, caller, "doctor");
    if (!read.current) return read.replayed;
    const current = read.current;
    if (!from.includes(current.status)) throw await access.refusal(db, current, action, from);
    const now = clock.now();
    await check?.(current, now);
    const ticketId = await this.settleTicket(ctx, caller, current, action);
    return writes.transaction(async (trx, after) => {
      const replayed = await lock.claim(trx, key, hash, now, schema, { providerId: current.provider_id, token: undefined });
      if (replayed) return replayed;
      const row = await changeAppointmentIf(trx, v.appointmentId, [current.status], { status: to, at: now, ticketId }, auditBase(caller, rpc, now), {
        ticketId: current.ticket_id,
      });
      if (!row) throw await access.changedMeanwhile(trx, current, action, from);
      const res = create(schema, { appointment: toAppointment(row, this.c.reasons) } as never) as MessageShape<S>;
      await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(schema, res)));
      after.changed(row.provider_id, to);
      return res;
    }, { claims: true });
  }

  /**
   * settleTicket brings a CHECKED_IN appointment's ticket in line with `action` before the
   * appointment changes (ticketPlan, appointment-tickets.ts): ends an active ticket through the queue,
   * or refuses the change. Returns the ticket the appointment is to record: the one that continues a
   * transferred ticket, else undefined (unchanged). Other states have no ticket to settle.
   */
  async settleTicket(ctx: HandlerContext, caller: Caller, current: AppointmentRow, action: Exclude<TicketAction, "CHECK_IN">): Promise<string | undefined> {
    if (current.status !== "CHECKED_IN" || !current.ticket_id) return undefined;
    const call = { onBehalfOf: caller.subject, action };
    // An active ticket can move on while it is being ended (called, completed): read it again, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      const held: AppointmentTicket = await this.tickets().read(ctx, call, current);
      const plan = ticketPlan(action, held.outcome);
      const changed = held.ticket && held.ticket.ticketId !== current.ticket_id ? held.ticket.ticketId : undefined;
      if (plan.kind === "proceed") return changed;
      if (plan.kind === "refuse") {
        const provider = await this.c.access.providerNaming(current.provider_id);
        const summary = { number: held.ticket?.number ?? "" };
        if (held.outcome === "COMPLETED") throw visitTookPlaceError(provider, current, action, summary);
        throw ticketEndedUnseenError(provider, current, held.outcome === "NO_SHOW" ? "NO_SHOW" : "CANCELLED", summary);
      }
      if (plan.kind === "end" && (await this.tickets().end(ctx, call, held.ticket!, plan.as))) return changed;
    }
    throw appointmentChangedError(await this.c.access.providerNaming(current.provider_id), current, action);
  }

  /** tickets is the QueueService side of appointments (QUEUE_UNAVAILABLE when no queue is configured). */
  private tickets(): AppointmentTickets {
    if (!this.appointmentTickets) throw peerUnreachableError("queue");
    return this.appointmentTickets;
  }
}
