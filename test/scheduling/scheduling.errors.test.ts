// The scheduling service's error texts (issue 18, defect 12): one reason each, in the provider's
// local time and name, never a UTC instant, an internal id or an RPC name, with ErrorInfo metadata.
import { readdirSync, readFileSync } from "node:fs";
import t from "tap";
import { Code } from "@connectrpc/connect";
import type { AppointmentRow, AppointmentStatusName } from "../../services/scheduling/db/appointment.table.js";
import {
  alreadyOnWaitlistError,
  appointmentChangedError,
  illegalTransitionError,
  localMoment,
  patientChangeClosedError,
  peerUnreachableError,
  slotRefusedError,
  ticketEndedUnseenError,
  visitTookPlaceError,
  type AppointmentAction,
} from "../../services/scheduling/scheduling.errors.js";
import { explainSlotStart, type Schedule } from "../../services/scheduling/slots.js";

const MIN = 60_000;
const ada = { display_name: "Dr. Ada Lovelace", time_zone: "Europe/Istanbul" };
const UTC_INSTANT = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

t.test("localMoment reads an instant as the clinic does", async (t) => {
  t.same(localMoment(Date.UTC(2026, 11, 7, 16, 0), "Europe/Istanbul"), {
    localTime: "19:00",
    localDate: "2026-12-07",
    dateText: "Monday 7 December 2026",
    text: "19:00 on Monday 7 December 2026 (Europe/Istanbul)",
  });
  t.equal(localMoment(Date.UTC(2026, 11, 7, 16, 0, 30), "UTC").localTime, "16:00:30", "seconds when there are any");
  t.equal(localMoment(Date.UTC(2026, 11, 7, 21, 0), "Europe/Istanbul", "2026-12-07").localTime, "24:00", "the midnight ending a day, on that day");
  t.equal(localMoment(Date.UTC(2026, 11, 7, 21, 0), "Europe/Istanbul").localTime, "00:00");
});

t.test("a repeated local time (the clocks go back) says which occurrence is bookable", async (t) => {
  const ny = { display_name: "Dr. Grace Hopper", time_zone: "America/New_York" };
  const s: Schedule = { timeZone: ny.time_zone, weeklyHours: [{ dayOfWeek: 7 as never, startMinute: 0, endMinute: 240 }], breaks: [], exceptions: [], slotMs: 30 * MIN, bufferMs: 0 };
  const second = Date.UTC(2026, 10, 1, 6, 30);
  const verdict = explainSlotStart(s, second, 30 * MIN);
  if (verdict.kind === "SLOT") throw new Error("the second 01:30 is no slot");
  const err = slotRefusedError(ny, verdict, second, 30 * MIN, s.slotMs);
  t.equal(err.code, Code.FailedPrecondition);
  t.equal(err.reason, "REPEATED_LOCAL_TIME");
  t.equal(err.message, "01:30 happens twice on Sunday 1 November 2026 in America/New_York (the clocks go back); Dr. Grace Hopper's appointment at 01:30 is the first one, before the clocks go back");
  t.same(err.metadata, { providerName: "Dr. Grace Hopper", timeZone: "America/New_York", localTime: "01:30", localDate: "2026-11-01" });
});

