import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  SchedulingService,
  type BookSeriesRequest,
  type BookSeriesResponseSchema,
  type CancelSeriesRequest,
  type ReassignPatientRequest,
  type ReassignPatientResponseSchema,
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
import { listScope } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { Retention } from "../runtime/db/change-log.js";
import type { Logger } from "../runtime/observability/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Peers } from "../runtime/clients/peers.js";
import type { LockClient } from "../runtime/clients/with-lock.js";
import type { PatientDirectory } from "../runtime/clients/patient-directory.js";
import { validateReassignPatient } from "../runtime/request/patient-reassign.validation.js";
import { AppointmentAccess, audit } from "./appointment-access.js";
import { AppointmentLifecycle } from "./appointment-lifecycle.js";
import { AppointmentTickets } from "./appointment-tickets.js";
import { AppointmentWatch } from "./appointment-watch.js";
import { Booking } from "./booking.js";
import type { Database, Db } from "./db/database.js";
import { Holds } from "./holds.js";
import { validateConfirmHold, validateHoldSlot } from "./hold.validation.js";
import { statusName, toAppointment } from "./mappers/scheduling.mapper.js";
import { LocationGuard } from "./location-guard.js";
import { ProviderDirectory } from "./provider-directory.js";
import { ProviderLock } from "./provider-lock.js";
import { ephemeralReasonVault, type ReasonVault } from "./reason-vault.js";
import { PatientCheck } from "./patient-check.js";
import { reassignPatient } from "./patient-reassign.js";
import { validateListAppointments, validateWatchAppointments } from "./calendar.validation.js";
import { listAppointments } from "./repositories/appointment.repository.js";
import { pruneLocationChanges } from "./repositories/location-change.repository.js";
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
  validateListAvailableSlots,
  validateListProviders,
  validateListResources,
  validateMarkNoShow,
  validateRescheduleAppointment,
} from "./scheduling.validation.js";
import { SeriesBooking } from "./series.js";
import { validateBookSeries, validateCancelSeries } from "./series.validation.js";
import { VisitTypes } from "./visit-types.js";
import { validateCreateVisitType, validateGetVisitType, validateListVisitTypes, validateUpdateVisitType } from "./visit-types.validation.js";
import { Locations } from "./locations.js";
import { validateCreateLocation, validateGetLocation, validateListLocations, validateUpdateLocation } from "./locations.validation.js";
import { SlotSearch } from "./slot-search.js";
import { validateSearchSlots } from "./slot-search.validation.js";
import { Waitlist } from "./waitlist.js";
import { WaitlistOffers } from "./waitlist-offers.js";
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
  /** patients check a new booking's patientId (PATIENT_CHECK; none: no check): patient-check.ts. */
  patients?: PatientDirectory;
  /** lockClient overrides the LockService client (tests calling the class directly). */
  lockClient?: LockClient;
  /** pageTokens seal the List RPCs' page tokens (default: a random key of this process). */
  pageTokens?: PageTokens;
  /** reasons seal an appointment's free text (SCHEDULING_ENCRYPTION_KEYS; default: a random key of this process). */
  reasons?: ReasonVault;
}

/** APPOINTMENTS_PAGE is ListAppointments' page token: the appointments after (start, id), bound to the query's filters. */
export const APPOINTMENTS_PAGE = definePageKind(SchedulingService.method.listAppointments, { start: "instant", id: "text" });

/**
 * SchedulingServiceImpl serves medschedule.scheduling.v1.SchedulingService: each handler validates its
 * request and hands it to the part of the domain it belongs to: locations.ts (clinics and branches,
 * their zones and closures), providers, rooms and availability (provider-directory.ts, with slot
 * search in slots.ts; SearchSlots across providers in slot-search.ts), booking.ts (book, cancel, reschedule under the provider's
 * fenced lock, the exclusion constraints as the guarantee), appointment-lifecycle.ts (check-in with
 * its queue ticket, no-show, completion), waitlist.ts and waitlist-offers.ts (held offers of freed
 * time), series.ts (recurring series), appointment-watch.ts (WatchAppointments). Every read or
 * change of a patient's appointment is audited; every write goes through write-transaction.ts.
 */
