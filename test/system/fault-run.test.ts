// The system under faults, shortened (issue 9): the services as separate processes behind the
// gateway, a seeded clinic workload over gRPC, and each fault once (Redis killed and restarted
// empty; Redis slow then unreachable through a TCP proxy; a scheduling and a queue replica
// SIGTERMed and restarted; Postgres connections terminated; a lock holder paused past its TTL).
// The checker must find no violation: no double booking, nothing acknowledged lost, no ticket
// called twice, fencing tokens increasing, only expected codes, serving again within 10 s.
// The long run is `npm run soak`.
import t from "tap";
import { formatReport } from "./checker.js";
import { runFaultRun } from "./fault-run.js";

t.setTimeout(300_000);

t.test("a clinic day under faults: nothing lost, nothing double-booked, serving again within 10 s", async (t) => {
  const seed = Number(process.env.FAULT_RUN_SEED ?? 20261202);
  const progress = process.env.FAULT_RUN_VERBOSE ? (line: string) => t.comment(line) : undefined;
  // About 75 s of workload (the faults take about 60 s of it) after the cluster has started.
  const { report, windows, log, elapsedMs } = await runFaultRun({ host: t, seed, durationMs: 75_000, warmupMs: 5_000, gapMs: 3_000, tailMs: 8_000, progress });
  t.comment(formatReport(report));
  t.comment(`workload ran ${elapsedMs} ms`);
  // The run must have done what it claims, or the checks below prove nothing.
  t.equal(windows.length, 5, "every fault was injected");
  t.ok(report.stats.ackedBookings >= 50, `bookings were acknowledged (${report.stats.ackedBookings})`);
  t.ok(report.stats.ackedTickets >= 30, `tickets were issued (${report.stats.ackedTickets})`);
  t.ok(report.stats.calledTickets >= 20, `tickets were called (${report.stats.calledTickets})`);
  t.ok(log.records.some((r) => r.rpc === "SchedulingService/CancelAppointment" && r.code === "OK"), "cancellations happened");
  t.ok(log.records.some((r) => r.rpc === "SchedulingService/RescheduleAppointment" && r.code === "OK"), "reschedules happened");
  t.ok(log.records.some((r) => r.rpc === "QueueService/WatchQueue" && (r.messages ?? 0) > 1), "display boards received updates");
  t.ok(log.records.filter((r) => r.rpc === "LockService/Acquire" && r.actor.startsWith("locker-") && r.code === "OK").length >= 20, "lockers took the shared locks");
  t.ok(log.records.some((r) => r.code !== "OK" && r.actor !== "fault"), "the faults were felt by the clients");
  t.same(report.violations, [], "the checker found no violation");
});
