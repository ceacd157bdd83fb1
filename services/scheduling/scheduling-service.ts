import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  SchedulingService,
  type AcceptOfferRequest,
  type BookAppointmentRequest,
  type CancelAppointmentRequest,
  type CheckInAppointmentRequest,
  type CompleteAppointmentRequest,
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
  type RescheduleAppointmentRequest,
  type SetAvailabilityRequest,
  type SetAvailabilityResponseSchema,
  type WatchAppointmentsRequest,
  type WatchAppointmentsResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { callerOf } from "../runtime/caller.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { AbortedError, AlreadyExistsError } from "../runtime/errors.js";
import type { Logger } from "../runtime/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Peers } from "../runtime/peers.js";
import type { LockClient } from "../runtime/with-lock.js";
import { AppointmentAccess, audit } from "./appointment-access.js";
import { AppointmentLifecycle } from "./appointment-lifecycle.js";
import { AppointmentTickets } from "./appointment-tickets.js";
import { AppointmentWatch } from "./appointment-watch.js";
import { Booking } from "./booking.js";
import { checkDuration } from "./booking-rules.js";
import type { Database } from "./db/database.js";
import { kindName, statusName, toAppointment, toAvailability, toProvider, toResource, toSchedule } from "./mappers/scheduling.mapper.js";
import { ProviderLock } from "./provider-lock.js";
import { listAppointments, providerBusy, resourceBusy } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { findAvailability, findProvider, findResources, insertProvider, insertResource, listProviders, listResources, upsertAvailability } from "./repositories/provider.repository.js";
import { findWaitlistEntry } from "./repositories/waitlist.repository.js";
import { Retention } from "./retention.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { countTransition, reportWaitlistOf } from "./scheduling.metrics.js";
import { DEFAULT_SCHEDULING_OPTIONS, type SchedulingOptions } from "./scheduling-options.js";
import { validateGetAvailability, validateSetAvailability } from "./availability.validation.js";
import { validateAcceptOffer, validateBookAppointment, validateCancelAppointment, validateCheckInAppointment, validateCompleteAppointment, validateCreateProvider, validateCreateResource, validateGetAppointment, validateGetProvider, validateJoinWaitlist, validateListAppointments, validateListAvailableSlots, validateListProviders, validateListResources, validateMarkNoShow, validateRescheduleAppointment, validateWatchAppointments } from "./scheduling.validation.js";
import { listSlots, type Interval } from "./slots.js";
import { Waitlist } from "./waitlist.js";
import { BUSY_MARGIN_MS, WaitlistOffers } from "./waitlist-offers.js";
import { WriteTransactions } from "./write-transaction.js";

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

/** PROVIDERS_PAGE is ListProviders' page token: the providers after (display name, id). */
export const PROVIDERS_PAGE = definePageKind(SchedulingService.method.listProviders, { name: "text", id: "text" });
/** RESOURCES_PAGE is ListResources' page token: the resources after (display name, id), bound to the kind asked for. */
export const RESOURCES_PAGE = definePageKind(SchedulingService.method.listResources, { name: "text", id: "text" });
/** APPOINTMENTS_PAGE is ListAppointments' page token: the appointments after (start, id), bound to the query's filters. */
export const APPOINTMENTS_PAGE = definePageKind(SchedulingService.method.listAppointments, { start: "instant", id: "text" });

/**
 * SchedulingServiceImpl serves medschedule.scheduling.v1.SchedulingService: each handler validates its
 * request and hands it to the part of the domain it belongs to: providers, rooms and availability
 * (here, with slot search in slots.ts), booking.ts (book, cancel, reschedule under the provider's
 * fenced lock, the exclusion constraints as the guarantee), appointment-lifecycle.ts (check-in with
 * its queue ticket, no-show, completion), waitlist.ts and waitlist-offers.ts (held offers of freed
 * time), appointment-watch.ts (WatchAppointments). Every read or change of a patient's appointment is
 * audited; every write goes through write-transaction.ts.
 */