export class SchedulingServiceImpl implements ServiceImpl<typeof SchedulingService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly options: SchedulingOptions;
  private readonly pageTokens: PageTokens;
  private readonly access: AppointmentAccess;
  private readonly directory: ProviderDirectory;
  private readonly guard: LocationGuard;
  private readonly search: SlotSearch;
  private readonly watch: AppointmentWatch;
  private readonly retention: Retention;
  private readonly offers: WaitlistOffers;
  private readonly booking: Booking;
  private readonly holds: Holds;
  private readonly lifecycle: AppointmentLifecycle;
  private readonly waitlist: Waitlist;
  private readonly series: SeriesBooking;
  private readonly visitTypes: VisitTypes;
  private readonly locations: Locations;
  private readonly patients: PatientCheck;
  private readonly c: SchedulingContext;
  private readonly stopReporting: () => void;

  constructor(deps: SchedulingServiceDeps, options: Partial<SchedulingOptions> = {}) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.options = { ...DEFAULT_SCHEDULING_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.access = new AppointmentAccess(this.db, this.clock, deps.reasons ?? ephemeralReasonVault());
    this.directory = new ProviderDirectory(this.db, this.clock, this.options, this.access, this.pageTokens);
    this.guard = new LocationGuard(this.db);
    this.search = new SlotSearch(this.db, this.clock, this.options, this.pageTokens);
    const lock = new ProviderLock(this.options, deps.peers, deps.lockClient, this.access.reasons);
    const base = { db: this.db, clock: this.clock, logger: deps.logger, options: this.options, access: this.access, reasons: this.access.reasons };
    this.watch = new AppointmentWatch(base, { logger: deps.logger, listenUrl: deps.config?.databaseUrl });
    const pruneBoth = async (db: Db, before: Date) => (await pruneChanges(db, before)) + (await pruneLocationChanges(db, before));
    this.retention = new Retention({ db: this.db, clock: this.clock, options: this.options, pruneChanges: pruneBoth, requestKeys: REQUEST_KEYS });
    const writes = new WriteTransactions(this.db, lock.lockTimeoutMs(), (after) => {
      for (const providerId of after.providers) this.watch.changed(providerId);
      if (after.providers.size > 0) void this.watch.stampLocations();
      for (const status of after.statuses) countTransition(status);
      this.retention.maybePrune();
    });
    const c: SchedulingContext = (this.c = { ...base, lock, writes });
    this.patients = new PatientCheck(deps.patients);
    this.offers = new WaitlistOffers(c);
    this.lifecycle = new AppointmentLifecycle(c, deps.peers && new AppointmentTickets(deps.peers));
    this.booking = new Booking(c, this.offers, this.lifecycle);
    this.holds = new Holds(c, this.offers);
    this.waitlist = new Waitlist(c, this.offers);
    this.series = new SeriesBooking(c, this.offers);
    this.visitTypes = new VisitTypes(c, this.pageTokens);
    this.locations = new Locations(c, this.pageTokens);
    this.stopReporting = reportWaitlistOf(this.db);
  }

  /** close stops the offer sweep and WatchAppointments' listener (the database stays open). */
  async close(): Promise<void> {
    this.stopReporting();
    await this.locations.ready();
    await this.offers.close();
    await this.watch.close();
  }

  /** createProvider adds a provider; with a client-chosen id a retry returns the existing one.: provider-directory.ts. */
  async createProvider(req: CreateProviderRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CreateProviderResponseSchema>> {
    const v = validateCreateProvider(req);
    this.guard.creating(ctx, req.locationId);
    return this.directory.createProvider(v);
  }

  /** getProvider reads one provider.: provider-directory.ts. */
  async getProvider(req: GetProviderRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetProviderResponseSchema>> {
    return this.directory.getProvider(await this.guard.checked(ctx, validateGetProvider(req)));
  }

  /** listProviders pages through providers by display name.: provider-directory.ts. */
  async listProviders(req: ListProvidersRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListProvidersResponseSchema>> {
    const v = validateListProviders(req);
    return this.directory.listProviders(v, listScope(ctx, v.locationId));
  }

  /** createResource adds a room or device; with a client-chosen id a retry returns the existing one.: provider-directory.ts. */
  async createResource(req: CreateResourceRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CreateResourceResponseSchema>> {
    const v = validateCreateResource(req);
    this.guard.creating(ctx, req.locationId);
    return this.directory.createResource(v);
  }

  /** listResources pages through rooms and devices by display name.: provider-directory.ts. */
  async listResources(req: ListResourcesRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListResourcesResponseSchema>> {
    const v = validateListResources(req);
    return this.directory.listResources(v, listScope(ctx, v.locationId));
  }

  /** setAvailability replaces a provider's weekly pattern; existing appointments stay.: provider-directory.ts. */
  async setAvailability(req: SetAvailabilityRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SetAvailabilityResponseSchema>> {
    return this.directory.setAvailability(await this.guard.checked(ctx, validateSetAvailability(req)));
  }

  /** getAvailability reads a provider's weekly pattern (empty when never set).: provider-directory.ts. */
  async getAvailability(req: GetAvailabilityRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetAvailabilityResponseSchema>> {
    return this.directory.getAvailability(await this.guard.checked(ctx, validateGetAvailability(req)));
  }

  /** listAvailableSlots lists the bookable free slots of a provider (and rooms) in a range, as UTC instants: none before now or beyond the booking horizon.: provider-directory.ts. */
  async listAvailableSlots(req: ListAvailableSlotsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListAvailableSlotsResponseSchema>> {
    return this.directory.listAvailableSlots(await this.guard.checked(ctx, validateListAvailableSlots(req)));
  }

  /** bookAppointment books a slot (none -> BOOKED): booking.ts; with a holdId it confirms the hold (PROPOSED -> BOOKED): holds.ts. */
  async bookAppointment(req: BookAppointmentRequest, ctx: HandlerContext) {
    const res = req.holdId !== "" ? await this.holds.confirm(await this.guard.checked(ctx, validateConfirmHold(req)), ctx) : await this.booking.bookAppointment(await this.patients.checked(ctx, await this.guard.checked(ctx, validateBookAppointment(req))), ctx);
    return this.patients.served(ctx, res, [res.appointment]);
  }

  /** cancelAppointment frees an appointment's time (-> CANCELLED), then offers it to the waitlist: booking.ts. */
  async cancelAppointment(req: CancelAppointmentRequest, ctx: HandlerContext) {
    return this.booking.cancelAppointment(await this.guard.checked(ctx, validateCancelAppointment(req)), ctx);
  }

  /** rescheduleAppointment moves a BOOKED appointment to a new slot in one transaction: booking.ts. */
  async rescheduleAppointment(req: RescheduleAppointmentRequest, ctx: HandlerContext) {
    return this.booking.rescheduleAppointment(await this.guard.checked(ctx, validateRescheduleAppointment(req)), ctx);
  }

  /** getAppointment reads one appointment; patients and doctors only their own (audited). */
  async getAppointment(req: GetAppointmentRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetAppointmentResponseSchema>> {
    const v = await this.guard.checked(ctx, validateGetAppointment(req));
    const caller = callerOf(ctx);
    const row = await this.access.requireAppointment(v.appointmentId, caller, "either");
    await AUDIT_LOG.append(this.db, audit(caller, "GetAppointment", [row], this.clock.now()));
    return { appointment: toAppointment(row, this.access.reasons) };
  }

  /** listAppointments pages through the appointments of a provider, a patient, a location or a room or device by start time (audited). */
  async listAppointments(req: ListAppointmentsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListAppointmentsResponseSchema>> {
    const v = validateListAppointments(req);
    await this.guard.check(ctx, { resourceIds: v.resourceId ? [v.resourceId] : [] });
    const caller = callerOf(ctx);
    // A token continues only the query it came from.
    const query = [v.providerId, v.patientId, v.start, v.end, v.statuses, v.locationId, v.resourceId];
    const after = this.pageTokens.open(APPOINTMENTS_PAGE, v.pageToken, query);
    const rows = await listAppointments(this.db, {
      providerId: v.providerId,
      patientId: v.patientId,
      locationIds: listScope(ctx, v.locationId || undefined),
      locationId: v.locationId,
      resourceId: v.resourceId,
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
      appointments: page.map((r) => toAppointment(r, this.access.reasons)),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(APPOINTMENTS_PAGE, { start: last.start_at, id: last.appointment_id }, query) : "",
    };
  }

  /** checkInAppointment marks the patient arrived, with a ticket in the queue (BOOKED -> CHECKED_IN): appointment-lifecycle.ts. */
  async checkInAppointment(req: CheckInAppointmentRequest, ctx: HandlerContext) {
    return this.lifecycle.checkInAppointment(await this.guard.checked(ctx, validateCheckInAppointment(req)), ctx);
  }

  /** markNoShow records that the patient did not come (-> NOSHOW): appointment-lifecycle.ts. */
  async markNoShow(req: MarkNoShowRequest, ctx: HandlerContext) {
    return this.lifecycle.markNoShow(await this.guard.checked(ctx, validateMarkNoShow(req)), ctx);
  }

  /** completeAppointment records that the visit took place (CHECKED_IN -> FULFILLED): appointment-lifecycle.ts. */
  async completeAppointment(req: CompleteAppointmentRequest, ctx: HandlerContext) {
    return this.lifecycle.completeAppointment(await this.guard.checked(ctx, validateCompleteAppointment(req)), ctx);
  }

  /** joinWaitlist puts a patient on a provider's waitlist for a window: waitlist.ts. */
  async joinWaitlist(req: JoinWaitlistRequest, ctx: HandlerContext) {
    return this.waitlist.joinWaitlist(await this.patients.checked(ctx, await this.guard.checked(ctx, validateJoinWaitlist(req))), ctx);
  }

  /** acceptOffer books a waitlist offer before its hold lapses (PROPOSED -> BOOKED): waitlist.ts. */
  async acceptOffer(req: AcceptOfferRequest, ctx: HandlerContext) {
    return this.waitlist.acceptOffer(await this.guard.checked(ctx, validateAcceptOffer(req)), ctx);
  }

  /** createLocation adds a location; with a client-chosen id a retry returns the existing one: locations.ts. */
  async createLocation(req: CreateLocationRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CreateLocationResponseSchema>> {
    return this.locations.createLocation(validateCreateLocation(req), ctx);
  }

  /** getLocation reads a location: locations.ts. */
  async getLocation(req: GetLocationRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetLocationResponseSchema>> {
    return this.locations.getLocation(validateGetLocation(req), ctx);
  }

  /** listLocations pages through locations by display name: locations.ts. */
  async listLocations(req: ListLocationsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListLocationsResponseSchema>> {
    return this.locations.listLocations(validateListLocations(req), ctx);
  }

  /** updateLocation changes the fields of a location its update mask names: locations.ts. */
  async updateLocation(req: UpdateLocationRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof UpdateLocationResponseSchema>> {
    return this.locations.updateLocation(validateUpdateLocation(req), ctx);
  }

  /** createVisitType adds a visit type; with a client-chosen id a retry returns the existing one: visit-types.ts. */
  async createVisitType(req: CreateVisitTypeRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CreateVisitTypeResponseSchema>> {
    return this.visitTypes.createVisitType(validateCreateVisitType(req, this.options.bookingHorizonMs), ctx);
  }

  /** getVisitType reads a visit type: visit-types.ts. */
  async getVisitType(req: GetVisitTypeRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetVisitTypeResponseSchema>> {
    return this.visitTypes.getVisitType(validateGetVisitType(req), ctx);
  }

  /** listVisitTypes pages through visit types by display name: visit-types.ts. */
  async listVisitTypes(req: ListVisitTypesRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListVisitTypesResponseSchema>> {
    return this.visitTypes.listVisitTypes(validateListVisitTypes(req), ctx);
  }

  /** updateVisitType changes the fields named in the update mask: visit-types.ts. */
  async updateVisitType(req: UpdateVisitTypeRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof UpdateVisitTypeResponseSchema>> {
    return this.visitTypes.updateVisitType(validateUpdateVisitType(req, this.options.bookingHorizonMs), ctx);
  }

  /** searchSlots answers free slots of a visit type across its providers, paged: slot-search.ts. */
  async searchSlots(req: SearchSlotsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SearchSlotsResponseSchema>> {
    const v = validateSearchSlots(req);
    for (const providerId of v.providerIds) await this.guard.check(ctx, { providerId });
    return this.search.searchSlots(v, callerOf(ctx), ctx);
  }

  /** holdSlot holds a visit type's slot for a patient for SCHEDULING_HOLD_TTL (none -> PROPOSED): holds.ts. */
  async holdSlot(req: HoldSlotRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof HoldSlotResponseSchema>> {
    return this.holds.holdSlot(await this.patients.checked(ctx, await this.guard.checked(ctx, validateHoldSlot(req))), ctx);
  }

  /** bookSeries books a recurring series, all or nothing: series.ts. */
  async bookSeries(req: BookSeriesRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof BookSeriesResponseSchema>> {
    const res = await this.series.bookSeries(await this.patients.checked(ctx, await this.guard.checked(ctx, validateBookSeries(req))), ctx);
    return this.patients.served(ctx, res, res.series?.appointments ?? []);
  }

  /** reassignPatient moves a merged patient record's appointments and waitlist entries to its survivor (PatientService's MergePatients): patient-reassign.ts. */
  async reassignPatient(req: ReassignPatientRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ReassignPatientResponseSchema>> {
    return reassignPatient(this.c, callerOf(ctx), validateReassignPatient(req));
  }

  /** cancelSeries cancels an occurrence of a series and every later one ("this and following"): series.ts. */
  async cancelSeries(req: CancelSeriesRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CancelSeriesResponseSchema>> {
    const v = validateCancelSeries(req);
    await this.guard.check(ctx, { appointmentId: v.fromAppointmentId });
    return this.series.cancelSeries(v, ctx);
  }

  /** watchAppointments streams the appointments of one local day of a provider, a location or a room or device, resumable: appointment-watch.ts. */
  async *watchAppointments(req: WatchAppointmentsRequest, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchAppointmentsResponseSchema>> {
    const v = validateWatchAppointments(req);
    const named: { providerId?: string; locationId?: string; resourceId?: string } = v;
    await this.guard.check(ctx, { providerId: named.providerId, locationId: named.locationId, resourceIds: named.resourceId ? [named.resourceId] : [] });
    yield* this.watch.watchAppointments(v, ctx);
  }

  /** expireOffers expires the lapsed holds and passes on every offer whose hold lapsed (the sweep's job, on demand); returns how many offers: waitlist-offers.ts. */
  async expireOffers(): Promise<number> {
    return this.offers.expireOffers();
  }

  /** waitlistEntry reads a waitlist entry (tests and operators). */
  async waitlistEntry(entryId: string) {
    return findWaitlistEntry(this.db, entryId);
  }

  /** stampLocationChanges numbers the committed changes of locations now (what follows every write, on demand): location-changes.ts. */
  async stampLocationChanges(): Promise<void> {
    await this.watch.stampLocations();
  }

  /** pruneRetained deletes change-log rows and requestIds older than their retention: runtime/db/change-log.ts. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    return this.retention.pruneRetained();
  }
}