t.test("working hours ending at midnight read 24:00", async (t) => {
  const s: Schedule = { timeZone: ada.time_zone, weeklyHours: [{ dayOfWeek: 1 as never, startMinute: 22 * 60, endMinute: 1440 }], breaks: [], exceptions: [], slotMs: 30 * MIN, bufferMs: 0 };
  const start = Date.UTC(2026, 11, 7, 20, 30); // 23:30 Istanbul
  const verdict = explainSlotStart(s, start, 60 * MIN);
  if (verdict.kind === "SLOT") throw new Error("runs past midnight");
  const err = slotRefusedError(ada, verdict, start, 60 * MIN, s.slotMs);
  t.equal(err.reason, "ENDS_AFTER_WORKING_HOURS");
  t.match(err.message, /would end at 00:30, after Dr\. Ada Lovelace's working hours end at 24:00/);
});

t.test("an illegal transition says what state the appointment is in and what cannot be done", async (t) => {
  const row = {
    appointment_id: "a-0c2f6f1e-internal",
    provider_id: "p-internal",
    start_at: new Date(Date.UTC(2026, 11, 7, 7, 30)),
    end_at: new Date(Date.UTC(2026, 11, 7, 8, 0)),
  } as AppointmentRow;
  const cases: [AppointmentStatusName, AppointmentAction, RegExp][] = [
    ["CANCELLED", "CHECK_IN", /was cancelled, so it cannot be checked in$/],
    ["NOSHOW", "CANCEL", /was marked as a no-show, so it cannot be cancelled$/],
    ["CHECKED_IN", "MARK_NO_SHOW", /is already checked in, so it cannot be marked as a no-show$/],
    ["BOOKED", "COMPLETE", /is booked and the patient has not checked in, so it cannot be completed$/],
    ["FULFILLED", "RESCHEDULE", /has already taken place, so it cannot be rescheduled$/],
    ["BOOKED", "ACCEPT_OFFER", /is already booked, so there is no offer to accept$/],
    ["CANCELLED", "ACCEPT_OFFER", /was cancelled, so there is no offer to accept$/],
  ];
  for (const [status, action, text] of cases) {
    const err = illegalTransitionError(ada, { ...row, status }, action, ["BOOKED"]);
    t.equal(err.reason, "ILLEGAL_TRANSITION");
    t.match(err.message, /^the appointment with Dr\. Ada Lovelace at 10:30 on Monday 7 December 2026 \(Europe\/Istanbul\) /);
    t.match(err.message, text, `${status} / ${action}`);
    t.notMatch(err.message, /internal|CheckInAppointment|MarkNoShow/, "no id or RPC name");
    t.notMatch(err.message, UTC_INSTANT);
    t.match(err.metadata, { status, action, allowedStatuses: "BOOKED", localTime: "10:30", localDate: "2026-12-07", timeZone: "Europe/Istanbul", providerName: "Dr. Ada Lovelace" });
  }
});

t.test("the rules about patients and tickets say what happened and what to do, in local time", async (t) => {
  const row = {
    appointment_id: "a-0c2f6f1e-internal",
    provider_id: "p-internal",
    patient_id: "pat-internal",
    start_at: new Date(Date.UTC(2026, 11, 7, 7, 30)),
    end_at: new Date(Date.UTC(2026, 11, 7, 8, 0)),
    status: "CHECKED_IN",
  } as AppointmentRow;
  const errors = [
    patientChangeClosedError(ada, row, "CANCEL", row.start_at.getTime()),
    patientChangeClosedError(ada, row, "RESCHEDULE", row.start_at.getTime() - 24 * 60 * MIN),
    alreadyOnWaitlistError(ada, { window_start: new Date(Date.UTC(2026, 11, 7, 6)), window_end: new Date(Date.UTC(2026, 11, 8, 9)) }),
    visitTookPlaceError(ada, row, "MARK_NO_SHOW", { number: "AL-003" }),
    ticketEndedUnseenError(ada, row, "NO_SHOW", { number: "AL-003" }),
    ticketEndedUnseenError(ada, row, "CANCELLED", { number: "AL-003" }),
    appointmentChangedError(ada, row, "COMPLETE"),
    peerUnreachableError("queue", "CANCEL"),
  ];
  t.same(
    errors.map((e) => [Code[e.code], e.reason]),
    [
      ["FailedPrecondition", "PATIENT_CHANGE_CLOSED"],
      ["FailedPrecondition", "PATIENT_CHANGE_CLOSED"],
      ["FailedPrecondition", "ALREADY_ON_WAITLIST"],
      ["FailedPrecondition", "VISIT_TOOK_PLACE"],
      ["FailedPrecondition", "TICKET_NO_SHOW"],
      ["FailedPrecondition", "TICKET_CANCELLED"],
      ["Aborted", "APPOINTMENT_CHANGED"],
      ["Unavailable", "QUEUE_UNAVAILABLE"],
    ],
  );
  for (const e of errors) {
    t.notMatch(e.message, /internal|Appointment\b|Ticket\b|RPC/, `no id or RPC name: ${e.message}`);
    t.notMatch(e.message, UTC_INSTANT);
  }
  t.equal(errors[0].message, "the appointment with Dr. Ada Lovelace at 10:30 on Monday 7 December 2026 (Europe/Istanbul) has already started, so it can no longer be cancelled online; please contact the clinic");
  t.equal(
    errors[1].message,
    "the appointment with Dr. Ada Lovelace at 10:30 on Monday 7 December 2026 (Europe/Istanbul) could be rescheduled online only until 10:30 on Sunday 6 December 2026 (Europe/Istanbul), so it can no longer be rescheduled online; please contact the clinic",
    "a cutoff before the start (a visit type's, later) names it",
  );
  t.match(errors[1].metadata, { localTime: "10:30", localDate: "2026-12-06", appointmentLocalDate: "2026-12-07", action: "RESCHEDULE" });
  t.equal(errors[2].message, "the patient is already on Dr. Ada Lovelace's waitlist from 09:00 on Monday 7 December 2026 (Europe/Istanbul) until 12:00 on Tuesday 8 December 2026; a second entry for the same time is not needed");
  t.match(errors[6].message, /changed while it was being completed .*nothing was changed, look at it again and retry$/);
  t.match(errors[7].message, /so the appointment was not cancelled; nothing changed, retry shortly$/);
});

t.test("the README lists every reason the scheduling service gives", async (t) => {
  const root = new URL("../../../", import.meta.url);
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const start = readme.indexOf("## Error reasons");
  const section = readme.slice(start, readme.indexOf("**Queue**", start));
  const reasons = new Set<string>();
  // Every *.errors.ts of the service, and the files that build errors inline.
  const files = [...readdirSync(new URL("services/scheduling/", root)).filter((f) => f.endsWith(".errors.ts")), "scheduling-service.ts", "appointment-tickets.ts", "visit-types.ts", "../runtime/clients/patient-check.errors.ts"];
  for (const file of files) {
    const src = readFileSync(new URL(`services/scheduling/${file}`, root), "utf8");
    for (const m of src.matchAll(/new (?:FailedPrecondition|Aborted|Unavailable|AlreadyExists)Error\(\s*"([A-Z_]+)"/g)) reasons.add(m[1]);
    for (const m of src.matchAll(/\b(?:PermissionDeniedError|NotFoundError)\([^)]*"([A-Z][A-Z_]+)"[,)]/g)) reasons.add(m[1]);
    for (const m of src.matchAll(/"(TICKET_NO_SHOW|TICKET_CANCELLED|[A-Z]+_UNAVAILABLE)"/g)) reasons.add(m[1]);
  }
  t.ok(reasons.size > 20, `found ${reasons.size} reasons`);
  for (const reason of reasons) t.match(section, new RegExp(`\`${reason}\``), reason);
});
