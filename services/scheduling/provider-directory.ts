// Providers, their rooms and devices (each at a location, listed by it), their weekly availability
// (each entry at a location that must exist), and the free slots it leaves (none on a location's closures):
// the scheduling service's directory, read and written without the provider's lock (a client-chosen
// id makes a create retryable; a change of availability leaves existing appointments as they are).
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Kysely } from "kysely";
import {
  SchedulingService,
  type CreateProviderResponseSchema,
  type CreateResourceResponseSchema,
  type GetAvailabilityResponseSchema,
  type GetProviderResponseSchema,
  type ListAvailableSlotsResponseSchema,
  type ListProvidersResponseSchema,
  type ListResourcesResponseSchema,
  type SetAvailabilityResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Clock } from "../runtime/clock.js";
import { AbortedError, AlreadyExistsError } from "../runtime/errors.js";
import { definePageKind, type PageTokens } from "../runtime/page-token.js";
import type { AppointmentAccess } from "./appointment-access.js";
import type { validateGetAvailability, validateSetAvailability } from "./availability.validation.js";
import { checkDuration } from "./booking-rules.js";
import type { Database } from "./db/database.js";
import { kindName, toAvailability, toProvider, toResource, toSchedule } from "./mappers/scheduling.mapper.js";
import { providerBusy, resourceBusy } from "./repositories/appointment.repository.js";
import { findAvailability, findProvider, findResources, insertProvider, insertResource, listProviders, listResources, upsertAvailability } from "./repositories/provider.repository.js";
import { findScheduleLocations } from "./repositories/location.repository.js";
import { requireLocations } from "./locations.js";
import type { SchedulingOptions } from "./scheduling-options.js";
import type { validateCreateProvider, validateCreateResource, validateGetProvider, validateListAvailableSlots, validateListProviders, validateListResources } from "./scheduling.validation.js";
import { bookableRange, busyWindow } from "./slot-search.js";
import { listSlots } from "./slots.js";

