// The checker of a fault run: from the database and the request log it verifies that nothing was
// double-booked, lost or called twice, that fencing tokens only went up, that every failed request
// got a code the contract allows (fault codes only while a fault was on), and that the system
// served again within 10 s of each fault's end.
import pg from "pg";
import type { RequestLog, RequestRecord } from "./workload.js";

/** FaultWindow is one injected fault, as the runner saw it. */
export interface FaultWindow {
  /** name of the fault ("redis-kill", ...). */
  name: string;
  /** start and end are epoch ms: from the first injection to the moment the fault was lifted. */
  start: number;
  end: number;
  /** recoveryMs is how long after `end` every recovery probe got an answer (undefined: never). */
  recoveryMs?: number;
  /** notes say what happened (exit codes, tokens, ...). */
  notes: string[];
  /** violations the fault itself detected (e.g. a SIGTERMed replica that did not exit 0). */
  violations: string[];
}

/** RECOVERY_BOUND_MS is how soon after a fault ends the system must serve again. */
export const RECOVERY_BOUND_MS = 10_000;

/** NEVER are codes no request may get, fault or not: a bug, or a contract broken by the client. */
export const NEVER: ReadonlySet<string> = new Set(["INTERNAL", "UNKNOWN", "DATA_LOSS", "UNIMPLEMENTED", "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "ALREADY_EXISTS", "OUT_OF_RANGE", "RESOURCE_EXHAUSTED"]);

/** DURING_FAULT are the codes allowed while a fault is on (and for RECOVERY_BOUND_MS after it), besides each RPC's business codes. */
export const DURING_FAULT: ReadonlySet<string> = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "FAILED_PRECONDITION", "CANCELLED", "OK"]);

/** BUSINESS lists the codes each RPC may answer at any time (besides OK): conflicts and contention. */
export const BUSINESS: Readonly<Record<string, readonly string[]>> = {
  "SchedulingService/BookAppointment": ["FAILED_PRECONDITION", "ABORTED"],
  "SchedulingService/RescheduleAppointment": ["FAILED_PRECONDITION", "ABORTED"],
  // A retried cancel whose first attempt committed finds the appointment cancelled already.
  "SchedulingService/CancelAppointment": ["FAILED_PRECONDITION", "ABORTED"],
  "QueueService/IssueTicket": ["ABORTED"],
  "QueueService/CallNext": ["ABORTED"],
  // A retried complete whose first attempt committed finds the ticket completed already.
  "QueueService/CompleteTicket": ["FAILED_PRECONDITION", "ABORTED"],
  // A lock held past the caller's waitTimeout.
  "LockService/Acquire": ["ABORTED"],
  // Streams end only when the client stops them.
  "QueueService/WatchQueue": ["CANCELLED_BY_CLIENT"],
};

/** CheckReport is the checker's verdict. */
export interface CheckReport {
  /** violations; empty means the run passed. */
  violations: string[];
  /** stats are counts for the report. */
  stats: {
    requests: number;
    byRpc: Record<string, Record<string, number>>;
    ackedBookings: number;
    ackedTickets: number;
    calledTickets: number;
    fencedWrites: number;
    activeAppointments: number;
    faults: { name: string; durationMs: number; recoveryMs?: number; notes: string[] }[];
  };
}

const ACTIVE = ["PROPOSED", "BOOKED", "CHECKED_IN"];

function inWindow(r: RequestRecord, windows: readonly FaultWindow[]): boolean {
  return windows.some((w) => r.start <= w.end + RECOVERY_BOUND_MS && r.end >= w.start);
}

