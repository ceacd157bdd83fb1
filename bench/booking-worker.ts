// Worker thread of the booking benchmark: the clients booking over gRPC (the runtime's grpc-js
// transport, as the gateway calls the scheduling service), on their own event loop so that the
// server's loop serves bookings and nothing else.
import { parentPort, workerData } from "node:worker_threads";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { SchedulingService } from "../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createGrpcJsTransport } from "../services/runtime/clients/grpc-transport.js";
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

const SLOT_MS = 15 * 60_000;
const job = workerData as BookingJob;
const transport = createGrpcJsTransport({ addresses: [job.address], headers: { authorization: `Bearer ${job.token}` } });
const client = createClient(SchedulingService, transport);
let seq = 0;
// The parent reads the process's CPU time over the measured window; a slot booked first (FAILED_PRECONDITION)
// or contention (ABORTED) is an answer, counted apart from the bookings.
const result = await closedLoop(
  job.clients,
  job.durationMs,
  job.warmupMs,
  async () => {
    const p = 1 + Math.floor(Math.random() * job.providers);
    const s = Math.floor(Math.random() * job.slots);
    try {
      await client.bookAppointment({
        requestId: `${job.requestIdPrefix}-${seq++}`,
        providerId: `bp-${p}`,
        patientId: "bench-patient",
        startTime: timestampFromDate(new Date(job.base + s * SLOT_MS)),
      });
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (code === Code.FailedPrecondition) return "taken";
      if (code === Code.Aborted) return "aborted";
      throw err;
    }
  },
  (window) => parentPort!.postMessage({ window }),
);
transport.close();
parentPort!.postMessage(result satisfies LoopResult);
