import type { DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  SchedulingService,
  type AcceptOfferRequest,
  type AcceptOfferResponseSchema,
  type BookAppointmentRequest,
  type BookAppointmentResponseSchema,
  type CancelAppointmentRequest,
  type CancelAppointmentResponseSchema,
  type CheckInAppointmentRequest,
  type CheckInAppointmentResponseSchema,
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
  type JoinWaitlistResponseSchema,
  type ListAppointmentsRequest,
  type ListAppointmentsResponseSchema,
  type ListAvailableSlotsRequest,
  type ListAvailableSlotsResponseSchema,
  type ListProvidersRequest,
  type ListProvidersResponseSchema,
  type ListResourcesRequest,
  type ListResourcesResponseSchema,
  type MarkNoShowRequest,
  type MarkNoShowResponseSchema,
  type RescheduleAppointmentRequest,
  type RescheduleAppointmentResponseSchema,
  type SetAvailabilityRequest,
  type SetAvailabilityResponseSchema,
  type WatchAppointmentsRequest,
  type WatchAppointmentsResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { UnimplementedError } from "../runtime/errors.js";
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
  validateRescheduleAppointment,
  validateSetAvailability,
  validateWatchAppointments,
} from "./scheduling.validation.js";

/** SchedulingServiceDeps are what the SchedulingService needs; tests pass fakes. */
export interface SchedulingServiceDeps {
  /** clock tells the time (default: the system clock). */
  clock?: Clock;
}

const method = SchedulingService.method;

/** unimplemented names the RPC that a later issue fills in, as "package.Service/Method". */
function unimplemented(m: DescMethod): UnimplementedError {
  return new UnimplementedError(`${m.parent.typeName}/${m.name}`);
}

/**
 * SchedulingServiceImpl serves medschedule.scheduling.v1.SchedulingService. For now every RPC
 * validates its request completely (INVALID_ARGUMENT with all field violations) and then answers
 * UNIMPLEMENTED; the behaviour comes with the providers, availability and appointments issues.
 */
export class SchedulingServiceImpl implements ServiceImpl<typeof SchedulingService> {
  private readonly clock: Clock;

  constructor(deps: SchedulingServiceDeps = {}) {
    this.clock = deps.clock ?? systemClock;
  }

  /** createProvider adds a provider. */
  async createProvider(
    req: CreateProviderRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CreateProviderResponseSchema>> {
    validateCreateProvider(req);
    throw unimplemented(method.createProvider);
  }

  /** getProvider reads one provider. */
  async getProvider(
    req: GetProviderRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof GetProviderResponseSchema>> {
    validateGetProvider(req);
    throw unimplemented(method.getProvider);
  }

  /** listProviders pages through providers. */
  async listProviders(
    req: ListProvidersRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListProvidersResponseSchema>> {
    validateListProviders(req);
    throw unimplemented(method.listProviders);
  }

  /** createResource adds a room or device. */
  async createResource(
    req: CreateResourceRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CreateResourceResponseSchema>> {
    validateCreateResource(req);
    throw unimplemented(method.createResource);
  }

  /** listResources pages through rooms and devices. */
  async listResources(
    req: ListResourcesRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListResourcesResponseSchema>> {
    validateListResources(req);
    throw unimplemented(method.listResources);
  }

  /** setAvailability replaces a provider's weekly pattern. */
  async setAvailability(
    req: SetAvailabilityRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof SetAvailabilityResponseSchema>> {
    validateSetAvailability(req);
    throw unimplemented(method.setAvailability);
  }

  /** getAvailability reads a provider's weekly pattern. */
  async getAvailability(
    req: GetAvailabilityRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof GetAvailabilityResponseSchema>> {
    validateGetAvailability(req);
    throw unimplemented(method.getAvailability);
  }

  /** listAvailableSlots lists free slots of a provider (and rooms) in a range. */
  async listAvailableSlots(
    req: ListAvailableSlotsRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListAvailableSlotsResponseSchema>> {
    validateListAvailableSlots(req);
    throw unimplemented(method.listAvailableSlots);
  }

  /** bookAppointment books a slot. */
  async bookAppointment(
    req: BookAppointmentRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof BookAppointmentResponseSchema>> {
    validateBookAppointment(req);
    throw unimplemented(method.bookAppointment);
  }

  /** cancelAppointment frees an appointment's time. */
  async cancelAppointment(
    req: CancelAppointmentRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CancelAppointmentResponseSchema>> {
    validateCancelAppointment(req);
    throw unimplemented(method.cancelAppointment);
  }

  /** rescheduleAppointment moves a booked appointment atomically. */
  async rescheduleAppointment(
    req: RescheduleAppointmentRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof RescheduleAppointmentResponseSchema>> {
    validateRescheduleAppointment(req);
    throw unimplemented(method.rescheduleAppointment);
  }

  /** getAppointment reads one appointment. */
  async getAppointment(
    req: GetAppointmentRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof GetAppointmentResponseSchema>> {
    validateGetAppointment(req);
    throw unimplemented(method.getAppointment);
  }

  /** listAppointments pages through a provider's or a patient's appointments. */
  async listAppointments(
    req: ListAppointmentsRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListAppointmentsResponseSchema>> {
    validateListAppointments(req);
    throw unimplemented(method.listAppointments);
  }

  /** checkInAppointment marks the patient arrived and issues a queue ticket. */
  async checkInAppointment(
    req: CheckInAppointmentRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CheckInAppointmentResponseSchema>> {
    validateCheckInAppointment(req);
    throw unimplemented(method.checkInAppointment);
  }

  /** markNoShow records that the patient did not come. */
  async markNoShow(
    req: MarkNoShowRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof MarkNoShowResponseSchema>> {
    validateMarkNoShow(req);
    throw unimplemented(method.markNoShow);
  }

  /** joinWaitlist puts a patient on a provider's waitlist. */
  async joinWaitlist(
    req: JoinWaitlistRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof JoinWaitlistResponseSchema>> {
    validateJoinWaitlist(req);
    throw unimplemented(method.joinWaitlist);
  }

  /** acceptOffer books a waitlist offer before it lapses. */
  async acceptOffer(
    req: AcceptOfferRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof AcceptOfferResponseSchema>> {
    validateAcceptOffer(req);
    throw unimplemented(method.acceptOffer);
  }

  /** watchAppointments streams a provider's day: a snapshot, then changes. */
  async *watchAppointments(
    req: WatchAppointmentsRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchAppointmentsResponseSchema>> {
    validateWatchAppointments(req);
    throw unimplemented(method.watchAppointments);
  }
}
