import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  SchedulingService,
  type BookSeriesRequest,
  type BookSeriesResponseSchema,
  type CancelSeriesRequest,
  type CancelSeriesResponseSchema,
  type CreateLocationRequest,
  type CreateLocationResponseSchema,
  type CreateVisitTypeRequest,
  type CreateVisitTypeResponseSchema,
  type GetLocationRequest,
  type GetLocationResponseSchema,
  type GetVisitTypeRequest,
  type GetVisitTypeResponseSchema,
  type HoldSlotRequest,
  type HoldSlotResponseSchema,
  type ListLocationsRequest,
  type ListLocationsResponseSchema,
  type ListVisitTypesRequest,
  type ListVisitTypesResponseSchema,
  type SearchSlotsRequest,
  type SearchSlotsResponseSchema,
  type UpdateLocationRequest,
  type UpdateLocationResponseSchema,
  type UpdateVisitTypeRequest,
  type UpdateVisitTypeResponseSchema,
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
import { Code, ConnectError } from "@connectrpc/connect";
import { systemClock, type Clock } from "../runtime/clock.js";
import { Retention } from "../runtime/db/change-log.js";
import type { Logger } from "../runtime/observability/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Peers } from "../runtime/clients/peers.js";
import type { LockClient } from "../runtime/clients/with-lock.js";
import { AppointmentAccess, audit } from "./appointment-access.js";
import { AppointmentLifecycle } from "./appointment-lifecycle.js";
import { AppointmentTickets } from "./appointment-tickets.js";
import { AppointmentWatch } from "./appointment-watch.js";
import { Booking } from "./booking.js";
import type { Database } from "./db/database.js";
import { statusName, toAppointment } from "./mappers/scheduling.mapper.js";
import { ProviderDirectory } from "./provider-directory.js";
import { ProviderLock } from "./provider-lock.js";
import { listAppointments } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { pruneChanges } from "./repositories/change.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { findWaitlistEntry } from "./repositories/waitlist.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { countTransition, reportWaitlistOf } from "./scheduling.metrics.js";
import { DEFAULT_SCHEDULING_OPTIONS, type SchedulingOptions } from "./scheduling-options.js";
import { validateGetAvailability, validateSetAvailability } from "./availability.validation.js";
import {
  validateAcceptOffer,
  validateBookAppointment,
  validateCancelAppointment,
  validateCheckInAppointment,
  validateCompleteAppointment,
  validateCreateProvider,
  validateCreateResource,
  validateGetAppointment,
  validateGetProvider,
  validateJoinWaitlist,
  validateListAppointments,
  validateListAvailableSlots,
  validateListProviders,
  validateListResources,
  validateMarkNoShow,
  validateRescheduleAppointment,
  validateWatchAppointments,
} from "./scheduling.validation.js";
import { SlotSearch } from "./slot-search.js";
import { validateSearchSlots } from "./slot-search.validation.js";
import { Waitlist } from "./waitlist.js";
import { WaitlistOffers } from "./waitlist-offers.js";
import { WriteTransactions } from "./write-transaction.js";

/** notBuiltYet answers an RPC of issue 20 that is not built yet. */
function notBuiltYet(): ConnectError {
  return new ConnectError("not built yet", Code.Unimplemented);
}

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

/** APPOINTMENTS_PAGE is ListAppointments' page token: the appointments after (start, id), bound to the query's filters. */
export const APPOINTMENTS_PAGE = definePageKind(SchedulingService.method.listAppointments, { start: "instant", id: "text" });

/**
 * SchedulingServiceImpl serves medschedule.scheduling.v1.SchedulingService: each handler validates
 * its request and hands it to the part of the domain it belongs to: providers, rooms and availability
 * (here, with slot search in slots.ts; SearchSlots across providers in slot-search.ts), booking.ts
 * (book, cancel, reschedule under the provider's fenced lock, the exclusion constraints as the
 * guarantee), appointment-lifecycle.ts (check-in with its queue ticket, no-show, completion),
 * waitlist.ts and waitlist-offers.ts (held offers of freed time), appointment-watch.ts
 * (WatchAppointments). Every read or change of a patient's appointment is audited; every write goes
 * through write-transaction.ts.
 */