/** PROVIDERS_PAGE is ListProviders' page token: the providers after (display name, id), bound to the location asked for. */
export const PROVIDERS_PAGE = definePageKind(SchedulingService.method.listProviders, { name: "text", id: "text" });
/** RESOURCES_PAGE is ListResources' page token: the resources after (display name, id), bound to the kind and location asked for. */
export const RESOURCES_PAGE = definePageKind(SchedulingService.method.listResources, { name: "text", id: "text" });
/** ProviderDirectory serves the provider, resource, availability and slot RPCs (see the file comment). */
export class ProviderDirectory {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly options: SchedulingOptions,
    private readonly access: AppointmentAccess,
    private readonly pageTokens: PageTokens,
  ) {}

  /** createProvider adds a provider; with a client-chosen id a retry returns the existing one. */
  async createProvider(v: ReturnType<typeof validateCreateProvider>): Promise<MessageInitShape<typeof CreateProviderResponseSchema>> {
    const providerId = v.providerId ?? `p-${randomUUID()}`;
    await requireLocations(this.db, [{ locationId: v.locationId, field: "locationId" }]);
    const inserted = await insertProvider(this.db, {
      provider_id: providerId,
      display_name: v.displayName,
      time_zone: v.timeZone,
      specialty: v.specialty,
      created_at: this.clock.now(),
      location_id: v.locationId,
    });
    if (inserted) return { provider: toProvider(inserted) };
    const existing = await findProvider(this.db, providerId);
    if (!existing) throw new AbortedError("PROVIDER_CONFLICT", "the provider was removed while being created; retry");
    if (existing.display_name !== v.displayName || existing.time_zone !== v.timeZone || existing.specialty !== v.specialty || existing.location_id !== v.locationId) {
      throw new AlreadyExistsError("PROVIDER_EXISTS", "a provider with this id already exists with different details", { metadata: { providerId } });
    }
    return { provider: toProvider(existing) };
  }

  /** getProvider reads one provider. */
  async getProvider(v: ReturnType<typeof validateGetProvider>): Promise<MessageInitShape<typeof GetProviderResponseSchema>> {
    return { provider: toProvider(await this.access.requireProvider(this.db, v.providerId)) };
  }

  /**
   * listProviders pages through providers by display name; `locationIds` are the locations asked for
   * (the request's, or a location-scoped caller's; all when undefined).
   */
  async listProviders(v: ReturnType<typeof validateListProviders>, locationIds: readonly string[] | undefined): Promise<MessageInitShape<typeof ListProvidersResponseSchema>> {
    // A token continues only the query it came from (one of the whole list: the whole list).
    const query = v.locationId === undefined ? null : [v.locationId];
    const rows = await listProviders(this.db, this.pageTokens.open(PROVIDERS_PAGE, v.pageToken, query), v.pageSize + 1, locationIds);
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      providers: page.map(toProvider),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(PROVIDERS_PAGE, { name: last.display_name, id: last.provider_id }, query) : "",
    };
  }

  /** createResource adds a room or device; with a client-chosen id a retry returns the existing one. */
  async createResource(v: ReturnType<typeof validateCreateResource>): Promise<MessageInitShape<typeof CreateResourceResponseSchema>> {
    const resourceId = v.resourceId ?? `r-${randomUUID()}`;
    const kind = kindName(v.kind);
    await requireLocations(this.db, [{ locationId: v.locationId, field: "locationId" }]);
    const inserted = await insertResource(this.db, {
      resource_id: resourceId,
      display_name: v.displayName,
      kind,
      created_at: this.clock.now(),
      location_id: v.locationId,
      capabilities: v.capabilities,
    });
    if (inserted) return { resource: toResource(inserted) };
    const [existing] = await findResources(this.db, [resourceId]);
    if (!existing) throw new AbortedError("RESOURCE_CONFLICT", "the resource was removed while being created; retry");
    const sameCapabilities = existing.capabilities.length === v.capabilities.length && existing.capabilities.every((c, i) => c === v.capabilities[i]);
    if (existing.display_name !== v.displayName || existing.kind !== kind || existing.location_id !== v.locationId || !sameCapabilities) {
      throw new AlreadyExistsError("RESOURCE_EXISTS", "a room or device with this id already exists with different details", { metadata: { resourceId } });
    }
    return { resource: toResource(existing) };
  }

  /** listResources pages through rooms and devices by display name; with `locationIds`, only those at one of them. */
  async listResources(v: ReturnType<typeof validateListResources>, locationIds?: readonly string[]): Promise<MessageInitShape<typeof ListResourcesResponseSchema>> {
    const kind = v.kind === undefined ? undefined : kindName(v.kind);
    // A token continues only the query it came from (a token of the kind alone: every location).
    const query = v.locationId === undefined ? [kind] : [kind, v.locationId];
    const rows = await listResources(this.db, { kind, locationIds }, this.pageTokens.open(RESOURCES_PAGE, v.pageToken, query), v.pageSize + 1);
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      resources: page.map(toResource),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(RESOURCES_PAGE, { name: last.display_name, id: last.resource_id }, query) : "",
    };
  }

  /** setAvailability replaces a provider's weekly pattern; existing appointments stay. */
  async setAvailability(v: ReturnType<typeof validateSetAvailability>): Promise<MessageInitShape<typeof SetAvailabilityResponseSchema>> {
    const provider = await this.access.requireProvider(this.db, v.providerId);
    // Every location an entry names must exist (the provider's own does).
    await requireLocations(this.db, v.namedLocations);
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
  async getAvailability(v: ReturnType<typeof validateGetAvailability>): Promise<MessageInitShape<typeof GetAvailabilityResponseSchema>> {
    const provider = await this.access.requireProvider(this.db, v.providerId);
    return { availability: toAvailability(provider, await findAvailability(this.db, v.providerId)) };
  }

  /** listAvailableSlots lists the bookable free slots of a provider (and rooms) in a range, as UTC instants: none before now or beyond the booking horizon. */
  async listAvailableSlots(v: ReturnType<typeof validateListAvailableSlots>): Promise<MessageInitShape<typeof ListAvailableSlotsResponseSchema>> {
    const provider = await this.access.requireProvider(this.db, v.providerId);
    await this.access.requireResources(v.resourceIds);
    const availability = await findAvailability(this.db, v.providerId);
    if (!availability) return { slots: [] };
    const schedule = toSchedule(provider, availability, await findScheduleLocations(this.db, v.providerId));
    const durationMs = checkDuration(schedule, v.durationMs);
    // Only bookable slots: none that has started, none beyond the booking horizon.
    const now = this.clock.now().getTime();
    const range = bookableRange({ start: v.start.getTime(), end: v.end.getTime() }, now, this.options.bookingHorizonMs);
    if (!range) return { slots: [] };
    // Busy time reaching into the range, buffers included.
    const around = busyWindow(range);
    const [pBusy, rBusy] = await Promise.all([providerBusy(this.db, v.providerId, around, new Date(now)), resourceBusy(this.db, v.resourceIds, around, new Date(now))]);
    const slots = listSlots(schedule, { range, durationMs, providerBusy: pBusy, resourceBusy: rBusy });
    return { slots: slots.map((s) => ({ startTime: timestampFromDate(new Date(s.start)), endTime: timestampFromDate(new Date(s.end)) })) };
  }
}
