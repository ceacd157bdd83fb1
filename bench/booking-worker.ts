// Worker thread of the booking benchmark: the clients booking over gRPC (the runtime's grpc-js
// transport, as the gateway calls the scheduling service), on their own event loop so that the
// server's loop serves bookings and nothing else.
import { parentPort, workerData } from "node:worker_threads";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { SchedulingService } from "../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createGrpcJsTransport } from "../services/runtime/grpc-transport.js";
import { closedLoop, type LoopResult } from "./closed-loop.js";

/** BookingJob is what the worker is asked to run. */
export interface BookingJob {
  address: string;
  token: string;
  clients: number;
  durationMs: number;
  warmupMs: number;
  providers: number;
  /** base and slots: bookings go to one of `slots` 15-minute slots from `base` (epoch ms). */
  base: number;
  slots: number;
  /** requestIdPrefix keeps runs apart. */
  requestIdPrefix: string;
}

/** BookingResult is the closed loop's figures plus the answers that were not bookings. */
export interface BookingResult extends LoopResult {
  /** taken: FAILED_PRECONDITION (the slot was booked first); aborted: ABORTED (contention). */
  taken: number;
  aborted: number;
}

const SLOT_MS = 15 * 60_000;
const job = workerData as BookingJob;
const transport = createGrpcJsTransport({ addresses: [job.address], headers: { authorization: `Bearer ${job.token}` } });
const client = createClient(SchedulingService, transport);
// The parent reads the process's CPU time when the measured window opens and closes.
setTimeout(() => parentPort!.postMessage({ window: "open" }), job.warmupMs).unref();
setTimeout(() => parentPort!.postMessage({ window: "closed" }), job.warmupMs + job.durationMs).unref();
let seq = 0;
let taken = 0;
let aborted = 0;
// The same window closedLoop counts in: started after the warm-up, answered before the end.
const measureFrom = performance.now() + job.warmupMs;
const end = measureFrom + job.durationMs;
const loop = await closedLoop(job.clients, job.durationMs, job.warmupMs, async () => {
  const p = 1 + Math.floor(Math.random() * job.providers);
  const s = Math.floor(Math.random() * job.slots);
  const t0 = performance.now();
  try {
    await client.bookAppointment({
      requestId: `${job.requestIdPrefix}-${seq++}`,
      providerId: `bp-${p}`,
      patientId: "bench-patient",
      startTime: timestampFromDate(new Date(job.base + s * SLOT_MS)),
    });
  } catch (err) {
    const code = ConnectError.from(err).code;
    const counted = t0 >= measureFrom && performance.now() <= end;
    if (code === Code.FailedPrecondition) taken += counted ? 1 : 0;
    else if (code === Code.Aborted) aborted += counted ? 1 : 0;
    else throw err;
  }
});
transport.close();
parentPort!.postMessage({ ...loop, taken, aborted } satisfies BookingResult);
