import type { DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  LockService,
  type AcquireRequest,
  type AcquireResponseSchema,
  type AdvanceEpochRequest,
  type AdvanceEpochResponseSchema,
  type ExtendRequest,
  type ExtendResponseSchema,
  type ForceReleaseRequest,
  type ForceReleaseResponseSchema,
  type ListLocksRequest,
  type ListLocksResponseSchema,
  type ReleaseRequest,
  type ReleaseResponseSchema,
} from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { UnimplementedError } from "../runtime/errors.js";
import {
  validateAcquire,
  validateAdvanceEpoch,
  validateExtend,
  validateForceRelease,
  validateListLocks,
  validateRelease,
} from "./lock.validation.js";

/** LockServiceDeps are the LockServiceImpl's dependencies; db, redis and logger come with the behaviour. */
export interface LockServiceDeps {
  /** clock tells the time (lease expiry, stuck detection); the system clock by default. */
  clock?: Clock;
}

/** unimplemented is the error for an RPC whose behaviour a later issue fills in. */
function unimplemented(method: DescMethod): UnimplementedError {
  return new UnimplementedError(`${method.parent.typeName}/${method.name}`);
}

/**
 * LockServiceImpl serves medschedule.lock.v1.LockService. For now every RPC validates its request
 * completely (INVALID_ARGUMENT naming every bad field) and then reports UNIMPLEMENTED.
 */
export class LockServiceImpl implements ServiceImpl<typeof LockService> {
  /** clock tells the time. */
  protected readonly clock: Clock;

  constructor(deps: LockServiceDeps = {}) {
    this.clock = deps.clock ?? systemClock;
  }

  /** acquire takes the lease on a resource, waiting up to waitTimeout. */
  async acquire(req: AcquireRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof AcquireResponseSchema>> {
    validateAcquire(req);
    throw unimplemented(LockService.method.acquire);
  }

  /** release gives back the caller's own lease. */
  async release(req: ReleaseRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ReleaseResponseSchema>> {
    validateRelease(req);
    throw unimplemented(LockService.method.release);
  }

  /** extend moves a held lease's expiry to now + ttl. */
  async extend(req: ExtendRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ExtendResponseSchema>> {
    validateExtend(req);
    throw unimplemented(LockService.method.extend);
  }

  /** listLocks lists the leases held now, oldest first. */
  async listLocks(req: ListLocksRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListLocksResponseSchema>> {
    validateListLocks(req);
    throw unimplemented(LockService.method.listLocks);
  }

  /** forceRelease drops whatever lease is held on a resource (admin only, audited). */
  async forceRelease(
    req: ForceReleaseRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ForceReleaseResponseSchema>> {
    validateForceRelease(req);
    throw unimplemented(LockService.method.forceRelease);
  }

  /** advanceEpoch moves the fencing epoch past every token issued before (service only). */
  async advanceEpoch(
    req: AdvanceEpochRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof AdvanceEpochResponseSchema>> {
    validateAdvanceEpoch(req);
    throw unimplemented(LockService.method.advanceEpoch);
  }
}