/** checkRun verifies a run; `databaseUrl` is the database the services used. */
export async function checkRun(databaseUrl: string, log: RequestLog, windows: readonly FaultWindow[]): Promise<CheckReport> {
  const v: string[] = [];
  const cap = (what: string, items: string[], max = 10) => {
    if (items.length === 0) return;
    v.push(`${what} (${items.length}): ${items.slice(0, max).join("; ")}${items.length > max ? " …" : ""}`);
  };
  const records = log.records;
  const ok = (rpc: string) => records.filter((r) => r.rpc === rpc && r.code === "OK");

  // 1. Codes: never a bug code; fault codes only around a fault.
  const byRpc: Record<string, Record<string, number>> = {};
  const badCodes: string[] = [];
  for (const r of records) {
    (byRpc[r.rpc] ??= {})[r.code] = (byRpc[r.rpc][r.code] ?? 0) + 1;
    if (r.actor === "fault" || r.code === "OK") continue;
    const business = BUSINESS[r.rpc] ?? [];
    const allowed = !NEVER.has(r.code) && (business.includes(r.code) || (inWindow(r, windows) && DURING_FAULT.has(r.code)));
    if (!allowed) badCodes.push(`${r.rpc} by ${r.actor} at ${new Date(r.start).toISOString().slice(11, 23)} → ${r.code} "${r.message}"${inWindow(r, windows) ? " (during a fault)" : " (no fault on)"}`);
  }
  cap("requests answered with an unexpected code", badCodes);

  // 2. Idempotency: one requestId, one result.
  const firstResult = new Map<string, string>();
  const replays: string[] = [];
  for (const r of records) {
    if (r.code !== "OK" || !r.requestId) continue;
    const result = r.appointmentId ?? r.ticketId ?? "";
    const key = `${r.actor}|${r.rpc}|${r.requestId}`;
    const seen = firstResult.get(key);
    if (seen === undefined) firstResult.set(key, result);
    else if (seen !== result) replays.push(`${key}: ${seen} then ${result}`);
  }
  cap("a retried requestId returned a different result", replays);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // 3. No overlapping active appointments (provider, buffer included) nor room bookings.
    const overlaps = await client.query(
      `select a.appointment_id as a, b.appointment_id as b, a.provider_id as p from scheduling.appointments a
         join scheduling.appointments b on a.provider_id = b.provider_id and a.appointment_id < b.appointment_id and a.blocked && b.blocked
        where a.status = any($1) and b.status = any($1)`,
      [ACTIVE],
    );
    cap("overlapping active appointments", overlaps.rows.map((o) => `${o.a} and ${o.b} of ${o.p}`));
    const roomOverlaps = await client.query(
      `select a.appointment_id as a, b.appointment_id as b from scheduling.appointment_resources a
         join scheduling.appointment_resources b on a.resource_id = b.resource_id and a.appointment_id < b.appointment_id and a.during && b.during
        where a.active and b.active`,
    );
    cap("overlapping room bookings", roomOverlaps.rows.map((o) => `${o.a} and ${o.b}`));
    const active = await client.query(`select count(*)::int as n from scheduling.appointments where status = any($1)`, [ACTIVE]);

    // 4. Every acknowledged booking is there, as acknowledged; untouched ones still active, acknowledged cancels cancelled.
    const acked = [...ok("SchedulingService/BookAppointment"), ...ok("SchedulingService/RescheduleAppointment")].filter((r) => r.appointmentId);
    const rows = await client.query(`select appointment_id, provider_id, patient_id, lower(during) as start, status from scheduling.appointments where appointment_id = any($1)`, [acked.map((r) => r.appointmentId)]);
    const byId = new Map(rows.rows.map((r) => [r.appointment_id as string, r]));
    const touched = new Set(records.filter((r) => r.previousAppointmentId).map((r) => r.previousAppointmentId!));
    const cancelledOk = new Set([...ok("SchedulingService/CancelAppointment"), ...ok("SchedulingService/RescheduleAppointment")].map((r) => r.previousAppointmentId!));
    const lost: string[] = [];
    const wrong: string[] = [];
    for (const r of acked) {
      const row = byId.get(r.appointmentId!);
      if (!row) {
        lost.push(`${r.appointmentId} (${r.rpc} ${r.requestId})`);
        continue;
      }
      if (row.provider_id !== r.providerId || row.patient_id !== r.patientId || (row.start as Date).getTime() !== r.slotStart) wrong.push(`${r.appointmentId}: stored differs from acknowledged`);
      if (!touched.has(r.appointmentId!) && row.status !== "BOOKED") wrong.push(`${r.appointmentId}: ${row.status}, but nobody cancelled or moved it`);
      if (cancelledOk.has(r.appointmentId!) && row.status !== "CANCELLED") wrong.push(`${r.appointmentId}: ${row.status} after an acknowledged cancel/reschedule`);
    }
    cap("acknowledged bookings missing", lost);
    cap("acknowledged bookings in the wrong state", wrong);

    // 5. Every acknowledged ticket is there, with its number.
    const tickets = ok("QueueService/IssueTicket").filter((r) => r.ticketId);
    const trows = await client.query(`select ticket_id, queue_id, number, status from queue.tickets where ticket_id = any($1)`, [tickets.map((r) => r.ticketId)]);
    const tById = new Map(trows.rows.map((r) => [r.ticket_id as string, r]));
    cap(
      "acknowledged tickets missing or changed",
      tickets.filter((r) => tById.get(r.ticketId!)?.queue_id !== r.queueId || tById.get(r.ticketId!)?.number !== r.number).map((r) => `${r.ticketId} ${r.number} (${r.requestId})`),
    );
    const completed = ok("QueueService/CompleteTicket").filter((r) => r.ticketId);
    const crows = await client.query(`select ticket_id, status from queue.tickets where ticket_id = any($1)`, [completed.map((r) => r.ticketId)]);
    cap("acknowledged completions not COMPLETED", crows.rows.filter((r) => r.status !== "COMPLETED").map((r) => `${r.ticket_id}: ${r.status}`));

    // 6. No ticket called twice: one counter per ticket in the answers, one CallNext in the audit trail.
    const calledBy = new Map<string, Set<string>>();
    for (const r of ok("QueueService/CallNext")) {
      if (!r.ticketId) continue;
      const s = calledBy.get(r.ticketId) ?? new Set<string>();
      s.add(`${r.queueId}/${r.counterId}`);
      calledBy.set(r.ticketId, s);
    }
    cap("tickets handed to two counters", [...calledBy].filter(([, s]) => s.size > 1).map(([id, s]) => `${id}: ${[...s].join(", ")}`));
    const twice = await client.query(`select record_id, count(*)::int as n from queue.audit_log where action = 'CallNext' group by record_id having count(*) > 1`);
    cap("tickets called twice (audit log)", twice.rows.map((r) => `${r.record_id} ×${r.n}`));
    const dupCalled = await client.query(`select queue_id, counter_id, count(*)::int as n from queue.tickets where status = 'CALLED' group by 1, 2 having count(*) > 1`);
    cap("counters holding two called tickets", dupCalled.rows.map((r) => `${r.queue_id}/${r.counter_id} ×${r.n}`));

    // 7. Fencing tokens: per provider (and per lock the workload's lockers share), a write or lease
    // acknowledged before another started has a smaller token; the database's last token is at least
    // every token written.
    const fenced = records.filter((r) => r.code === "OK" && r.fencingToken !== undefined && r.providerId && r.rpc.startsWith("SchedulingService/") && r.rpc !== "SchedulingService/CreateProvider");
    const leases = records.filter((r) => r.rpc === "LockService/Acquire" && r.code === "OK" && r.actor.startsWith("locker-") && r.fencingToken !== undefined);
    const byProvider = new Map<string, RequestRecord[]>();
    const group = (key: string, r: RequestRecord) => {
      const list = byProvider.get(key);
      if (list) list.push(r);
      else byProvider.set(key, [r]);
    };
    for (const r of fenced) group(r.providerId!, r);
    for (const r of leases) group(`lock ${r.resource}`, r);
    const nonMonotonic: string[] = [];
    const zero: string[] = [];
    for (const [providerId, rs] of byProvider) {
      for (const r of rs) if (BigInt(r.fencingToken!) === 0n) zero.push(`${r.rpc} ${r.appointmentId}`);
      const byEnd = [...rs].sort((a, b) => a.end - b.end);
      const byStart = [...rs].sort((a, b) => a.start - b.start);
      let i = 0;
      let max = -1n;
      let maxRec: RequestRecord | undefined;
      for (const b of byStart) {
        while (i < byEnd.length && byEnd[i].end < b.start) {
          const t = BigInt(byEnd[i].fencingToken!);
          if (t > max) {
            max = t;
            maxRec = byEnd[i];
          }
          i++;
        }
        if (BigInt(b.fencingToken!) <= max) nonMonotonic.push(`${providerId}: ${b.rpc} ${b.appointmentId ?? b.leaseId} got token ${b.fencingToken} after ${maxRec?.rpc} ${maxRec?.appointmentId ?? maxRec?.leaseId} had ${max}`);
      }
    }
    cap("fencing tokens not increasing", nonMonotonic);
    cap("writes without a fencing token", zero);
    const fenceRows = await client.query(
      `select f.resource, f.last_token::text as last, max(a.fencing_token)::text as max from scheduling.fence_tokens f
         join scheduling.appointments a on f.resource = 'scheduling:provider:' || a.provider_id group by 1, 2`,
    );
    cap("fence table behind the appointments' tokens", fenceRows.rows.filter((r) => BigInt(r.last) < BigInt(r.max)).map((r) => `${r.resource}: ${r.last} < ${r.max}`));

    // 8. Recovery within RECOVERY_BOUND_MS of each fault's end, and what the faults themselves saw.
    for (const w of windows) {
      if (w.recoveryMs === undefined) v.push(`${w.name}: the system did not serve again after the fault`);
      else if (w.recoveryMs > RECOVERY_BOUND_MS) v.push(`${w.name}: serving again only ${w.recoveryMs} ms after the fault ended (bound ${RECOVERY_BOUND_MS} ms)`);
      for (const x of w.violations) v.push(`${w.name}: ${x}`);
    }
    cap("client-side anomalies", log.anomalies);

    return {
      violations: v,
      stats: {
        requests: records.length,
        byRpc,
        ackedBookings: acked.length,
        ackedTickets: tickets.length,
        calledTickets: calledBy.size,
        fencedWrites: fenced.length,
        activeAppointments: active.rows[0].n as number,
        faults: windows.map((w) => ({ name: w.name, durationMs: w.end - w.start, recoveryMs: w.recoveryMs, notes: w.notes })),
      },
    };
  } finally {
    await client.end();
  }
}

/** formatReport renders a report for people. */
export function formatReport(r: CheckReport): string {
  const lines = [`requests: ${r.stats.requests}; acknowledged bookings ${r.stats.ackedBookings}, tickets ${r.stats.ackedTickets}, called ${r.stats.calledTickets}; fenced writes ${r.stats.fencedWrites}; active appointments ${r.stats.activeAppointments}`];
  lines.push("by RPC and code:");
  for (const [rpc, codes] of Object.entries(r.stats.byRpc).sort()) lines.push(`  ${rpc.padEnd(42)} ${Object.entries(codes).map(([c, n]) => `${c}=${n}`).join(" ")}`);
  lines.push("faults:");
  for (const f of r.stats.faults) lines.push(`  ${f.name.padEnd(24)} lasted ${f.durationMs} ms, serving again after ${f.recoveryMs ?? "never"} ms${f.notes.length ? `; ${f.notes.join("; ")}` : ""}`);
  lines.push(r.violations.length === 0 ? "verdict: PASS (no violations)" : `verdict: FAIL, ${r.violations.length} violation(s):`);
  for (const x of r.violations) lines.push(`  - ${x}`);
  return lines.join("\n");
}
