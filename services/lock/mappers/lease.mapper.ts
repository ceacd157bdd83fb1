import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LockBackend as LockBackendEnum, type LeaseSchema } from "../../../gen/medschedule/lock/v1/lock_pb.js";
import type { LeaseRecord } from "../lock-backend.port.js";

const BACKEND_ENUM = { redis: LockBackendEnum.REDIS, postgres: LockBackendEnum.POSTGRES } as const;

/** toLease maps a lease record to the Lease message. */
export function toLease(l: LeaseRecord): MessageInitShape<typeof LeaseSchema> {
  return {
    resource: l.resource,
    leaseId: l.leaseId,
    owner: l.owner,
    fencingToken: l.fencingToken,
    expiresAt: timestampFromDate(l.expiresAt),
    acquiredAt: timestampFromDate(l.acquiredAt),
    backend: BACKEND_ENUM[l.backend],
  };
}
