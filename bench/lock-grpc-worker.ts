// Worker thread of the lock benchmark: gRPC clients (the runtime's grpc-js transport, as services
// call the LockService) running acquire+release pairs, so the load generator has its own event loop.
import { parentPort, workerData } from "node:worker_threads";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { LockService } from "../gen/medschedule/lock/v1/lock_service_pb.js";
import { createGrpcJsTransport } from "../services/runtime/clients/grpc-transport.js";
import { closedLoop } from "./closed-loop.js";

/** LockGrpcJob is what the worker is asked to run. */
export interface LockGrpcJob {
  address: string;
  token: string;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** resourcePrefix keeps runs apart. */
  resourcePrefix: string;
}

const job = workerData as LockGrpcJob;
const transport = createGrpcJsTransport({ addresses: [job.address], headers: { authorization: `Bearer ${job.token}` } });
const client = createClient(LockService, transport);
const ttl = durationFromMs(5_000);
const result = await closedLoop(job.concurrency, job.durationMs, job.warmupMs, async (i) => {
  const resource = `${job.resourcePrefix}:${i}`;
  const { lease } = await client.acquire({ resource, owner: "bench", ttl }, { timeoutMs: 5_000 });
  await client.release({ resource, leaseId: lease!.leaseId }, { timeoutMs: 5_000 });
});
transport.close();
parentPort!.postMessage(result);