export class SchedulingServiceImpl implements ServiceImpl<typeof SchedulingService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly options: SchedulingOptions;
  private readonly pageTokens: PageTokens;
  private readonly access: AppointmentAccess;
  private readonly directory: ProviderDirectory;
  private readonly search: SlotSearch;
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
    this.directory = new ProviderDirectory(this.db, this.clock, this.options, this.access, this.pageTokens);
    this.search = new SlotSearch(this.db, this.clock, this.options, this.pageTokens);
    const lock = new ProviderLock(this.options, deps.peers, deps.lockClient);
    const base = { db: this.db, clock: this.clock, logger: deps.logger, options: this.options, access: this.access };
    this.watch = new AppointmentWatch(base, { logger: deps.logger, listenUrl: deps.config?.databaseUrl });
    this.retention = new Retention({ db: this.db, clock: this.clock, options: this.options, pruneChanges, requestKeys: REQUEST_KEYS });
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

  /** createProvider adds a provider; with a client-chosen id a retry returns the existing one.: provider-directory.ts. */
  async createProvider(req: CreateProviderRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateProviderResponseSchema>> {
    return this.directory.createProvider(validateCreateProvider(req));
  }

  /** getProvider reads one provider.: provider-directory.ts. */
  async getProvider(req: GetProviderRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetProviderResponseSchema>> {
    return this.directory.getProvider(validateGetProvider(req));
  }

  /** listProviders pages through providers by display name.: provider-directory.ts. */
  async listProviders(req: ListProvidersRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListProvidersResponseSchema>> {
    return this.directory.listProviders(validateListProviders(req));
  }

  /** createResource adds a room or device; with a client-chosen id a retry returns the existing one.: provider-directory.ts. */
  async createResource(req: CreateResourceRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateResourceResponseSchema>> {
    return this.directory.createResource(validateCreateResource(req));
  }

  /** listResources pages through rooms and devices by display name.: provider-directory.ts. */
  async listResources(req: ListResourcesRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListResourcesResponseSchema>> {
    return this.directory.listResources(validateListResources(req));
  }

  /** setAvailability replaces a provider's weekly pattern; existing appointments stay.: provider-directory.ts. */
  async setAvailability(req: SetAvailabilityRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof SetAvailabilityResponseSchema>> {
    return this.directory.setAvailability(validateSetAvailability(req));
  }

  /** getAvailability reads a provider's weekly pattern (empty when never set).: provider-directory.ts. */
  async getAvailability(req: GetAvailabilityRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetAvailabilityResponseSchema>> {
    return this.directory.getAvailability(validateGetAvailability(req));
  }

  /** listAvailableSlots lists the bookable free slots of a provider (and rooms) in a range, as UTC instants: none before now or beyond the booking horizon.: provider-directory.ts. */
  async listAvailableSlots(req: ListAvailableSlotsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListAvailableSlotsResponseSchema>> {
    return this.directory.listAvailableSlots(validateListAvailableSlots(req));
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

  /** createLocation adds a location (issue 20: not built yet). */
  async createLocation(_req: CreateLocationRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateLocationResponseSchema>> {
    throw notBuiltYet();
  }

  /** getLocation reads a location (issue 20: not built yet). */
  async getLocation(_req: GetLocationRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetLocationResponseSchema>> {
    throw notBuiltYet();
  }

  /** listLocations pages through locations (issue 20: not built yet). */
  async listLocations(_req: ListLocationsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListLocationsResponseSchema>> {
    throw notBuiltYet();
  }

  /** updateLocation changes a location (issue 20: not built yet). */
  async updateLocation(_req: UpdateLocationRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof UpdateLocationResponseSchema>> {
    throw notBuiltYet();
  }

  /** createVisitType adds a visit type (issue 20: not built yet). */
  async createVisitType(_req: CreateVisitTypeRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateVisitTypeResponseSchema>> {
    throw notBuiltYet();
  }

  /** getVisitType reads a visit type (issue 20: not built yet). */
  async getVisitType(_req: GetVisitTypeRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetVisitTypeResponseSchema>> {
    throw notBuiltYet();
  }

  /** listVisitTypes pages through visit types (issue 20: not built yet). */
  async listVisitTypes(_req: ListVisitTypesRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListVisitTypesResponseSchema>> {
    throw notBuiltYet();
  }

  /** updateVisitType changes a visit type (issue 20: not built yet). */
  async updateVisitType(_req: UpdateVisitTypeRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof UpdateVisitTypeResponseSchema>> {
    throw notBuiltYet();
  }

  /** searchSlots answers free slots of a visit type across its providers, paged: slot-search.ts. */
  async searchSlots(req: SearchSlotsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SearchSlotsResponseSchema>> {
    return this.search.searchSlots(validateSearchSlots(req), callerOf(ctx));
  }

  /** holdSlot holds a slot for a patient (issue 20: not built yet). */
  async holdSlot(_req: HoldSlotRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof HoldSlotResponseSchema>> {
    throw notBuiltYet();
  }

  /** bookSeries books a recurring series (issue 20: not built yet). */
  async bookSeries(_req: BookSeriesRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof BookSeriesResponseSchema>> {
    throw notBuiltYet();
  }

  /** cancelSeries cancels this and following occurrences (issue 20: not built yet). */
  async cancelSeries(_req: CancelSeriesRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CancelSeriesResponseSchema>> {
    throw notBuiltYet();
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

  /** pruneRetained deletes change-log rows and requestIds older than their retention: runtime/db/change-log.ts. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    return this.retention.pruneRetained();
  }
}
