import { createHash, randomUUID } from "node:crypto";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import type { Ticket } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  AcceptOfferResponseSchema,
  BookAppointmentResponseSchema,
  CancelAppointmentResponseSchema,
  CheckInAppointmentResponseSchema,
  JoinWaitlistResponseSchema,
  MarkNoShowResponseSchema,
  CompleteAppointmentResponseSchema,
  RescheduleAppointmentResponseSchema,
  SchedulingService,
  type AcceptOfferRequest,
  type BookAppointmentRequest,
  type CancelAppointmentRequest,
  type CheckInAppointmentRequest,
  type CreateProviderRequest,
  type CreateProviderResponseSchema,
  type CreateResourceRequest,
  type CreateResourceResponseSchema,
  type GetAppointmentRequest,
  type GetAppointmentResponseSchema,
  type GetAvailabilityRequest,
  type GetAvailabilityResponseSchema,
  type GetProviderRequest,
  type GetProviderResponseSchema,
  type JoinWaitlistRequest,
  type ListAppointmentsRequest,
  type ListAppointmentsResponseSchema,
  type ListAvailableSlotsRequest,
  type ListAvailableSlotsResponseSchema,
  type ListProvidersRequest,
  type ListProvidersResponseSchema,
  type ListResourcesRequest,
  type ListResourcesResponseSchema,
  type MarkNoShowRequest,
  type CompleteAppointmentRequest,
  type RescheduleAppointmentRequest,
  type SetAvailabilityRequest,
  type SetAvailabilityResponseSchema,
  type WatchAppointmentsRequest,
  type WatchAppointmentsResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditBase, auditEntries, type NewAuditLogRow } from "../runtime/audit.js";
import { callerOf, type Caller } from "../runtime/caller.js";
import { replayStored, requestHash, RequestInProgressError, type RequestKey } from "../runtime/idempotency.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import {
  AbortedError,
  AlreadyExistsError,
  databaseDomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "../runtime/errors.js";
import { outgoingCallOptions } from "../runtime/grpc-transport.js";
import { ChangeFeed, type FeedItem } from "../runtime/change-feed.js";
import type { Logger } from "../runtime/logger.js";
import { createNotifier, type Notifier } from "../runtime/notifier.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Peers } from "../runtime/peers.js";
import { checkFence, fencingRejectionsTotal, FencingRejectedError, withLock, type LockClient } from "../runtime/with-lock.js";
import type { AppointmentRow, AppointmentStatusName } from "./db/appointment.table.js";
import type { AvailabilityRow } from "./db/availability.table.js";
import type { ChangeRow } from "./db/change.table.js";
import type { Database, Db } from "./db/database.js";
import type { ProviderRow } from "./db/provider.table.js";
import { expiredOffers, changeAppointmentIf, countUpcoming, findAppointment, findAppointmentAndKey, findAppointments, insertAppointment, listAppointments, lockPatientBookings, openOffersOf, patientCommitments, providerBusy, resourceBusy, slotHolders, updateAppointmentIf } from "./repositories/appointment.repository.js";
import { newAppointmentRow, TimeTakenError, type NewAppointment } from "./repositories/appointment.sql.js";
import { bookAtomically, claimAndFence, readBookingContext, type AtomicBookingResult } from "./repositories/booking.repository.js";
import {
  findAvailability,
  findProvider,
  findProviders,
  findResources,
  insertProvider,
  insertResource,
  listProviders,
  listResources,
  upsertAvailability,
} from "./repositories/provider.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { appendChange, changesAfter, oldestChange, pruneChanges, SCHEDULING_CHANGES_CHANNEL } from "./repositories/change.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { countActiveEntries, findOverlappingEntry, findWaitlistEntry, hasWaitingEntries, insertWaitlistEntry, setWaitlistStatus, waitingEntries } from "./repositories/waitlist.repository.js";
import { bookingOutcomeOf, countTransition, reportWaitlistOf, schedulingBookings } from "./scheduling.metrics.js";
import { kindName, statusName, toAppointment, toAvailability, toProvider, toResource, toSchedule, toWaitlistEntry } from "./mappers/scheduling.mapper.js";
import { DEFAULT_SCHEDULING_OPTIONS, type SchedulingOptions } from "./scheduling-options.js";
import { explainSlotStart, isSlotStart, listSlots, type Interval, type Schedule } from "./slots.js";
import { AppointmentTickets, ticketPlan, type AppointmentTicket, type TicketAction } from "./appointment-tickets.js";
import { patientChangeClosesAt, patientCouldTake, patientMayChange, patientSelfLimit } from "./patient-rules.js";
import {
  alreadyOnWaitlistError,
  appointmentChangedError,
  beyondHorizonError,
  bookingInPastError,
  checkInClosedError,
  checkInNotOpenError,
  illegalTransitionError,
  noAvailabilityError,
  noShowBeforeStartError,
  offerExpiredError,
  offerTimePassedError,
  patientBookingLimitError,
  patientChangeClosedError,
  patientWaitlistLimitError,
  peerError,
  peerUnreachableError,
  queueChoiceNotAllowedError,
  slotHeldForOfferError,
  slotRefusedError,
  slotTakenError,
  ticketEndedUnseenError,
  visitTookPlaceError,
  waitlistWindowPastError,
  type AppointmentAction,
  type ProviderNaming,
} from "./scheduling.errors.js";
import {
  validateAcceptOffer,
  validateBookAppointment,
  validateCancelAppointment,
  validateCheckInAppointment,
  validateCreateProvider,
  validateCreateResource,
  validateGetAppointment,
  validateGetAvailability,
  validateGetProvider,
  validateJoinWaitlist,
  validateListAppointments,
  validateListAvailableSlots,
  validateListProviders,
  validateListResources,
  validateMarkNoShow,
  validateCompleteAppointment,
  validateRescheduleAppointment,
  validateSetAvailability,
  validateWatchAppointments,
} from "./scheduling.validation.js";
import { addDays, firstInstantAtOrAfterWall, localDateOf, wallOfDate } from "./zone-time.js";

/** SchedulingServiceDeps are what the SchedulingService needs; tests pass fakes. */
export interface SchedulingServiceDeps {
  /** db is the service database (Postgres or PGlite), migrated. */
  db: Kysely<any>;
  /** clock tells the time (default: the system clock). */
  clock?: Clock;
  /** logger reports background trouble. */
  logger?: Logger;
  /** config gives the database URL, for the LISTEN connection on real Postgres. */
  config?: { databaseUrl?: string };
  /** peers give the LockService and QueueService clients. */
  peers?: Peers;
  /** lockClient overrides the LockService client (tests calling the class directly). */
  lockClient?: LockClient;
  /** pageTokens seal the List RPCs' page tokens (default: a random key of this process). */
  pageTokens?: PageTokens;
}

/** SCHEDULING_SCHEMA holds the service's tables, fence tokens included. */
const SCHEMA = "scheduling";
const PRUNE_INTERVAL_MS = 60_000;
const MAX_SNAPSHOT = 5_000;
const WATCH_MAX_LAG = 1_000;

type WatchResponse = MessageInitShape<typeof WatchAppointmentsResponseSchema>;

/** PROVIDERS_PAGE is ListProviders' page token: the providers after (display name, id). */
export const PROVIDERS_PAGE = definePageKind(SchedulingService.method.listProviders, { name: "text", id: "text" });
/** RESOURCES_PAGE is ListResources' page token: the resources after (display name, id), bound to the kind asked for. */
export const RESOURCES_PAGE = definePageKind(SchedulingService.method.listResources, { name: "text", id: "text" });
/** APPOINTMENTS_PAGE is ListAppointments' page token: the appointments after (start, id), bound to the query's filters. */
export const APPOINTMENTS_PAGE = definePageKind(SchedulingService.method.listAppointments, { start: "instant", id: "text" });

/** SlotContext names the provider and time of a write, for the error when its time turns out taken. */
interface SlotContext {
  provider: ProviderRow;
  start: Date;
  /** blockedEnd is the end of the time the write blocks: the visit's end plus the provider's buffer. */
  blockedEnd: Date;
  /** moving is the appointment a reschedule moves (it holds its old time again once rolled back). */
  moving?: string;
}

function slotTaken(taken: TimeTakenError["taken"], at: SlotContext): FailedPreconditionError {
  return slotTakenError(at.provider, at.start.getTime(), taken);
}

/** CheckedInMeanwhile rolls back a check-in that a concurrent one beat; the caller answers with that one's ticket. */
class CheckedInMeanwhile extends Error {
  constructor(readonly row: AppointmentRow) {
    super("checked in meanwhile");
  }
}

/**
 * SchedulingServiceImpl serves medschedule.scheduling.v1.SchedulingService: providers, rooms and
 * availability, slot search (slots.ts), bookings that cannot double-book (the provider's fenced lock
 * around one transaction, with Postgres exclusion constraints as the guarantee), the appointment
 * lifecycle as compare-and-swap transitions, the waitlist with held offers, WatchAppointments and an
 * audit row for every read or change of a patient's appointment.
 */