export class SchedulingServiceImpl implements ServiceImpl<typeof SchedulingService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly options: SchedulingOptions;
  private readonly pageTokens: PageTokens;
  private readonly access: AppointmentAccess;
  private readonly watch: AppointmentWatch;
  private readonly retention: Retention;
  private readonly offers: WaitlistOffers;
  private readonly booking: Booking;
  private readonly lifecycle: AppointmentLifecycle;
  private readonly waitlist: Waitlist;
  private readonly stopReporting: () => void;

  constructor(deps: SchedulingServiceDeps, options: Partial<SchedulingOptions> = {}) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.options = { ...DEFAULT_SCHEDULING_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.access = new AppointmentAccess(this.db, this.clock);
    const lock = new ProviderLock(this.options, deps.peers, deps.lockClient);
    const base = { db: this.db, clock: this.clock, logger: deps.logger, options: this.options, access: this.access };
    this.watch = new AppointmentWatch(base, { logger: deps.logger, listenUrl: deps.config?.databaseUrl });
    this.retention = new Retention(this.db, this.clock, this.options);
    const writes = new WriteTransactions(this.db, lock.lockTimeoutMs(), (after) => {
      for (const providerId of after.providers) this.watch.changed(providerId);
      for (const status of after.statuses) countTransition(status);
      this.retention.maybePrune();
    });
    const c: SchedulingContext = { ...base, lock, writes };
    this.offers = new WaitlistOffers(c);
    this.lifecycle = new AppointmentLifecycle(c, deps.peers && new AppointmentTickets(deps.peers));
    this.booking = new Booking(c, this.offers, this.lifecycle);
    this.waitlist = new Waitlist(c, this.offers);
    this.stopReporting = reportWaitlistOf(this.db);
  }

  /** close stops the offer sweep and WatchAppointments' listener (the database stays open). */
  async close(): Promise<void> {
    this.stopReporting();
    await this.offers.close();
    await this.watch.close();
  }

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
    return { provider: toProvider(await this.access.requireProvider(this.db, v.providerId)) };
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
    const provider = await this.access.requireProvider(this.db, v.providerId);
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
    const provider = await this.access.requireProvider(this.db, v.providerId);
    return { availability: toAvailability(provider, await findAvailability(this.db, v.providerId)) };
  }

  /** listAvailableSlots lists the bookable free slots of a provider (and rooms) in a range, as UTC instants: none before now or beyond the booking horizon. */
  async listAvailableSlots(req: ListAvailableSlotsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListAvailableSlotsResponseSchema>> {
    const v = validateListAvailableSlots(req);
    const provider = await this.access.requireProvider(this.db, v.providerId);
    await this.access.requireResources(v.resourceIds);
    const availability = await findAvailability(this.db, v.providerId);
    if (!availability) return { slots: [] };
    const schedule = toSchedule(provider, availability);
    const durationMs = checkDuration(schedule, v.durationMs);
    // Only bookable slots: none that has started, none beyond the booking horizon.
    const now = this.clock.now().getTime();
    const range: Interval = { start: Math.max(v.start.getTime(), now), end: Math.min(v.end.getTime(), now + this.options.bookingHorizonMs) };
    if (range.end <= range.start) return { slots: [] };
    // Busy time reaching into the range, buffers included.
    const around: Interval = { start: range.start - BUSY_MARGIN_MS, end: range.end + BUSY_MARGIN_MS };
    const [pBusy, rBusy] = await Promise.all([providerBusy(this.db, v.providerId, around), resourceBusy(this.db, v.resourceIds, around)]);
    const slots = listSlots(schedule, { range, durationMs, providerBusy: pBusy, resourceBusy: rBusy });
    return { slots: slots.map((s) => ({ startTime: timestampFromDate(new Date(s.start)), endTime: timestampFromDate(new Date(s.end)) })) };
  }

  /** bookAppointment books a slot (none -> BOOKED): booking.ts. */
  async bookAppointment(req: BookAppointmentRequest, ctx: HandlerContext) {
    return this.booking.bookAppointment(validateBookAppointment(req), ctx);
  }

  /** cancelAppointment frees an appointment's time (-> CANCELLED), then offers it to the waitlist: booking.ts. */
  async cancelAppointment(req: CancelAppointmentRequest, ctx: HandlerContext) {
    return this.booking.cancelAppointment(validateCancelAppointment(req), ctx);
  }

  /** rescheduleAppointment moves a BOOKED appointment to a new slot in one transaction: booking.ts. */
  async rescheduleAppointment(req: RescheduleAppointmentRequest, ctx: HandlerContext) {
    return this.booking.rescheduleAppointment(validateRescheduleAppointment(req), ctx);
  }

  /** getAppointment reads one appointment; patients and doctors only their own (audited). */
  async getAppointment(req: GetAppointmentRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetAppointmentResponseSchema>> {
    const v = validateGetAppointment(req);
    const caller = callerOf(ctx);
    const row = await this.access.requireAppointment(v.appointmentId, caller, "either");
    await AUDIT_LOG.append(this.db, audit(caller, "GetAppointment", [row], this.clock.now()));
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
    await AUDIT_LOG.append(this.db, audit(caller, "ListAppointments", page, this.clock.now()));
    return {
      appointments: page.map(toAppointment),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(APPOINTMENTS_PAGE, { start: last.start_at, id: last.appointment_id }, query) : "",
    };
  }

  /** checkInAppointment marks the patient arrived, with a ticket in the queue (BOOKED -> CHECKED_IN): appointment-lifecycle.ts. */
  async checkInAppointment(req: CheckInAppointmentRequest, ctx: HandlerContext) {
    return this.lifecycle.checkInAppointment(validateCheckInAppointment(req), ctx);
  }

  /** markNoShow records that the patient did not come (-> NOSHOW): appointment-lifecycle.ts. */
  async markNoShow(req: MarkNoShowRequest, ctx: HandlerContext) {
    return this.lifecycle.markNoShow(validateMarkNoShow(req), ctx);
  }

  /** completeAppointment records that the visit took place (CHECKED_IN -> FULFILLED): appointment-lifecycle.ts. */
  async completeAppointment(req: CompleteAppointmentRequest, ctx: HandlerContext) {
    return this.lifecycle.completeAppointment(validateCompleteAppointment(req), ctx);
  }

  /** joinWaitlist puts a patient on a provider's waitlist for a window: waitlist.ts. */
  async joinWaitlist(req: JoinWaitlistRequest, ctx: HandlerContext) {
    return this.waitlist.joinWaitlist(validateJoinWaitlist(req), ctx);
  }

  /** acceptOffer books a waitlist offer before its hold lapses (PROPOSED -> BOOKED): waitlist.ts. */
  async acceptOffer(req: AcceptOfferRequest, ctx: HandlerContext) {
    return this.waitlist.acceptOffer(validateAcceptOffer(req), ctx);
  }

  /** watchAppointments streams a provider's appointments of one local day, resumable: appointment-watch.ts. */
  watchAppointments(req: WatchAppointmentsRequest, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchAppointmentsResponseSchema>> {
    return this.watch.watchAppointments(validateWatchAppointments(req), ctx);
  }

  /** expireOffers passes on every offer whose hold lapsed (the sweep's job, on demand); returns how many: waitlist-offers.ts. */
  async expireOffers(): Promise<number> {
    return this.offers.expireOffers();
  }

  /** waitlistEntry reads a waitlist entry (tests and operators). */
  async waitlistEntry(entryId: string) {
    return findWaitlistEntry(this.db, entryId);
  }

  /** pruneRetained deletes change-log rows and requestIds older than their retention: retention.ts. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    return this.retention.pruneRetained();
  }
}
