import { RequestKeys } from "../../runtime/idempotency.js";

/** REQUEST_KEYS is scheduling.request_keys: requestId replay (runtime/idempotency.ts). */
export const REQUEST_KEYS = new RequestKeys("scheduling.request_keys");