export class SchedulingServiceImpl implements ServiceImpl<typeof SchedulingService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly peers: Peers | undefined;
  private readonly appointmentTickets: AppointmentTickets | undefined;
  private readonly lockClientOverride: LockClient | undefined;
  private readonly pageTokens: PageTokens;
  private readonly options: SchedulingOptions;
  private readonly feed: ChangeFeed<AppointmentRow | undefined, ChangeRow>;
  private readonly notifier: Notifier;
  /** Providers changed by each open transaction of tx(): watchers are woken once it has committed. */
  private readonly touched = new WeakMap<object, { providers: Set<string>; statuses: AppointmentStatusName[] }>();
  private readonly stopReporting: () => void;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private lastPrune = 0;

  constructor(deps: SchedulingServiceDeps, options: Partial<SchedulingOptions> = {}) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger;
    this.peers = deps.peers;
    this.appointmentTickets = deps.peers && new AppointmentTickets(deps.peers);
    this.lockClientOverride = deps.lockClient;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.options = { ...DEFAULT_SCHEDULING_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.feed = new ChangeFeed<AppointmentRow | undefined, ChangeRow>({
      name: "scheduling",
      channel: SCHEDULING_CHANGES_CHANNEL,
      changesAfter: (providerId, after, limit) => changesAfter(this.db, providerId, after, limit),
      latestSequences: async (ids) => new Map((await findProviders(this.db, ids)).map((p) => [p.provider_id, BigInt(p.last_sequence)])),
      load: (providerId, rows) => this.loadChanges(providerId, rows),
      logger: deps.logger,
      listenUrl: this.options.listen ? deps.config?.databaseUrl : undefined,
      pollIntervalMs: this.options.pollIntervalMs,
    });
    this.notifier = createNotifier(this.db, SCHEDULING_CHANGES_CHANNEL, deps.logger);
    this.stopReporting = reportWaitlistOf(this.db);
    if (this.options.offerSweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => void this.expireOffers().catch(() => undefined), this.options.offerSweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** close stops the offer sweep and WatchAppointments' listener (the database stays open). */
  async close(): Promise<void> {
    this.stopReporting();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping?.catch(() => undefined);
    await this.notifier.flush();
    await this.feed.close();
  }

  // ---- providers, resources, availability -------------------------------------------------------

  /** createProvider adds a provider; with a client-chosen id a retry returns the existing one. */
  async createProvider(req: CreateProviderRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateProviderResponseSchema>> {
    const v = validateCreateProvider(req);
    const providerId = v.providerId ?? `p-${randomUUID()}`;
    const inserted = await insertProvider(this.db, {
      provider_id: providerId,
      display_name: v.displayName,
      time_zone: v.timeZone,
      specialty: v.specialty,
      created_at: this.clock.now(),
    });
    if (inserted) return { provider: toProvider(inserted) };
    const existing = await findProvider(this.db, providerId);
    if (!existing) throw new AbortedError("PROVIDER_CONFLICT", "the provider was removed while being created; retry");
    if (existing.display_name !== v.displayName || existing.time_zone !== v.timeZone || existing.specialty !== v.specialty) {
      throw new AlreadyExistsError("PROVIDER_EXISTS", "a provider with this id already exists with different details", { metadata: { providerId } });
    }
    return { provider: toProvider(existing) };
  }

  /** getProvider reads one provider. */
  async getProvider(req: GetProviderRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetProviderResponseSchema>> {
    const v = validateGetProvider(req);
    return { provider: toProvider(await this.requireProvider(this.db, v.providerId)) };
  }

  /** listProviders pages through providers by display name. */
  async listProviders(req: ListProvidersRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListProvidersResponseSchema>> {
    const v = validateListProviders(req);
    const rows = await listProviders(this.db, this.pageTokens.open(PROVIDERS_PAGE, v.pageToken), v.pageSize + 1);
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      providers: page.map(toProvider),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(PROVIDERS_PAGE, { name: last.display_name, id: last.provider_id }) : "",
    };
  }

  /** createResource adds a room or device; with a client-chosen id a retry returns the existing one. */
  async createResource(req: CreateResourceRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateResourceResponseSchema>> {
    const v = validateCreateResource(req);
    const resourceId = v.resourceId ?? `r-${randomUUID()}`;
    const kind = kindName(v.kind);
    const inserted = await insertResource(this.db, { resource_id: resourceId, display_name: v.displayName, kind, created_at: this.clock.now() });
    if (inserted) return { resource: toResource(inserted) };
    const [existing] = await findResources(this.db, [resourceId]);
    if (!existing) throw new AbortedError("RESOURCE_CONFLICT", "the resource was removed while being created; retry");
    if (existing.display_name !== v.displayName || existing.kind !== kind) {
      throw new AlreadyExistsError("RESOURCE_EXISTS", "a room or device with this id already exists with different details", { metadata: { resourceId } });
    }
    return { resource: toResource(existing) };
  }

  /** listResources pages through rooms and devices by display name. */
  async listResources(req: ListResourcesRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListResourcesResponseSchema>> {
    const v = validateListResources(req);
    const kind = v.kind === undefined ? undefined : kindName(v.kind);
    const rows = await listResources(this.db, kind, this.pageTokens.open(RESOURCES_PAGE, v.pageToken, [kind]), v.pageSize + 1);
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      resources: page.map(toResource),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(RESOURCES_PAGE, { name: last.display_name, id: last.resource_id }, [kind]) : "",
    };
  }

  /** setAvailability replaces a provider's weekly pattern; existing appointments stay. */
  async setAvailability(req: SetAvailabilityRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof SetAvailabilityResponseSchema>> {
    const v = validateSetAvailability(req);
    const provider = await this.requireProvider(this.db, v.providerId);
    const row = await upsertAvailability(this.db, {
      provider_id: v.providerId,
      weekly_hours: v.weeklyHours,
      breaks: v.breaks,
      exceptions: v.exceptions,
      slot_minutes: v.slotMs / 60_000,
      buffer_minutes: v.bufferMs / 60_000,
      updated_at: this.clock.now(),
    });
    return { availability: toAvailability(provider, row) };
  }

  /** getAvailability reads a provider's weekly pattern (empty when never set). */
  async getAvailability(req: GetAvailabilityRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetAvailabilityResponseSchema>> {
    const v = validateGetAvailability(req);
    const provider = await this.requireProvider(this.db, v.providerId);
    return { availability: toAvailability(provider, await findAvailability(this.db, v.providerId)) };
  }

  /** listAvailableSlots lists the bookable free slots of a provider (and rooms) in a range, as UTC instants: none before now or beyond the booking horizon. */
  async listAvailableSlots(req: ListAvailableSlotsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListAvailableSlotsResponseSchema>> {
    const v = validateListAvailableSlots(req);
    const provider = await this.requireProvider(this.db, v.providerId);
    await this.requireResources(v.resourceIds);
    const availability = await findAvailability(this.db, v.providerId);
    if (!availability) return { slots: [] };
    const schedule = toSchedule(provider, availability);
    const durationMs = this.checkDuration(schedule, v.durationMs);
    // Only bookable slots: none that has started, none beyond the booking horizon.
    const now = this.clock.now().getTime();
    const range: Interval = { start: Math.max(v.start.getTime(), now), end: Math.min(v.end.getTime(), now + this.options.bookingHorizonMs) };
    if (range.end <= range.start) return { slots: [] };
    // Busy time reaching into the range, buffers included.
    const around: Interval = { start: range.start - 9 * 3_600_000, end: range.end + 9 * 3_600_000 };
    const [pBusy, rBusy] = await Promise.all([providerBusy(this.db, v.providerId, around), resourceBusy(this.db, v.resourceIds, around)]);
    const slots = listSlots(schedule, { range, durationMs, providerBusy: pBusy, resourceBusy: rBusy });
    return { slots: slots.map((s) => ({ startTime: timestampFromDate(new Date(s.start)), endTime: timestampFromDate(new Date(s.end)) })) };
  }

  // ---- booking ----------------------------------------------------------------------------------

  /**
   * bookAppointment books a slot (none -> BOOKED): checks it against the availability, then under the
   * provider's lock, in one transaction: requestId claim, checkFence, the insert (provider and rooms;
   * the exclusion constraints decide), audit row and change event.
   */
  async bookAppointment(req: BookAppointmentRequest, ctx: HandlerContext) {
    try {
      const { response, booked } = await this.book(req, ctx);
      schedulingBookings.inc({ outcome: booked ? "booked" : "replayed" });
      if (booked && response.appointment) await this.passOnUntakeableOffers(response.appointment.patientId);
      return response;
    } catch (err) {
      schedulingBookings.inc({ outcome: bookingOutcomeOf(databaseDomainError(err) ?? err) });
      throw err;
    }
  }

  private async book(req: BookAppointmentRequest, ctx: HandlerContext) {
    const v = validateBookAppointment(req);
    const caller = callerOf(ctx);
    const resourceIds = [...v.resourceIds].sort();
    const key: RequestKey = { caller: caller.subject, rpc: "BookAppointment", requestId: v.requestId };
    const hash = requestHash([v.providerId, v.patientId, v.start.toISOString(), v.durationMs ?? 0, resourceIds, v.reason]);
    // One read, one snapshot: the requestId, the provider, its availability, the rooms, and whether
    // committed appointments already hold the time (only a hint: the exclusion constraints decide).
    const found = await readBookingContext(this.db, { key, providerId: v.providerId, resourceIds, start: v.start, durationMs: v.durationMs });
    if (found.requestKey) return { response: replayStored(BookAppointmentResponseSchema, key, hash, found.requestKey), booked: false };
    const provider = found.provider;
    if (!provider) throw new NotFoundError("provider", v.providerId, "PROVIDER_NOT_FOUND");
    const missing = resourceIds.find((id) => !found.foundResourceIds.includes(id));
    if (missing !== undefined) throw new NotFoundError("resource", missing, "RESOURCE_NOT_FOUND");
    const now = this.clock.now();
    this.checkBookable(provider, v.start, now);
    if (!found.availability) throw noAvailabilityError(provider);
    const schedule = toSchedule(provider, found.availability);
    const durationMs = this.checkDuration(schedule, v.durationMs);
    this.checkSlot(provider, schedule, v.start, durationMs);
    // Time already taken by a committed appointment is refused before queueing for the lock. The
    // requestId was read in the same snapshot: the time is not held by this very request.
    const at: SlotContext = { provider, start: v.start, blockedEnd: new Date(v.start.getTime() + durationMs + schedule.bufferMs) };
    if (found.providerBusy || found.resourceBusy) throw await this.explainTaken(slotTaken(found.providerBusy ? "provider" : "resource", at), at);
    // A patient booking themselves holds at most maxUpcomingPerPatient appointments that have not
    // ended: refused here when already reached, decided under the patient lock below.
    const limited = this.selfBookingLimit(caller);
    if (limited !== undefined && (await countUpcoming(this.db, v.patientId, now)) >= limited) throw patientBookingLimitError(limited);
    const end = new Date(v.start.getTime() + durationMs);
    let booked = false;
    const response = await this.underProviderLock(ctx, provider.provider_id, async (token) => {
      const appointment: NewAppointment = {
        appointmentId: `a-${randomUUID()}`,
        providerId: provider.provider_id,
        patientId: v.patientId,
        start: v.start,
        end,
        bufferMs: schedule.bufferMs,
        status: "BOOKED",
        resourceIds,
        reason: v.reason,
        offerExpiresAt: null,
        waitlistEntryId: null,
        fencingToken: token ?? 0n,
        rescheduledFromId: null,
        at: now,
      };
      // The response is known before the write (every column comes from here), so it is stored with
      // the requestId claim in the same statement.
      const response = create(BookAppointmentResponseSchema, { appointment: toAppointment(newAppointmentRow(appointment)) });
      const lockResource = this.lockResource(provider.provider_id);
      const atomic = {
        appointment,
        key,
        hash,
        response: toBinary(BookAppointmentResponseSchema, response),
        fence: token === undefined ? undefined : { schema: SCHEMA, resource: lockResource, token },
        audit: auditBase(caller, "BookAppointment", now),
        lockTimeoutMs: this.lockTimeoutMs(),
      };
      const result = await this.write(
        () =>
          limited === undefined
            ? bookAtomically(this.db, atomic)
            : // The patient's own bookings of every provider take turns here: the count, a statement
              // after the lock, sees each one committed before, so concurrent ones cannot all pass.
              this.tx(async (trx): Promise<AtomicBookingResult> => {
                await lockPatientBookings(trx, v.patientId);
                if (await REQUEST_KEYS.find(trx, key)) return { outcome: "claimed" };
                if ((await countUpcoming(trx, v.patientId, now)) >= limited) throw patientBookingLimitError(limited);
                return bookAtomically(trx, atomic);
              }),
        at,
      );
      if (result.outcome === "fenced") {
        fencingRejectionsTotal.inc();
        throw new FencingRejectedError(lockResource, token ?? 0n);
      }
      if (result.outcome === "claimed") {
        // A concurrent call with this requestId committed first: answer as it did.
        const existing = await REQUEST_KEYS.find(this.db, key);
        if (!existing) throw new RequestInProgressError();
        return replayStored(BookAppointmentResponseSchema, key, hash, existing);
      }
      this.committed(provider.provider_id, "BOOKED");
      booked = true;
      return response;
    });
    return { response, booked };
  }

  /**
   * cancelAppointment frees an appointment's time: PROPOSED, BOOKED or CHECKED_IN -> CANCELLED. A
   * checked-in patient's ticket is withdrawn from the queue first (refused when the patient was
   * already seen); a patient may cancel only until patientChangeClosesAt. The freed time is then
   * offered to the first waiting patient whose window fits.
   */
  async cancelAppointment(req: CancelAppointmentRequest, ctx: HandlerContext) {
    const v = validateCancelAppointment(req);
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "CancelAppointment", requestId: v.requestId };
    const hash = requestHash([v.appointmentId, v.reason]);
    const read = await this.readCommand(key, hash, CancelAppointmentResponseSchema, v.appointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const current = read.current;
    const from: AppointmentStatusName[] = ["PROPOSED", "BOOKED", "CHECKED_IN"];
    if (!from.includes(current.status)) throw await this.refusal(this.db, current, "CANCEL", from);
    const now = this.clock.now();
    await this.checkPatientMayChange(caller, current, "CANCEL", now);
    const ticketId = await this.settleTicket(ctx, caller, current, "CANCEL");
    const response = await this.underProviderLock(ctx, current.provider_id, (token) =>
      this.tx(async (trx) => {
        const replayed = await this.claim(trx, key, hash, now, CancelAppointmentResponseSchema, { providerId: current.provider_id, token });
        if (replayed) return replayed;
        const row = await changeAppointmentIf(
          trx,
          v.appointmentId,
          [current.status],
          { status: "CANCELLED", at: now, cancelReason: v.reason, fencingToken: token, ticketId },
          auditBase(caller, "CancelAppointment", now),
          { ticketId: current.ticket_id },
        );
        if (!row) throw await this.changedMeanwhile(trx, current, "CANCEL", from);
        if (current.status === "PROPOSED" && row.waitlist_entry_id) await setWaitlistStatus(trx, row.waitlist_entry_id, "EXPIRED", row.appointment_id, now);
        const res = create(CancelAppointmentResponseSchema, { appointment: toAppointment(row) });
        await REQUEST_KEYS.saveResponse(trx, key, toBinary(CancelAppointmentResponseSchema, res));
        this.afterCommit(trx, row.provider_id, "CANCELLED");
        return res;
      }, { claims: true }),
    );
    await this.offerFreedTime(current.provider_id, { start: current.start_at.getTime(), end: current.end_at.getTime() });
    return response;
  }

  /**
   * rescheduleAppointment moves a BOOKED appointment in one transaction under the provider's lock:
   * the old one becomes CANCELLED and a new BOOKED one takes the new slot; if the new slot cannot be
   * taken the transaction rolls back and nothing changes. Nobody else can take the old time in between.
   * A patient may move their appointment only until patientChangeClosesAt.
   */
  async rescheduleAppointment(req: RescheduleAppointmentRequest, ctx: HandlerContext) {
    const v = validateRescheduleAppointment(req);
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "RescheduleAppointment", requestId: v.requestId };
    const hash = requestHash([v.appointmentId, v.newStart.toISOString()]);
    const read = await this.readCommand(key, hash, RescheduleAppointmentResponseSchema, v.appointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const current = read.current;
    if (current.status !== "BOOKED") throw await this.refusal(this.db, current, "RESCHEDULE", ["BOOKED"]);
    const provider = await this.requireProvider(this.db, current.provider_id);
    const now = this.clock.now();
    await this.checkPatientMayChange(caller, current, "RESCHEDULE", now);
    this.checkBookable(provider, v.newStart, now);
    const schedule = await this.requireSchedule(provider);
    const durationMs = current.end_at.getTime() - current.start_at.getTime();
    this.checkSlot(provider, schedule, v.newStart, durationMs);
    const at: SlotContext = { provider, start: v.newStart, blockedEnd: new Date(v.newStart.getTime() + durationMs + schedule.bufferMs), moving: current.appointment_id };
    const response = await this.underProviderLock(ctx, provider.provider_id, (token) =>
      this.tx(async (trx) => {
        const replayed = await this.claim(trx, key, hash, now, RescheduleAppointmentResponseSchema, { providerId: provider.provider_id, token });
        if (replayed) return replayed;
        const previous = await changeAppointmentIf(
          trx,
          v.appointmentId,
          ["BOOKED"],
          { status: "CANCELLED", at: now, cancelReason: "rescheduled", fencingToken: token },
          auditBase(caller, "RescheduleAppointment", now),
        );
        if (!previous) throw await this.refusal(trx, (await findAppointment(trx, v.appointmentId)) ?? current, "RESCHEDULE", ["BOOKED"]);
        const next = await this.insertOrTaken(trx, at, {
          appointmentId: `a-${randomUUID()}`,
          providerId: previous.provider_id,
          patientId: previous.patient_id,
          start: v.newStart,
          end: new Date(v.newStart.getTime() + durationMs),
          bufferMs: schedule.bufferMs,
          status: "BOOKED",
          resourceIds: previous.resource_ids,
          reason: previous.reason,
          offerExpiresAt: null,
          waitlistEntryId: null,
          fencingToken: token ?? 0n,
          rescheduledFromId: previous.appointment_id,
          at: now,
        });
        await AUDIT_LOG.append(trx, this.audit(caller, "RescheduleAppointment", [next], now));
        await appendChange(trx, { providerId: next.provider_id, appointmentId: next.appointment_id, at: now });
        const res = create(RescheduleAppointmentResponseSchema, { appointment: toAppointment(next), previousAppointment: toAppointment(previous) });
        await REQUEST_KEYS.saveResponse(trx, key, toBinary(RescheduleAppointmentResponseSchema, res));
        this.afterCommit(trx, previous.provider_id, "CANCELLED", "BOOKED");
        return res;
      }, { claims: true }),
    ).catch(async (err: unknown) => {
      throw await this.explainTaken(err, at);
    });
    await this.offerFreedTime(current.provider_id, { start: current.start_at.getTime(), end: current.end_at.getTime() });
    // Moved onto the time of one of the patient's offers: that one passes on.
    await this.passOnUntakeableOffers(current.patient_id);
    return response;
  }

  /** getAppointment reads one appointment; patients and doctors only their own (audited). */
  async getAppointment(req: GetAppointmentRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetAppointmentResponseSchema>> {
    const v = validateGetAppointment(req);
    const caller = callerOf(ctx);
    const row = await this.requireAppointment(v.appointmentId, caller, "either");
    await AUDIT_LOG.append(this.db, this.audit(caller, "GetAppointment", [row], this.clock.now()));
    return { appointment: toAppointment(row) };
  }

  /** listAppointments pages through a provider's or a patient's appointments by start time (audited). */
  async listAppointments(req: ListAppointmentsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListAppointmentsResponseSchema>> {
    const v = validateListAppointments(req);
    const caller = callerOf(ctx);
    // A token continues only the query it came from.
    const query = [v.providerId, v.patientId, v.start, v.end, v.statuses];
    const after = this.pageTokens.open(APPOINTMENTS_PAGE, v.pageToken, query);
    const rows = await listAppointments(this.db, {
      providerId: v.providerId,
      patientId: v.patientId,
      start: v.start,
      end: v.end,
      statuses: v.statuses.map(statusName),
      after,
      limit: v.pageSize + 1,
    });
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    await AUDIT_LOG.append(this.db, this.audit(caller, "ListAppointments", page, this.clock.now()));
    return {
      appointments: page.map(toAppointment),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(APPOINTMENTS_PAGE, { start: last.start_at, id: last.appointment_id }, query) : "",
    };
  }

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
  async checkInAppointment(req: CheckInAppointmentRequest, ctx: HandlerContext) {
    const v = validateCheckInAppointment(req);
    const caller = callerOf(ctx);
    if (caller.role === "patient" && v.queueId !== undefined) throw queueChoiceNotAllowedError();
    const key: RequestKey = { caller: caller.subject, rpc: "CheckInAppointment", requestId: v.requestId };
    const hash = requestHash([v.appointmentId, v.queueId ?? ""]);
    const read = await this.readCommand(key, hash, CheckInAppointmentResponseSchema, v.appointmentId, caller, "either");
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
      throw await this.refusal(this.db, current, "CHECK_IN", ["BOOKED"]);
    }
    const provider = await this.requireProvider(this.db, current.provider_id);
    const arrived = this.clock.now().getTime();
    if (arrived < current.start_at.getTime() - this.options.checkInEarlyMs) throw checkInNotOpenError(provider, current, this.options.checkInEarlyMs);
    if (arrived >= current.end_at.getTime()) throw checkInClosedError(provider, current);
    const ticket = await this.tickets().issue(ctx, call, {
      provider,
      row: current,
      queueId: v.queueId,
      // A deterministic ticket requestId: retries and concurrent check-ins get the same ticket; a
      // check-in after the ticket ended gets a new one.
      requestId: (queueId) => `checkin-${requestHash(replaces === undefined ? [current.appointment_id, queueId] : [current.appointment_id, queueId, replaces])}`,
    });
    const now = this.clock.now();
    try {
      return await this.tx(async (trx) => {
        const replayed = await this.claim(trx, key, hash, now, CheckInAppointmentResponseSchema, { providerId: current.provider_id, token: undefined });
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
          throw await this.refusal(trx, latest, "CHECK_IN", ["BOOKED"]);
        }
        const res = create(CheckInAppointmentResponseSchema, { appointment: toAppointment(row), ticket });
        await REQUEST_KEYS.saveResponse(trx, key, toBinary(CheckInAppointmentResponseSchema, res));
        this.afterCommit(trx, row.provider_id, "CHECKED_IN");
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
    const now = this.clock.now();
    return this.tx(async (trx) => {
      const replayed = await this.claim(trx, key, hash, now, CheckInAppointmentResponseSchema, { providerId: row.provider_id, token: undefined });
      if (replayed) return replayed;
      await AUDIT_LOG.append(trx, this.audit(caller, "CheckInAppointment", [row], now));
      const res = create(CheckInAppointmentResponseSchema, { appointment: toAppointment(row), ticket });
      await REQUEST_KEYS.saveResponse(trx, key, toBinary(CheckInAppointmentResponseSchema, res));
      return res;
    }, { claims: true });
  }

  /**
   * markNoShow records that the patient did not come: BOOKED or CHECKED_IN -> NOSHOW, only once the
   * appointment has started (before that the patient may still come, and the time is not to be
   * freed). A checked-in patient's ticket ends with it (called: NO_SHOW; still waiting: withdrawn);
   * refused when the ticket shows the patient was seen.
   */
  async markNoShow(req: MarkNoShowRequest, ctx: HandlerContext) {
    const v = validateMarkNoShow(req);
    return this.transition(ctx, "MarkNoShow", "MARK_NO_SHOW", v, MarkNoShowResponseSchema, ["BOOKED", "CHECKED_IN"], "NOSHOW", async (current, now) => {
      if (now.getTime() < current.start_at.getTime()) throw noShowBeforeStartError(await this.providerNaming(current.provider_id), current);
    });
  }

  /**
   * completeAppointment records that the visit took place: CHECKED_IN -> FULFILLED. The ticket says
   * whether it did: refused when it ended as a no-show or withdrawn (mark a no-show, or check in
   * again); a ticket still called is completed at its counter, one still waiting withdrawn. Needs no
   * clock rule of its own: only a checked-in appointment completes, and check-in opens shortly before
   * the start.
   */
  async completeAppointment(req: CompleteAppointmentRequest, ctx: HandlerContext) {
    const v = validateCompleteAppointment(req);
    return this.transition(ctx, "CompleteAppointment", "COMPLETE", v, CompleteAppointmentResponseSchema, ["CHECKED_IN"], "FULFILLED");
  }

  /**
   * joinWaitlist puts a patient on a provider's waitlist for a window; ALREADY_ON_WAITLIST when the
   * patient already waits for the provider (or holds an offer from that entry) at an overlapping time.
   * A patient joining themselves holds at most maxWaitlistPerPatient active entries (all providers),
   * counted under the same patient lock as their bookings; staff adding a patient are not limited.
   */
  async joinWaitlist(req: JoinWaitlistRequest, ctx: HandlerContext) {
    const v = validateJoinWaitlist(req);
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "JoinWaitlist", requestId: v.requestId };
    const hash = requestHash([v.providerId, v.patientId, v.windowStart.toISOString(), v.windowEnd.toISOString(), v.durationMs ?? 0]);
    const replayed = await this.replay(this.db, key, hash, JoinWaitlistResponseSchema);
    if (replayed) return replayed;
    const provider = await this.requireProvider(this.db, v.providerId);
    const now = this.clock.now();
    // A window that has passed can never be offered anything; one starting past the horizon could
    // only be offered time that cannot be booked.
    if (v.windowEnd.getTime() <= now.getTime()) throw waitlistWindowPastError(provider, v.windowEnd.getTime());
    if (v.windowStart.getTime() > now.getTime() + this.options.bookingHorizonMs) {
      throw beyondHorizonError(provider, v.windowStart.getTime(), now.getTime(), this.options.bookingHorizonMs);
    }
    const availability = await findAvailability(this.db, provider.provider_id);
    if (availability && v.durationMs !== undefined) this.checkDuration(toSchedule(provider, availability), v.durationMs);
    const limited = this.selfWaitlistLimit(caller);
    if (limited !== undefined && (await countActiveEntries(this.db, v.patientId, now)) >= limited) throw await this.waitlistRefusal(this.db, provider, v, limited);
    return this.tx(async (trx) => {
      const replayed = await this.claim(trx, key, hash, now, JoinWaitlistResponseSchema, { providerId: provider.provider_id, token: undefined });
      if (replayed) return replayed;
      if (limited !== undefined) {
        // Concurrent joins of one patient take turns here, so they cannot all slip under the limit.
        await lockPatientBookings(trx, v.patientId);
        if ((await countActiveEntries(trx, v.patientId, now)) >= limited) throw await this.waitlistRefusal(trx, provider, v, limited);
      }
      const entry = await insertWaitlistEntry(trx, {
        entry_id: `w-${randomUUID()}`,
        provider_id: provider.provider_id,
        patient_id: v.patientId,
        window_start: v.windowStart,
        window_end: v.windowEnd,
        duration_minutes: v.durationMs === undefined ? null : v.durationMs / 60_000,
        created_at: now,
      });
      if (!entry) {
        // Already waiting for this provider at an overlapping time (rolled back, the requestId claim too).
        const existing = await findOverlappingEntry(trx, { providerId: provider.provider_id, patientId: v.patientId, start: v.windowStart, end: v.windowEnd });
        if (!existing) throw new AbortedError("WRITE_CONFLICT", "a concurrent change conflicted with this one; retry");
        throw alreadyOnWaitlistError(provider, existing);
      }
      await AUDIT_LOG.append(trx, [{ ...auditBase(caller, "JoinWaitlist", now), record_type: "waitlist", record_id: entry.entry_id }]);
      const res = create(JoinWaitlistResponseSchema, { entry: toWaitlistEntry(entry) });
      await REQUEST_KEYS.saveResponse(trx, key, toBinary(JoinWaitlistResponseSchema, res));
      return res;
    }, { claims: true });
  }

  /**
   * acceptOffer books a waitlist offer before its hold lapses: PROPOSED -> BOOKED. A patient accepting
   * for themselves is held to patientChangeClosesAt and to the upcoming-appointments limit, counted
   * under the same patient lock as their bookings; refused by the limit (they booked elsewhere since
   * the offer), the offer is passed on at once rather than held for the rest of its hold.
   */
  async acceptOffer(req: AcceptOfferRequest, ctx: HandlerContext) {
    const v = validateAcceptOffer(req);
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "AcceptOffer", requestId: v.requestId };
    const hash = requestHash([v.appointmentId]);
    const read = await this.readCommand(key, hash, AcceptOfferResponseSchema, v.appointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const current = read.current;
    if (current.status !== "PROPOSED") throw await this.refusal(this.db, current, "ACCEPT_OFFER", ["PROPOSED"]);
    const now = this.clock.now();
    const timePassed = current.start_at.getTime() <= now.getTime();
    if (timePassed || (current.offer_expires_at && current.offer_expires_at.getTime() <= now.getTime())) {
      // Pass the lapsed offer on now rather than at the next sweep.
      await this.expireOffers().catch(() => undefined);
      const provider = await this.providerNaming(current.provider_id);
      throw timePassed ? offerTimePassedError(provider, current) : offerExpiredError(provider, current, current.offer_expires_at!);
    }
    await this.checkPatientMayChange(caller, current, "ACCEPT_OFFER", now);
    const limited = this.selfBookingLimit(caller);
    if (limited !== undefined && (await countUpcoming(this.db, current.patient_id, now)) >= limited) throw await this.passOnRefusedOffer(ctx, current, now, limited);
    const accepted = this.underProviderLock(ctx, current.provider_id, (token) =>
      this.tx(async (trx) => {
        const replayed = await this.claim(trx, key, hash, now, AcceptOfferResponseSchema, { providerId: current.provider_id, token });
        if (replayed) return replayed;
        if (limited !== undefined) {
          await lockPatientBookings(trx, current.patient_id);
          if ((await countUpcoming(trx, current.patient_id, now)) >= limited) throw patientBookingLimitError(limited);
        }
        const row = await changeAppointmentIf(trx, v.appointmentId, ["PROPOSED"], { status: "BOOKED", at: now, fencingToken: token }, auditBase(caller, "AcceptOffer", now));
        if (!row) throw await this.refusal(trx, (await findAppointment(trx, v.appointmentId)) ?? current, "ACCEPT_OFFER", ["PROPOSED"]);
        if (row.waitlist_entry_id) await setWaitlistStatus(trx, row.waitlist_entry_id, "BOOKED", row.appointment_id, now);
        const res = create(AcceptOfferResponseSchema, { appointment: toAppointment(row) });
        await REQUEST_KEYS.saveResponse(trx, key, toBinary(AcceptOfferResponseSchema, res));
        this.afterCommit(trx, row.provider_id, "BOOKED");
        return res;
      }, { claims: true }),
    );
    const res = await accepted.catch(async (err: unknown) => {
      // Refused under the patient lock (rolled back): pass the offer on, outside that transaction.
      if (limited !== undefined && err instanceof FailedPreconditionError && err.reason === "PATIENT_BOOKING_LIMIT") throw await this.passOnRefusedOffer(ctx, current, now, limited);
      throw err;
    });
    // Booked: their other offers may now be beyond the limit.
    await this.passOnUntakeableOffers(current.patient_id);
    return res;
  }

  /**
   * passOnRefusedOffer hands on an offer its patient cannot accept (at the booking limit): withdrawn
   * now, its entry WAITING again (the patient keeps their place for later openings), the time offered
   * to the next patient. Returns the error for the patient (the offer stands if it could not be withdrawn).
   */
  private async passOnRefusedOffer(ctx: HandlerContext, offer: AppointmentRow, now: Date, limit: number): Promise<FailedPreconditionError> {
    const withdrawn = await this.withdrawOffer(ctx, offer, now, { cancelReason: "offer passed on: the patient has the most upcoming appointments allowed", entry: "WAITING", action: "PassOnOffer" }).catch(
      (err: unknown) => {
        this.logger?.warn({ err, appointmentId: offer.appointment_id }, "scheduling: passing on a refused offer failed; it lapses at the end of its hold");
        return undefined;
      },
    );
    if (withdrawn) await this.offerFreedTime(withdrawn.provider_id, { start: withdrawn.start_at.getTime(), end: withdrawn.end_at.getTime() });
    return patientBookingLimitError(limit, withdrawn !== undefined);
  }

  /**
   * passOnUntakeableOffers hands on, after a booking of the patient (by anyone), each offer held for
   * them that they could no longer accept themselves (patientCouldTake against their appointments:
   * at the upcoming limit, or booked at an overlapping time): withdrawn at once, their entry WAITING
   * again, the time offered to the next patient, rather than held until it lapses. Best effort: a
   * failure is logged, and the offer then lapses at the end of its hold.
   */
  private async passOnUntakeableOffers(patientId: string): Promise<void> {
    try {
      const now = this.clock.now();
      const offers = await openOffersOf(this.db, patientId, now);
      if (offers.length === 0) return;
      const booked = await patientCommitments(this.db, patientId, now, { offers: false });
      for (const offer of offers) {
        if (patientCouldTake(booked, { start: offer.start_at.getTime(), end: offer.end_at.getTime() }, this.options.maxUpcomingPerPatient)) continue;
        const withdrawn = await this.withdrawOffer(undefined, offer, now, { cancelReason: "offer passed on: the patient can no longer take it", entry: "WAITING", action: "PassOnOffer" });
        if (withdrawn) await this.offerFreedTime(withdrawn.provider_id, { start: withdrawn.start_at.getTime(), end: withdrawn.end_at.getTime() });
      }
    } catch (err) {
      this.logger?.warn({ err }, "scheduling: passing on offers a patient can no longer take failed; they lapse at the end of their hold");
    }
  }

  /**
   * watchAppointments streams a provider's appointments of one local day: a snapshot, then each change
   * touching that day, every message with the provider's sequence. With afterSequence it resumes from
   * the change log; when that point is no longer retained it sends a fresh snapshot with resumeFailed.
   * Patients see only their own appointments.
   */
  async *watchAppointments(req: WatchAppointmentsRequest, ctx: HandlerContext): AsyncGenerator<WatchResponse> {
    const v = validateWatchAppointments(req);
    const caller = callerOf(ctx);
    const provider = await this.requireProvider(this.db, v.providerId);
    const date = v.date ?? localDateOf(this.clock.now().getTime(), provider.time_zone);
    const day: Interval = {
      start: firstInstantAtOrAfterWall(wallOfDate(date), provider.time_zone),
      end: firstInstantAtOrAfterWall(wallOfDate(addDays(date, 1)), provider.time_zone),
    };
    const visible = (r: AppointmentRow) =>
      r.start_at.getTime() < day.end && r.end_at.getTime() > day.start && (caller.role !== "patient" || r.patient_id === caller.subject);
    const sub = await this.feed.subscribe(provider.provider_id);
    try {
      let cursor = v.afterSequence;
      let needSnapshot = cursor === 0n;
      let resumeFailed = false;
      if (!needSnapshot && !(await this.retains(provider.provider_id, cursor))) {
        needSnapshot = true;
        resumeFailed = true;
      }
      for (;;) {
        if (needSnapshot) {
          let snap: { sequence: bigint; rows: AppointmentRow[] } | undefined = await this.db
            .transaction()
            .setIsolationLevel("repeatable read")
            .execute(async (trx) => {
              const p = await this.requireProvider(trx, provider.provider_id);
              const rows = await listAppointments(trx, { providerId: p.provider_id, start: new Date(day.start), end: new Date(day.end), limit: MAX_SNAPSHOT });
              return { sequence: BigInt(p.last_sequence), rows: rows.filter(visible) };
            });
          await AUDIT_LOG.append(this.db, this.audit(caller, "WatchAppointments", snap.rows, this.clock.now()));
          cursor = snap.sequence;
          let message: WatchResponse | undefined = { sequence: snap.sequence, snapshot: true, resumeFailed, appointments: snap.rows.map(toAppointment) };
          snap = undefined;
          yield message;
          // A suspended generator keeps what its variables hold: a quiet watcher would keep the snapshot.
          message = undefined;
          needSnapshot = false;
          resumeFailed = false;
        }
        const next = await sub.next(cursor, ctx.signal);
        if (next.kind === "closed") return;
        const latest = next.kind === "items" ? next.items[next.items.length - 1].sequence : next.latest;
        if (latest - cursor > BigInt(WATCH_MAX_LAG)) {
          needSnapshot = true;
          continue;
        }
        let items: FeedItem<AppointmentRow | undefined>[];
        if (next.kind === "items") {
          items = next.items;
        } else {
          const rows = await changesAfter(this.db, provider.provider_id, cursor, WATCH_MAX_LAG);
          if (rows.length === 0 || BigInt(rows[0].sequence) !== cursor + 1n) {
            needSnapshot = true;
            resumeFailed = true;
            continue;
          }
          items = await this.loadChanges(provider.provider_id, rows);
        }
        for (const item of items) {
          if (item.sequence <= cursor) continue;
          cursor = item.sequence;
          const row = item.value;
          if (!row || !visible(row)) continue;
          await AUDIT_LOG.append(this.db, this.audit(caller, "WatchAppointments", [row], this.clock.now()));
          yield { sequence: item.sequence, snapshot: false, appointments: [toAppointment(row)] };
        }
      }
    } finally {
      sub.close();
    }
  }

  // ---- waitlist offers --------------------------------------------------------------------------

  /**
   * expireOffers passes on every offer whose hold lapsed: PROPOSED -> CANCELLED, the entry EXPIRED,
   * and the time offered to the next waiting patient. Runs on a timer and on demand; returns how many
   * offers lapsed.
   */
  async expireOffers(): Promise<number> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      let count = 0;
      const now = this.clock.now();
      for (const offer of await expiredOffers(this.db, now, 100)) {
        const lapsed = await this.withdrawOffer(undefined, offer, now, { cancelReason: "offer expired", entry: "EXPIRED", action: "ExpireOffer" }).catch((err: unknown) => {
          this.logger?.warn({ err, appointmentId: offer.appointment_id }, "scheduling: passing on a lapsed offer failed; retrying at the next sweep");
          return undefined;
        });
        if (!lapsed) continue;
        count++;
        await this.offerFreedTime(lapsed.provider_id, { start: lapsed.start_at.getTime(), end: lapsed.end_at.getTime() });
      }
      return count;
    })();
    try {
      return await this.sweeping;
    } finally {
      this.sweeping = undefined;
    }
  }

  /**
   * withdrawOffer ends an open waitlist offer under the provider's lock: PROPOSED -> CANCELLED, its
   * entry `entry` (EXPIRED when the hold lapsed; WAITING, keeping its place, when the patient could not
   * take it), audited as `action`. undefined when it was no longer open. The caller then offers the
   * time to the next patient (offerFreedTime).
   */
  private async withdrawOffer(
    ctx: HandlerContext | undefined,
    offer: AppointmentRow,
    now: Date,
    why: { cancelReason: string; entry: "EXPIRED" | "WAITING"; action: string },
  ): Promise<AppointmentRow | undefined> {
    return this.underProviderLock(ctx, offer.provider_id, (token) =>
      this.tx(async (trx) => {
        if (token !== undefined) await checkFence(trx, this.lockResource(offer.provider_id), token, { schema: SCHEMA });
        const row = await updateAppointmentIf(trx, offer.appointment_id, ["PROPOSED"], { status: "CANCELLED", at: now, cancelReason: why.cancelReason, fencingToken: token });
        if (!row) return undefined;
        if (row.waitlist_entry_id) await setWaitlistStatus(trx, row.waitlist_entry_id, why.entry, why.entry === "WAITING" ? null : row.appointment_id, now);
        await AUDIT_LOG.append(trx, this.audit(callerOf(undefined), why.action, [row], now));
        await appendChange(trx, { providerId: row.provider_id, appointmentId: row.appointment_id, at: now });
        this.afterCommit(trx, row.provider_id, "CANCELLED");
        return row;
      }),
    );
  }

  /**
   * offerFreedTime offers freed time of a provider to the first waiting patient (join order) who
   * could take it: a slot inside both the freed time and their window is free, they are below the
   * upcoming-appointments limit counting the offers held for them (they could accept it themselves),
   * and it overlaps none of their appointments or offers; the others are passed over, keeping their
   * place. The offer is a PROPOSED appointment held for offerHoldMs. Best effort: a failure is logged,
   * the cancellation that freed the time stands.
   */
  private async offerFreedTime(providerId: string, freed: Interval): Promise<void> {
    try {
      // Nobody waiting (the usual case): no lock, no transaction. An entry committed after this read
      // would equally have been missed by the transaction's own read a moment later.
      if (!(await hasWaitingEntries(this.db, providerId))) return;
      const provider = await findProvider(this.db, providerId);
      const availability = provider && (await findAvailability(this.db, providerId));
      if (!provider || !availability) return;
      const schedule = toSchedule(provider, availability);
      const now = this.clock.now();
      // Never offer time that has passed or that lies beyond the booking horizon.
      const offerable: Interval = { start: Math.max(freed.start, now.getTime()), end: Math.min(freed.end, now.getTime() + this.options.bookingHorizonMs) };
      if (offerable.end <= offerable.start) return;
      const limit = this.options.maxUpcomingPerPatient;
      const offered = await this.underProviderLock(undefined, providerId, (token) =>
        this.tx(async (trx) => {
          const entries = await waitingEntries(trx, providerId, { start: new Date(offerable.start), end: new Date(offerable.end) }, 100);
          if (entries.length === 0) return undefined;
          const around: Interval = { start: freed.start - 9 * 3_600_000, end: freed.end + 9 * 3_600_000 };
          const busy = await providerBusy(trx, providerId, around);
          for (const entry of entries) {
            const range: Interval = { start: Math.max(offerable.start, entry.window_start.getTime()), end: Math.min(offerable.end, entry.window_end.getTime()) };
            if (range.end <= range.start) continue;
            const durationMs = entry.duration_minutes ? entry.duration_minutes * 60_000 : schedule.slotMs;
            const slots = listSlots(schedule, { range, durationMs, providerBusy: busy });
            if (slots.length === 0) continue;
            // Only to a patient who could accept it: below the limit, and free then.
            const committed = await patientCommitments(trx, entry.patient_id, now);
            const slot = slots.find((s) => patientCouldTake(committed, s, limit));
            if (!slot) continue;
            if (token !== undefined) await checkFence(trx, this.lockResource(providerId), token, { schema: SCHEMA });
            const row = await this.insertOrTaken(trx, { provider, start: new Date(slot.start), blockedEnd: new Date(slot.end + schedule.bufferMs) }, {
              appointmentId: `a-${randomUUID()}`,
              providerId,
              patientId: entry.patient_id,
              start: new Date(slot.start),
              end: new Date(slot.end),
              bufferMs: schedule.bufferMs,
              status: "PROPOSED",
              resourceIds: [],
              reason: "waitlist offer",
              // The hold ends when the offered time starts, if that comes first.
              offerExpiresAt: new Date(Math.min(now.getTime() + this.options.offerHoldMs, slot.start)),
              waitlistEntryId: entry.entry_id,
              fencingToken: token ?? 0n,
              rescheduledFromId: null,
              at: now,
            });
            await setWaitlistStatus(trx, entry.entry_id, "OFFERED", row.appointment_id, now);
            await AUDIT_LOG.append(trx, this.audit(callerOf(undefined), "OfferSlot", [row], now));
            await appendChange(trx, { providerId, appointmentId: row.appointment_id, at: now });
            this.afterCommit(trx, providerId, "PROPOSED");
            return row;
          }
          return undefined;
        }),
      );
      if (offered) this.logger?.info({ appointmentId: offered.appointment_id, providerId }, "scheduling: freed time offered to the waitlist");
    } catch (err) {
      this.logger?.warn({ err, providerId }, "scheduling: offering freed time to the waitlist failed");
    }
  }

  /** waitlistEntry reads a waitlist entry (tests and operators). */
  async waitlistEntry(entryId: string) {
    return findWaitlistEntry(this.db, entryId);
  }

  /** pruneRetained deletes change-log rows and requestIds older than their retention. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    const now = this.clock.now().getTime();
    this.lastPrune = now;
    const changes = await pruneChanges(this.db, new Date(now - this.options.changeRetentionMs));
    const requestKeys = await REQUEST_KEYS.prune(this.db, new Date(now - this.options.requestKeyRetentionMs));
    return { changes, requestKeys };
  }

  // ---- internals --------------------------------------------------------------------------------

  private lockResource(providerId: string): string {
    return `scheduling:provider:${providerId}`;
  }

  /** lockClient is the LockService client for a call, carrying its request id and end user. */
  private lockClient(ctx: HandlerContext | undefined): LockClient {
    if (this.lockClientOverride) return this.lockClientOverride;
    if (!this.peers) throw peerUnreachableError("lock");
    const peer = this.peers.client(LockService);
    const headers = ctx ? outgoingCallOptions(ctx, { onBehalfOf: callerOf(ctx).subject }).headers : {};
    return {
      acquire: (r, o) => peer.acquire(r, { ...o, headers }),
      extend: (r, o) => peer.extend(r, { ...o, headers }),
      release: (r, o) => peer.release(r, { ...o, headers }),
    };
  }

  /**
   * underProviderLock runs fn under the provider's lock (withLock: ABORTED when it stays held past
   * lockWaitMs) and hands it the fencing token for checkFence; without the lock (useLock false) fn
   * gets no token and the exclusion constraints alone decide.
   */
  private async underProviderLock<T>(ctx: HandlerContext | undefined, providerId: string, fn: (token: bigint | undefined) => Promise<T>): Promise<T> {
    if (!this.options.useLock) return fn(undefined);
    try {
      return await withLock(this.lockClient(ctx), this.lockResource(providerId), (lease) => fn(lease.fencingToken), {
        ttlMs: this.options.lockTtlMs,
        waitTimeoutMs: this.options.lockWaitMs,
        owner: "scheduling",
        signal: ctx?.signal,
      });
    } catch (err) {
      // The lock service not answering within withLock's own call timeout, while this call still has
      // time, is contention on a busy lock service: retryable, like a lock held past waitTimeout.
      const left = ctx?.timeoutMs();
      if (err instanceof ConnectError && err.code === Code.DeadlineExceeded && (left === undefined || left > 0)) {
        throw new AbortedError("LOCK_TIMEOUT", "the booking system is busy and did not answer in time; retry in a moment");
      }
      throw peerError(err);
    }
  }

  /**
   * tx runs fn in one transaction. A deadlock, serialization failure or lock timeout between
   * concurrent writers (possible when bookings race without the lock: exclusion checks wait on each
   * other's rows) rolls it all back and answers ABORTED (db/pg-errors.ts), which clients retry.
   */
  private async tx<T>(fn: (trx: Kysely<Database> & Db) => Promise<T>, opts: { claims?: boolean } = {}): Promise<T> {
    const lockTimeoutMs = this.lockTimeoutMs();
    const touched = { providers: new Set<string>(), statuses: [] as AppointmentStatusName[] };
    try {
      const result = await this.db.transaction().execute(async (trx) => {
        this.touched.set(trx, touched);
        // A body that starts with claim() sets lock_timeout in that first statement.
        if (!opts.claims) await sql`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(trx);
        return fn(trx as never);
      });
      for (const providerId of touched.providers) this.changed(providerId);
      for (const status of touched.statuses) countTransition(status);
      return result;
    } catch (err) {
      throw databaseDomainError(err) ?? err;
    }
  }

  /**
   * write runs fn, one atomic statement outside tx() (its own implicit transaction): row-wait
   * failures become ABORTED as in tx(), an exclusion violation FAILED_PRECONDITION SLOT_TAKEN,
   * SLOT_HELD_FOR_OFFER or RESOURCE_TAKEN at `at` (explainTaken).
   */
  private async write<T>(fn: () => Promise<T>, at: SlotContext): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TimeTakenError) throw await this.explainTaken(slotTaken(err.taken, at), at);
      throw databaseDomainError(err) ?? err;
    }
  }

  /**
   * explainTaken tells time booked from time only held for a waitlist offer: SLOT_TAKEN becomes
   * SLOT_HELD_FOR_OFFER, until the latest hold's end, when every appointment holding the provider's
   * time at `at` is a PROPOSED offer. Other errors pass through. Reads through this.db: call it
   * outside any transaction (after the failed one has rolled back; PGlite is one session).
   */
  private async explainTaken(err: unknown, at: SlotContext): Promise<unknown> {
    if (!(err instanceof FailedPreconditionError) || err.reason !== "SLOT_TAKEN") return err;
    const holders = await slotHolders(this.db, at.provider.provider_id, { start: at.start.getTime(), end: at.blockedEnd.getTime() }, at.moving).catch(() => []);
    if (holders.length === 0 || holders.some((h) => h.status !== "PROPOSED" || h.offer_expires_at === null)) return err;
    return slotHeldForOfferError(at.provider, at.start.getTime(), Math.max(...holders.map((h) => h.offer_expires_at!.getTime())));
  }

  /**
   * lockTimeoutMs bounds row waits: past it the transaction fails 55P03 and the caller gets ABORTED.
   * Without the provider lock, racing bookings wait on each other's rows (exclusion checks, the change
   * counter) and may form cycles; a short bound ends those faster than deadlock detection does.
   */
  private lockTimeoutMs(): number {
    return this.options.useLock ? Math.max(this.options.lockWaitMs, 100) : 100;
  }

  /**
   * claim is the first statement of a write transaction (tx with `claims`): lock_timeout, checkFence
   * when under the lock (FencingRejectedError, ABORTED, when a newer token was recorded) and the
   * requestId claim. Returns the first response when a concurrent call with the requestId committed
   * first (or ALREADY_EXISTS with other parameters), undefined when this call owns the key.
   */
  private async claim<S extends DescMessage>(
    trx: Db,
    key: RequestKey,
    hash: string,
    at: Date,
    schema: S,
    fence: { providerId: string; token: bigint | undefined },
  ): Promise<MessageShape<S> | undefined> {
    const resource = this.lockResource(fence.providerId);
    const token = fence.token;
    const r = await claimAndFence(trx, { key, hash, at, fence: token === undefined ? undefined : { schema: SCHEMA, resource, token }, lockTimeoutMs: this.lockTimeoutMs() });
    if (!r.fenced) {
      fencingRejectionsTotal.inc();
      throw new FencingRejectedError(resource, token ?? 0n);
    }
    if (r.claimed) return undefined;
    const existing = await REQUEST_KEYS.find(trx, key);
    if (!existing) throw new RequestInProgressError();
    return replayStored(schema, key, hash, existing);
  }

  /** insertOrTaken inserts an appointment, turning an exclusion violation into FAILED_PRECONDITION SLOT_TAKEN or RESOURCE_TAKEN. */
  private async insertOrTaken(trx: Db, at: SlotContext, a: Parameters<typeof insertAppointment>[1]): Promise<AppointmentRow> {
    try {
      return await insertAppointment(trx, a);
    } catch (err) {
      if (err instanceof TimeTakenError) throw slotTaken(err.taken, at);
      throw databaseDomainError(err) ?? err;
    }
  }

  /** replay answers a requestId seen before (committed): its first response, or ALREADY_EXISTS with other parameters. */
  private async replay<S extends DescMessage>(db: Db, key: RequestKey, hash: string, schema: S): Promise<MessageShape<S> | undefined> {
    const existing = await REQUEST_KEYS.find(db, key);
    if (!existing) return undefined;
    return replayStored(schema, key, hash, existing);
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
    v: { appointmentId: string; requestId: string },
    schema: S,
    from: AppointmentStatusName[],
    to: AppointmentStatusName,
    check?: (current: AppointmentRow, now: Date) => Promise<void>,
  ): Promise<MessageShape<S>> {
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc, requestId: v.requestId };
    const hash = requestHash([v.appointmentId]);
    const read = await this.readCommand(key, hash, schema, v.appointmentId, caller, "doctor");
    if (!read.current) return read.replayed;
    const current = read.current;
    if (!from.includes(current.status)) throw await this.refusal(this.db, current, action, from);
    const now = this.clock.now();
    await check?.(current, now);
    const ticketId = await this.settleTicket(ctx, caller, current, action);
    return this.tx(async (trx) => {
      const replayed = await this.claim(trx, key, hash, now, schema, { providerId: current.provider_id, token: undefined });
      if (replayed) return replayed;
      const row = await changeAppointmentIf(trx, v.appointmentId, [current.status], { status: to, at: now, ticketId }, auditBase(caller, rpc, now), {
        ticketId: current.ticket_id,
      });
      if (!row) throw await this.changedMeanwhile(trx, current, action, from);
      const res = create(schema, { appointment: toAppointment(row) } as never) as MessageShape<S>;
      await REQUEST_KEYS.saveResponse(trx, key, toBinary(schema, res));
      this.afterCommit(trx, row.provider_id, to);
      return res;
    }, { claims: true });
  }

  /** tickets is the QueueService side of appointments (QUEUE_UNAVAILABLE when no queue is configured). */
  private tickets(): AppointmentTickets {
    if (!this.appointmentTickets) throw peerUnreachableError("queue");
    return this.appointmentTickets;
  }

  /**
   * settleTicket brings a CHECKED_IN appointment's ticket in line with `action` before the
   * appointment changes (ticketPlan, appointment-tickets.ts): ends an active ticket through the queue,
   * or refuses the change. Returns the ticket the appointment is to record: the one that continues a
   * transferred ticket, else undefined (unchanged). Other states have no ticket to settle.
   */
  private async settleTicket(ctx: HandlerContext, caller: Caller, current: AppointmentRow, action: Exclude<TicketAction, "CHECK_IN">): Promise<string | undefined> {
    if (current.status !== "CHECKED_IN" || !current.ticket_id) return undefined;
    const call = { onBehalfOf: caller.subject, action };
    // An active ticket can move on while it is being ended (called, completed): read it again, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      const held: AppointmentTicket = await this.tickets().read(ctx, call, current);
      const plan = ticketPlan(action, held.outcome);
      const changed = held.ticket && held.ticket.ticketId !== current.ticket_id ? held.ticket.ticketId : undefined;
      if (plan.kind === "proceed") return changed;
      if (plan.kind === "refuse") {
        const provider = await this.providerNaming(current.provider_id);
        const summary = { number: held.ticket?.number ?? "" };
        if (held.outcome === "COMPLETED") throw visitTookPlaceError(provider, current, action, summary);
        throw ticketEndedUnseenError(provider, current, held.outcome === "NO_SHOW" ? "NO_SHOW" : "CANCELLED", summary);
      }
      if (plan.kind === "end" && (await this.tickets().end(ctx, call, held.ticket!, plan.as))) return changed;
    }
    throw appointmentChangedError(await this.providerNaming(current.provider_id), current, action);
  }

  /**
   * changedMeanwhile is the error for a compare-and-swap that found the appointment no longer as read:
   * APPOINTMENT_CHANGED (retry) while the action is still allowed in its new state (e.g. checked in
   * meanwhile, with a ticket to settle), else ILLEGAL_TRANSITION.
   */
  private async changedMeanwhile(trx: Db, current: AppointmentRow, action: AppointmentAction, from: AppointmentStatusName[]): Promise<Error> {
    const latest = (await findAppointment(trx, current.appointment_id)) ?? current;
    if (from.includes(latest.status)) return appointmentChangedError(await this.providerNaming(latest.provider_id, trx), latest, action);
    return this.refusal(trx, latest, action, from);
  }

  /** checkPatientMayChange refuses a patient's own change once patientMayChange says no (PATIENT_CHANGE_CLOSED); staff are not bound by it. */
  private async checkPatientMayChange(caller: Caller, row: AppointmentRow, action: AppointmentAction, now: Date): Promise<void> {
    if (caller.role !== "patient" || patientMayChange(row, now)) return;
    throw patientChangeClosedError(await this.providerNaming(row.provider_id), row, action, patientChangeClosesAt(row));
  }

  /** selfBookingLimit is the upcoming-appointments limit of a patient booking for themselves (undefined: staff, or no limit). */
  private selfBookingLimit(caller: Caller): number | undefined {
    return patientSelfLimit(caller.role, this.options.maxUpcomingPerPatient);
  }

  /** selfWaitlistLimit is the active-entries limit of a patient joining a waitlist themselves (undefined: staff, or no limit). */
  private selfWaitlistLimit(caller: Caller): number | undefined {
    return patientSelfLimit(caller.role, this.options.maxWaitlistPerPatient);
  }

  /**
   * waitlistRefusal is the error for a join by a patient at their waitlist limit: ALREADY_ON_WAITLIST
   * when the window overlaps one of their entries for the provider (a repeat: the more useful answer),
   * else PATIENT_WAITLIST_LIMIT.
   */
  private async waitlistRefusal(db: Db, provider: ProviderRow, v: { patientId: string; windowStart: Date; windowEnd: Date }, limit: number): Promise<FailedPreconditionError> {
    const existing = await findOverlappingEntry(db, { providerId: provider.provider_id, patientId: v.patientId, start: v.windowStart, end: v.windowEnd });
    return existing ? alreadyOnWaitlistError(provider, existing) : patientWaitlistLimitError(limit);
  }

  private async requireProvider(db: Db, providerId: string): Promise<ProviderRow> {
    const p = await findProvider(db, providerId);
    if (!p) throw new NotFoundError("provider", providerId, "PROVIDER_NOT_FOUND");
    return p;
  }

  private async requireResources(resourceIds: string[]): Promise<void> {
    if (resourceIds.length === 0) return;
    const found = new Set((await findResources(this.db, resourceIds)).map((r) => r.resource_id));
    const missing = resourceIds.find((id) => !found.has(id));
    if (missing !== undefined) throw new NotFoundError("resource", missing, "RESOURCE_NOT_FOUND");
  }

  private async requireSchedule(provider: ProviderRow): Promise<Schedule> {
    const a: AvailabilityRow | undefined = await findAvailability(this.db, provider.provider_id);
    if (!a) throw noAvailabilityError(provider);
    return toSchedule(provider, a);
  }

  /**
   * checkBookable refuses a start before now (BOOKING_IN_PAST) or beyond the booking horizon
   * (BEYOND_HORIZON): the rules for every way an appointment gets a time.
   */
  private checkBookable(provider: ProviderRow, start: Date, now: Date): void {
    if (start.getTime() < now.getTime()) throw bookingInPastError(provider, start.getTime());
    if (start.getTime() > now.getTime() + this.options.bookingHorizonMs) {
      throw beyondHorizonError(provider, start.getTime(), now.getTime(), this.options.bookingHorizonMs);
    }
  }

  /** checkSlot refuses a start that is not a slot of the provider's availability, with the one reason why (explainSlotStart). */
  private checkSlot(provider: ProviderRow, schedule: Schedule, start: Date, durationMs: number): void {
    if (isSlotStart(schedule, start.getTime(), durationMs)) return;
    const verdict = explainSlotStart(schedule, start.getTime(), durationMs);
    throw slotRefusedError(provider, verdict.kind === "SLOT" ? { kind: "NOT_A_SLOT", date: "" } : verdict, start.getTime(), durationMs, schedule.slotMs);
  }

  /**
   * providerNaming is a provider's name and zone for an error message (the id itself when the
   * provider is gone). Inside a transaction pass its `trx`: PGlite is one session, and a query on
   * this.db would wait for the transaction that waits for it.
   */
  private async providerNaming(providerId: string, db: Db = this.db): Promise<ProviderNaming> {
    return (await findProvider(db, providerId)) ?? { display_name: providerId, time_zone: "UTC" };
  }

  /** refusal is the ILLEGAL_TRANSITION error for an appointment whose state does not allow `action` (read through `db`, the transaction when inside one). */
  private async refusal(db: Db, row: AppointmentRow, action: AppointmentAction, allowed: AppointmentStatusName[]): Promise<FailedPreconditionError> {
    return illegalTransitionError(await this.providerNaming(row.provider_id, db), row, action, allowed);
  }

  /** checkDuration applies "one slot when unset" and requires a multiple of the slot length (INVALID_ARGUMENT). */
  private checkDuration(schedule: Schedule, durationMs: number | undefined): number {
    if (durationMs === undefined) return schedule.slotMs;
    if (durationMs % schedule.slotMs !== 0) {
      throw new InvalidArgumentError([{ field: "duration", description: `must be a multiple of the provider's slot duration (${schedule.slotMs / 60_000} min)`, reason: "NOT_A_MULTIPLE" }]);
    }
    return durationMs;
  }

  /**
   * requireAppointment reads an appointment and checks ownership for callers allowed only their own:
   * a patient owns the appointments with their patientId, a doctor those with their providerId.
   * NOT_FOUND when it does not exist and, the same answer, when it is someone else's (as GetTicket does).
   */
  /**
   * readCommand is a write RPC's read before the lock, in one statement: the first response when
   * the requestId was used before (or ALREADY_EXISTS), else the appointment, checked as
   * requireAppointment does.
   */
  private async readCommand<S extends DescMessage>(
    key: RequestKey,
    hash: string,
    schema: S,
    appointmentId: string,
    caller: Caller,
    owner: "patient" | "doctor" | "either",
  ): Promise<{ replayed: MessageShape<S>; current?: undefined } | { replayed?: undefined; current: AppointmentRow }> {
    const found = await findAppointmentAndKey(this.db, appointmentId, key);
    if (found.requestKey) return { replayed: replayStored(schema, key, hash, found.requestKey) };
    return { current: await this.checkAppointment(found.appointment, appointmentId, caller, owner) };
  }

  private async requireAppointment(appointmentId: string, caller: Caller, owner: "patient" | "doctor" | "either"): Promise<AppointmentRow> {
    return this.checkAppointment(await findAppointment(this.db, appointmentId), appointmentId, caller, owner);
  }

  /** checkAppointment is requireAppointment on a row already read. */
  private async checkAppointment(row: AppointmentRow | undefined, appointmentId: string, caller: Caller, owner: "patient" | "doctor" | "either"): Promise<AppointmentRow> {
    if (!row) throw new NotFoundError("appointment", appointmentId, "APPOINTMENT_NOT_FOUND");
    if (caller.ownOnly) {
      const ownsAsPatient = caller.role === "patient" && row.patient_id === caller.subject;
      const ownsAsDoctor = caller.role === "doctor" && row.provider_id === caller.subject;
      const ok = owner === "patient" ? ownsAsPatient : owner === "doctor" ? ownsAsDoctor : ownsAsPatient || ownsAsDoctor;
      if (!ok) {
        await AUDIT_LOG.append(this.db, [{ ...auditBase(caller, "DeniedRead", this.clock.now()), record_type: "appointment", record_id: appointmentId }]);
        throw new NotFoundError("appointment", appointmentId, "APPOINTMENT_NOT_FOUND");
      }
    }
    return row;
  }

  /** audit builds one audit entry per appointment read or changed. */
  private audit(caller: Caller, action: string, rows: readonly AppointmentRow[], at: Date): NewAuditLogRow[] {
    return auditEntries(caller, action, at, "appointment", rows.map((r) => r.appointment_id));
  }

  /**
   * afterCommit wakes local watchers once the transaction has committed, counts its status changes
   * (`statuses`: the new status of each appointment changed or created) and prunes now and then.
   */
  private afterCommit(trx: Db, providerId: string, ...statuses: AppointmentStatusName[]): void {
    const touched = this.touched.get(trx);
    if (touched) {
      // tx() wakes the watchers and counts once the transaction has committed
      touched.providers.add(providerId);
      touched.statuses.push(...statuses);
      return this.maybePrune();
    }
    for (const status of statuses) countTransition(status);
    // Outside tx() there is no commit hook: wake them on the next tick; too early is harmless (the
    // feed reads nothing new, and the poll catches up).
    setTimeout(() => this.changed(providerId), 0).unref();
    this.maybePrune();
  }

  /** committed is afterCommit for a write that committed outside tx() (one atomic statement): wakes the watchers now. */
  private committed(providerId: string, ...statuses: AppointmentStatusName[]): void {
    for (const status of statuses) countTransition(status);
    this.changed(providerId);
    this.maybePrune();
  }

  private maybePrune(): void {
    if (this.clock.now().getTime() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.lastPrune = this.clock.now().getTime();
      setTimeout(() => void this.pruneRetained().catch(() => undefined), 0).unref();
    }
  }

  /** changed wakes this process's watchers of a provider and, by NOTIFY, the other replicas'. */
  private changed(providerId: string): void {
    this.feed.poke(providerId);
    this.notifier.notify(providerId);
  }

  private async retains(providerId: string, after: bigint): Promise<boolean> {
    const p = await findProvider(this.db, providerId);
    if (!p) return false;
    const last = BigInt(p.last_sequence);
    if (after > last) return false;
    if (after === last) return true;
    const oldest = await oldestChange(this.db, providerId);
    return oldest !== undefined && oldest <= after + 1n;
  }

  private async loadChanges(_providerId: string, rows: { sequence: string; appointment_id: string }[]): Promise<FeedItem<AppointmentRow | undefined>[]> {
    const byId = new Map((await findAppointments(this.db, [...new Set(rows.map((r) => r.appointment_id))])).map((a) => [a.appointment_id, a]));
    return rows.map((r) => ({ sequence: BigInt(r.sequence), value: byId.get(r.appointment_id) }));
  }
}

