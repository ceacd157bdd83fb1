// The words of the web app's messages: errors (by google.rpc.ErrorInfo reason, by field-violation
// reason, by status code), the notices that report what an action did, and the questions of the
// confirmation dialogs. Screens never spell these sentences themselves: they pass a key and the
// values, so a translation is a second object of type MessageCatalog and nothing else changes.
//
// Why here and not on the server: the server's message is written for whoever reads a log; the
// reason and its metadata (times already in the clinic's local time) let this catalog say it in
// the words, and later the language, of the person at the desk. A reason this catalog does not know
// falls back to the server's own message, so a server can add reasons before the app learns them.
// Static labels (buttons, headings) stay in the JSX until the Turkish issue brings a real i18n layer.
import { differsHere, fmtLongDate, localDate, zoneLabel } from "./time-format.js";

/** MessageArgs are the values a message is built from: ErrorInfo.metadata plus what the screen knows. */
export type MessageArgs = Readonly<Record<string, string | undefined>>;

/** ReasonText is how one error reason is said: what happened, and (when it helps) what to do. */
export interface ReasonText {
  /** title says what happened, in the clinic's words. */
  title: string;
  /** action says what to do about it. */
  action?: string;
}

/** Subject names the user action an error message is about ("Check-in is not possible now"). */
export type Subject =
  | "request"
  | "loadQueues"
  | "loadQueue"
  | "loadProviders"
  | "loadSlots"
  | "loadAppointments"
  | "loadToday"
  | "loadLocks"
  | "loadBackups"
  | "liveQueue"
  | "createQueue"
  | "counter"
  | "walkIn"
  | "checkIn"
  | "appointmentNoShow"
  | "cancelTicket"
  | "book"
  | "hold"
  | "cancelAppointment"
  | "reschedule"
  | "forceRelease"
  | "restore"
  | "loadOwnProvider"
  | "startBackup"
  | "verifyBackup";

/** CodeText is the generic wording of one status code, used when no reason is known. */
export type CodeText = (subject: string) => { title: string; action: string };

/** MessageCatalog is every sentence the app builds; a translation implements it again. */
export interface MessageCatalog {
  /** subjects name the actions, as the first words of a sentence. */
  subjects: Record<Subject, string>;
  /** reasons word domain errors by their ErrorInfo reason. */
  reasons: Record<string, (a: MessageArgs) => ReasonText>;
  /** fieldReasons word field violations by their reason, shown next to the input. */
  fieldReasons: Record<string, (a: MessageArgs) => string>;
  /** fields name request fields for the error summary, when the screen has no input for them. */
  fields: Record<string, string>;
  /** codes are the generic messages per status code name ("FailedPrecondition", ...). */
  codes: Record<string, CodeText> & { default: CodeText; offline: CodeText };
  /** unknownReason is the action line of a FAILED_PRECONDITION whose reason this catalog does not know. */
  unknownReason: (serverMessage: string) => string;
  /** technical labels the collapsed server detail of an error. */
  technical: string;
  /** appointmentStatus names AppointmentStatus values (by enum name). */
  appointmentStatus: Record<string, string>;
  /** ticketStatus names TicketStatus values (by enum name). */
  ticketStatus: Record<string, string>;
  /** notices report what an action did. */
  notices: {
    counterOpen(a: { counterId: string }): string;
    counterClosed(a: { counterId: string }): string;
    calling(a: { number: string; counterId: string }): string;
    nobodyWaiting: string;
    recalled(a: { number: string }): string;
    skipped(a: { number: string; position?: number }): string;
    skippedToNoShow(a: { number: string }): string;
    noShow(a: { number: string; counterId: string }): string;
    completed(a: { number: string; counterId: string }): string;
    ticketCancelled(a: { number: string }): string;
    ticketIssued(a: { number: string; position?: number }): string;
    checkedIn(a: { number: string; queue: string }): string;
    checkedInToYours(a: { number: string }): string;
    appointmentNoShow(a: { time: string }): string;
    booked(a: { time: string; provider: string }): string;
    moved(a: { time: string }): string;
    appointmentCancelled(a: { time: string }): string;
    lockReleased(a: { resource: string; released: boolean }): string;
    restored(a: { when: string; id: string }): string;
    backupStarted(a: { target: string; id: string }): string;
    backupVerified(a: { when: string; id: string; ok: boolean; details: string }): string;
  };
  /** confirm are the confirmation dialogs of destructive actions. */
  confirm: {
    keep: string;
    reasonLabel: string;
    reasonRequiredLabel: string;
    typeToConfirm(a: { word: string }): string;
    cancelAppointment(a: { time: string; provider: string }): { title: string; body: string; confirm: string };
    reschedule(a: { from: string; to: string; provider: string }): { title: string; body: string; confirm: string };
    appointmentNoShow(a: { time: string; provider: string }): { title: string; body: string; confirm: string };
    ticketNoShow(a: { number: string }): { title: string; body: string; confirm: string };
    cancelTicket(a: { number: string }): { title: string; body: string; confirm: string };
    closeCounter(a: { counterId: string }): { title: string; body: string; confirm: string };
    forceRelease(a: { resource: string; owner: string }): { title: string; body: string; confirm: string };
    restore(a: { target: string; when: string; id: string; shortId: string; facts: string }): { title: string; body: string; confirm: string; word: string };
  };
}

/** isToday tells whether a local date "YYYY-MM-DD" is today in `timeZone` (the browser's when unset). */
function isToday(date: string, timeZone: string | undefined): boolean {
  return localDate(new Date(), timeZone) === date;
}

/** dateWords renders a local date "YYYY-MM-DD" as e.g. "Saturday 5 December". */
function dateWords(date: string): string {
  const d = new Date(`${date}T12:00:00Z`);
  return Number.isNaN(d.getTime()) ? date : fmtLongDate(d, "UTC");
}

/**
 * when renders a local time from the metadata, with its date unless that is today in the clinic's
 * zone: "10:30", "10:30 on Monday 7 December", or "" when the metadata has no time.
 */
function when(a: MessageArgs, time = a.localTime, date = a.localDate): string {
  if (!time) return date ? `on ${dateWords(date)}` : "";
  return date && !isToday(date, a.timeZone) ? `${time} on ${dateWords(date)}` : time;
}

/** minutesWords renders ErrorInfo minutes as "90 minutes", "2 hours" or "1 day". */
function minutesWords(m: string | undefined): string {
  const n = Number(m);
  if (!m || !Number.isFinite(n)) return "some time";
  if (n % 1440 === 0) return n === 1440 ? "1 day" : `${n / 1440} days`;
  if (n % 60 === 0) return n === 60 ? "1 hour" : `${n / 60} hours`;
  return `${n} minutes`;
}

/** zone renders " (Istanbul time)" when the metadata names a zone the browser's clock is not in. */
function zone(a: MessageArgs): string {
  if (!a.timeZone) return "";
  return differsHere(new Date(), a.timeZone) ? ` (${zoneLabel(a.timeZone)})` : "";
}

/** provider renders the provider's name from the metadata, or "the provider". */
function provider(a: MessageArgs): string {
  return a.providerName || "the provider";
}

/** counter renders "Counter 2" or "This counter". */
function counter(a: MessageArgs): string {
  return a.counterId ? `Counter ${a.counterId}` : "This counter";
}

/** ticket renders "Ticket A-042" or "This ticket". */
function ticket(a: MessageArgs): string {
  return a.ticketNumber ? `Ticket ${a.ticketNumber}` : "This ticket";
}

/** appointment renders "The appointment at 10:30 with Dr. Ada Lovelace" from the metadata. */
function appointment(a: MessageArgs, time = a.appointmentLocalTime ?? a.localTime, date = a.appointmentLocalDate ?? a.localDate): string {
  const at = when(a, time, date);
  return `The appointment${at ? ` at ${at}` : ""}${a.providerName ? ` with ${a.providerName}` : ""}`;
}

/** APPOINTMENT_STATE says what an appointment in a status is, after "The appointment …". */
const APPOINTMENT_STATE: Record<string, string> = {
  PROPOSED: "is a waitlist offer not yet accepted",
  BOOKED: "is booked and the patient has not checked in",
  CHECKED_IN: "is already checked in",
  FULFILLED: "has already taken place",
  CANCELLED: "was cancelled",
  NOSHOW: "was marked as a no-show",
};

/** APPOINTMENT_ACTION is what was tried on an appointment, after "so it cannot be …". */
const APPOINTMENT_ACTION: Record<string, string> = {
  CANCEL: "cancelled",
  RESCHEDULE: "moved",
  CHECK_IN: "checked in",
  MARK_NO_SHOW: "marked as a no-show",
  COMPLETE: "completed",
  ACCEPT_OFFER: "accepted",
};

/** TICKET_STATE says what a ticket in a status is, after "Ticket A-042 …". */
const TICKET_STATE: Record<string, string> = {
  WAITING: "is waiting, not called",
  CALLED: "is called",
  COMPLETED: "was completed",
  NO_SHOW: "was marked as a no-show",
  CANCELLED: "was cancelled",
  TRANSFERRED: "was moved to another queue",
};

/** EN is the English catalog. */
export const EN: MessageCatalog = {
  subjects: {
    request: "The request",
    loadQueues: "Loading the queues",
    loadQueue: "Loading the queue",
    loadProviders: "Loading the providers",
    loadSlots: "Loading the free slots",
    loadAppointments: "Loading the appointments",
    loadToday: "Loading today's appointments",
    loadLocks: "Loading the locks",
    loadBackups: "Loading the backups",
    liveQueue: "The live queue",
    createQueue: "Creating the queue",
    counter: "The counter action",
    walkIn: "Issuing the ticket",
    checkIn: "Check-in",
    appointmentNoShow: "Marking the no-show",
    cancelTicket: "Cancelling the ticket",
    book: "Booking",
    hold: "Holding the time",
    cancelAppointment: "Cancelling",
    reschedule: "Moving the appointment",
    forceRelease: "Releasing the lock",
    restore: "The restore",
    loadOwnProvider: "Loading your provider record",
    startBackup: "Starting the backup",
    verifyBackup: "Verifying the backup",
  },
  reasons: {
    // Booking rules (scheduling); times are the provider's local time.
    SLOT_TAKEN: (a) => ({ title: `${when(a) || "That time"}${zone(a)} was just booked by someone else.`, action: "Pick another free slot." }),
    // localTime is when the hold ends; appointmentLocalTime the time asked for.
    SLOT_HELD_FOR_OFFER: (a) => ({
      title: `${when(a, a.appointmentLocalTime, a.appointmentLocalDate) || "That time"}${zone(a)} is held for a patient on the waitlist${a.localTime ? ` until ${when(a)}` : ""}.`,
      action: "Pick another free slot, or look again once the hold has ended.",
    }),
    // Visit types, holds and locations (issue 20); times are the provider's or location's local time.
    SLOT_HELD: (a) => ({
      title: `${when(a, a.appointmentLocalTime, a.appointmentLocalDate) || "That time"}${zone(a)} is held for another patient finishing their booking${a.localTime ? ` until ${when(a)}` : ""}.`,
      action: "Pick another free slot, or look again once the hold has ended.",
    }),
    HOLD_EXPIRED: (a) => ({
      title: `The hold on ${when(a, a.appointmentLocalTime, a.appointmentLocalDate) || "that time"}${zone(a)}${a.providerName ? ` with ${a.providerName}` : ""} ended${a.localTime ? ` at ${a.localTime}` : ""} before it was confirmed, so nothing was booked.`,
      action: a.timeStillFree === "true" ? "The time is still free: choose it again to hold it." : "Pick another free slot.",
    }),
    HOLD_LIMIT: (a) => ({
      title: `${a.limit === "1" ? "A held time is" : `${a.limit ?? "Several"} held times are`} already waiting to be confirmed, the most allowed at once.`,
      action: "Confirm or release one, or wait a few minutes until one ends.",
    }),
    MIN_NOTICE: (a) => ({
      title: `${a.visitTypeName || "This visit"} must be booked at least ${minutesWords(a.noticeMinutes)} ahead; ${when(a) || "that time"}${zone(a)} is too soon.`,
      action: a.earliestLocalTime ? `Pick a time from ${when(a, a.earliestLocalTime, a.earliestLocalDate)} on.` : "Pick a later time.",
    }),
    VISIT_TYPE_HORIZON: (a) => ({
      title: `${a.visitTypeName || "This visit"} cannot be booked that far ahead${a.lastLocalTime ? `: the last bookable time is ${when(a, a.lastLocalTime, a.lastLocalDate)}${zone(a)}` : ""}.`,
      action: "Pick an earlier time.",
    }),
    MAX_PER_PATIENT_PER_DAY: (a) => ({
      title: `The patient already has ${a.limit && a.limit !== "1" ? `${a.limit} visits of ${a.visitTypeName || "this type"}` : `a ${a.visitTypeName || "visit of this type"}`} ${when(a, "") || "that day"}, the most allowed in one day.`,
      action: "Pick another day.",
    }),
    NOT_AT_VISIT_TYPE_LOCATION: (a) => ({
      title: `${provider(a)} ${a.workedAtLocationName ? `works at ${a.workedAtLocationName}` : "is at another location"} at ${when(a) || "that time"}${zone(a)}.`.replace(/^t/, "T"),
      action: `${a.visitTypeName || "This visit"} is offered${a.visitTypeLocationName ? ` at ${a.visitTypeLocationName}` : " elsewhere"}: pick a time when they are there.`,
    }),
    LOCATION_CLOSED: (a) => ({
      title: `${a.locationName || "The clinic"} is closed ${when(a, "") || "that day"}${a.closureReason ? ` (${a.closureReason})` : ""}.`,
      action: "Pick another day.",
    }),
    NO_RESOURCE_AVAILABLE: (a) => ({
      title: `No room or device that ${a.visitTypeName || "this visit"} needs is free at ${when(a) || "that time"}${zone(a)}.`,
      action: "Pick another time.",
    }),
    PATIENT_WAITLIST_LIMIT: (a) => ({
      title: `You are already on the waitlist for ${a.limit === "1" ? "an appointment" : a.limit ? `${a.limit} appointments` : "as many appointments as allowed"}.`,
      action: "Wait for an offer, or ask the clinic to add you.",
    }),
    RESOURCE_TAKEN: (a) => ({ title: `A room or device this visit needs is already booked${when(a) ? ` at ${when(a)}` : ""}${zone(a)}.`, action: "Pick another time." }),
    OUTSIDE_WORKING_HOURS: (a) => ({
      title: `${provider(a)} does not work ${a.workingHours === "" ? when(a, undefined) || "that day" : `at ${when(a) || "that time"}`}${zone(a)}.`.replace(/^t/, "T"),
      action: a.workingHours ? `Working hours that day: ${a.workingHours.split(",").join(", ")}. Pick a time inside them.` : "Pick another day.",
    }),
    IN_BREAK: (a) => ({
      title: `${when(a) || "That time"}${zone(a)} is in ${a.providerName ? `${a.providerName}'s` : "the provider's"} break${a.breakStart ? ` (${a.breakStart}–${a.breakEnd})` : ""}.`,
      action: "Pick a time outside the break.",
    }),
    RUNS_INTO_BREAK: (a) => ({
      title: `An appointment at ${when(a) || "that time"}${zone(a)} would run into ${a.providerName ? `${a.providerName}'s` : "the provider's"} break${a.breakStart ? ` (${a.breakStart}–${a.breakEnd})` : ""}.`,
      action: "Pick another time or a shorter visit.",
    }),
    ENDS_AFTER_WORKING_HOURS: (a) => ({
      title: `An appointment at ${when(a) || "that time"}${zone(a)} would end after ${provider(a)}'s working hours${a.workingHoursEnd ? ` (until ${a.workingHoursEnd})` : ""}.`,
      action: "Pick an earlier time or a shorter visit.",
    }),
    ON_EXCEPTION: (a) => ({
      title: `${provider(a)} is away ${when(a, undefined) || "that day"}${a.exceptionReason ? ` (${a.exceptionReason})` : ""}.`.replace(/^t/, "T"),
      action: "Pick another day.",
    }),
    NOT_ON_SLOT_BOUNDARY: (a) => {
      const near = [a.nearestBefore, a.nearestAfter].filter(Boolean);
      return {
        title: `${when(a) || "That time"} is not a start time${a.slotMinutes ? `: appointments start every ${a.slotMinutes} minutes` : ""}.`,
        action: near.length ? `The nearest start times are ${near.join(" and ")}.` : "Pick one of the free slots shown.",
      };
    },
    NOT_A_SLOT: (a) => ({ title: `${when(a) || "That time"}${zone(a)} is not a bookable time for ${provider(a)}.`, action: "Pick one of the free slots shown." }),
    OUTSIDE_AVAILABILITY: () => ({ title: "That time is not a bookable slot of this provider.", action: "Pick one of the free slots shown." }),
    NO_AVAILABILITY: (a) => ({ title: `${provider(a)} has no working hours set yet.`.replace(/^t/, "T"), action: "Reception sets the working hours before appointments can be booked." }),
    BOOKING_IN_PAST: (a) => ({ title: `${when(a) || "That time"}${zone(a)} has already passed.`, action: "Pick a later time." }),
    BEYOND_HORIZON: (a) => ({
      title: `Appointments can be booked at most ${a.horizonDays ? `${a.horizonDays} days` : "a limited time"} ahead${a.lastLocalDate ? `, until ${dateWords(a.lastLocalDate)}` : ""}.`,
      action: "Pick an earlier date.",
    }),
    OFFER_EXPIRED: (a) => ({ title: `This offer lapsed${when(a) ? ` at ${when(a)}` : ""}${zone(a)}; the time was offered to someone else.`, action: "Pick another free slot." }),
    OFFER_TIME_PASSED: () => ({ title: "The offered time has already passed.", action: "Pick another free slot." }),
    ILLEGAL_TRANSITION: (a) => ({
      title:
        a.status && APPOINTMENT_STATE[a.status]
          ? `${appointment(a)} ${APPOINTMENT_STATE[a.status]}${a.action && APPOINTMENT_ACTION[a.action] ? `, so it cannot be ${APPOINTMENT_ACTION[a.action]}` : ""}.`
          : "This appointment changed meanwhile.",
      action: "Someone may have changed it at another desk: look at the list again before you act.",
    }),
    NO_SHOW_BEFORE_START: (a) => ({ title: `${appointment(a)} has not started yet.`, action: "A patient can be marked as a no-show only once the appointment has started." }),
    // Check-in (scheduling and queue); localTime is when check-in opens or closed.
    CHECK_IN_NOT_OPEN: (a) => ({
      title: a.localTime
        ? `Check-in for this appointment opens at ${when(a)}${zone(a)}.`
        : `Check-in for ${a.appointmentTime ? `the appointment at ${a.appointmentTime}` : "this appointment"} is not open yet.`,
      action: "Ask the patient to wait, and check them in then.",
    }),
    CHECK_IN_TOO_EARLY: (a) => EN.reasons.CHECK_IN_NOT_OPEN(a),
    CHECK_IN_CLOSED: (a) => ({
      title: `${appointment(a)} ended${a.localTime ? ` at ${when(a)}` : ""}, so it can no longer be checked in.`,
      action: "Mark it as a no-show or move it; a patient who came anyway can take a walk-in ticket.",
    }),
    QUEUE_UNAVAILABLE: () => ({ title: "Nobody can be checked in right now: the queue cannot be reached.", action: "Try again in a moment." }),
    LOCK_UNAVAILABLE: () => ({ title: "Bookings cannot be made right now.", action: "Try again in a moment." }),
    // Counters and tickets (queue).
    COUNTER_NOT_OPEN: (a) => ({ title: `${counter(a)} is closed${a.queueName ? ` at ${a.queueName}` : ""}.`, action: "Press “Open counter” first." }),
    COUNTER_NOT_FOUND: (a) => ({ title: `${counter(a)} has never been opened${a.queueName ? ` at ${a.queueName}` : " on this queue"}.`, action: "Press “Open counter” first." }),
    COUNTER_BUSY: (a) => ({
      title: `${counter(a)} still has ${a.ticketNumber ?? "a patient"} called.`,
      action: "Complete that ticket, or press “Not here yet” or “No-show”, first.",
    }),
    TICKET_NOT_CALLED: (a) => ({
      title: `${ticket(a)} ${(a.status && TICKET_STATE[a.status]) || "is not called any more"}.`,
      action: "Look at the queue: someone may have acted on it at another desk.",
    }),
    TICKET_NOT_CALLED_HERE: (a) => ({
      title: `${ticket(a)} is called to ${a.calledAtCounterId ? `counter ${a.calledAtCounterId}` : "another counter"}.`,
      action: "Only that counter can act on it.",
    }),
    WRONG_COUNTER: (a) => EN.reasons.TICKET_NOT_CALLED_HERE(a),
    TICKET_ENDED: (a) => ({ title: `${ticket(a)} ${(a.status && TICKET_STATE[a.status]) || "has already left the queue"}.`, action: "Nothing more to do for it." }),
    TICKET_CHANGED: (a) => ({ title: `${ticket(a)} was changed by someone else meanwhile.`, action: "Look at the queue, then press the button again." }),
    QUEUE_NOT_FOUND: () => ({ title: "This queue does not exist (any more).", action: "Choose a queue from the list." }),
    TICKET_NOT_FOUND: () => ({ title: "This ticket does not exist (any more).", action: "Look at the queue again." }),
    PRIORITY_NOT_ALLOWED: () => ({ title: "Patients take routine tickets.", action: "Reception gives a higher priority to those who need it." }),
    APPOINTMENT_TICKET_NOT_ALLOWED: () => ({ title: "A ticket for an appointment comes from checking in for it.", action: "Check in for the appointment instead." }),
    PATIENT_ALREADY_IN_QUEUE: (a) => ({
      title: `This patient already has ${a.ticketNumber ? `ticket ${a.ticketNumber}` : "a ticket"}${a.queueName ? ` at ${a.queueName}` : " in this queue"}.`,
      action: "A patient has one place in a queue: cancel that ticket first to give them another.",
    }),
    PREFIX_IN_USE: (a) => ({
      title: `The prefix ${a.prefix ?? ""} is already used${a.queueName ? ` by ${a.queueName}` : " by another queue"}.`,
      action: "Choose another prefix, so the two queues never call the same number.",
    }),
    REQUEST_IN_PROGRESS: () => ({ title: "This is still being done.", action: "Wait a moment, then look again." }),
    // Backups (operations).
    BACKUP_RUNNING: () => ({ title: "A backup of this target is already running.", action: "Wait for it to end." }),
    TARGET_NOT_CONFIGURED: () => ({
      title: "This server has nothing to back up for that target.",
      action: "A Redis backup needs REDIS_URL; without it the locks live in Postgres, which the Postgres backup covers.",
    }),
    RESTORE_RUNNING: () => ({ title: "Another restore is running.", action: "Wait for it to end." }),
    BACKUP_NOT_SUCCEEDED: () => ({ title: "Only a successful backup can be restored.", action: "Pick a backup whose state is “succeeded”." }),
    BACKUP_CORRUPT: () => ({ title: "This backup failed its check: nothing was restored.", action: "Pick another backup." }),
    BACKUP_DELETED: () => ({ title: "This backup's file was deleted by retention.", action: "Pick a newer backup." }),
    // Anyone.
    REQUEST_ID_REUSED: () => ({ title: "This action was already sent with other values.", action: "Reload the page and do it again." }),
  },
  fieldReasons: {
    REQUIRED: () => "Required.",
    TOO_LONG: (a) => (a.description ? `Too long: ${a.description}.` : "Too long."),
    TOO_SHORT: () => "Too short.",
    CONTROL_CHARACTERS: () => "Remove the line breaks and control characters.",
    INVALID_ID: () => "Use 1–64 letters, digits, “_” or “-”, without spaces.",
    UNKNOWN_TIME_ZONE: () => "Unknown time zone: use a name such as Europe/Istanbul.",
    INVALID_PREFIX: () => "Use 1–3 capital letters A–Z.",
    NOT_A_MULTIPLE: (a) => (a.description ? `${a.description.charAt(0).toUpperCase()}${a.description.slice(1)}.` : "Not a whole number of slots."),
    SAME_QUEUE: () => "Choose another queue than the ticket's own.",
  },
  fields: {
    patientId: "Patient id",
    counterId: "Counter id",
    queueId: "Queue",
    displayName: "Name",
    prefix: "Prefix",
    reason: "Reason",
    timeZone: "Time zone",
    startTime: "Start time",
    newStartTime: "New time",
  },
  codes: {
    Unavailable: (s) => ({
      title: `${s} failed: the service is not reachable right now.`,
      action: "Check that MedSchedule is running (npm start, or the service processes behind the gateway), then press Retry.",
    }),
    Unauthenticated: (s) => ({ title: `${s} failed: you are not signed in, or your sign-in expired.`, action: "Sign in again (Switch user, top right)." }),
    PermissionDenied: (s) => ({ title: `${s} is not allowed for your role.`, action: "Sign in with a role that may do this (e.g. receptionist or admin)." }),
    ResourceExhausted: () => ({ title: "Too many requests from this browser.", action: "Wait a few seconds, then press Retry." }),
    DeadlineExceeded: (s) => ({ title: `${s} took too long.`, action: "Press Retry; if it keeps happening, the service may be overloaded." }),
    Unimplemented: (s) => ({ title: `${s} is not available on this server yet.`, action: "This part of MedSchedule is not implemented in the running version." }),
    InvalidArgument: (s) => ({ title: `${s} was not accepted.`, action: "Check the values you entered." }),
    FailedPrecondition: (s) => ({ title: `${s} is not possible now.`, action: "Refresh and try again: someone may have changed this meanwhile." }),
    NotFound: () => ({ title: "Not found.", action: "Refresh the page: it may have been removed." }),
    AlreadyExists: (s) => ({ title: `${s} conflicts with something that already exists.`, action: "Use another name or id." }),
    Aborted: (s) => ({ title: `${s} collided with another change.`, action: "Press Retry." }),
    offline: () => ({ title: "Cannot reach the MedSchedule server.", action: "Check that the server is running and that this device is online, then press Retry." }),
    default: (s) => ({ title: `${s} failed.`, action: "Press Retry; if it keeps failing, tell your administrator." }),
  },
  unknownReason: (m) => (m ? `${m.charAt(0).toUpperCase()}${m.slice(1)}${/[.!?]$/.test(m) ? "" : "."}` : "Look at the screen again: something changed meanwhile."),
  technical: "Technical details",
  appointmentStatus: {
    PROPOSED: "Offered",
    BOOKED: "Booked",
    CHECKED_IN: "Checked in",
    FULFILLED: "Completed",
    CANCELLED: "Cancelled",
    NOSHOW: "No-show",
  },
  ticketStatus: {
    WAITING: "waiting",
    CALLED: "called",
    COMPLETED: "completed",
    NO_SHOW: "no-show",
    CANCELLED: "cancelled",
    TRANSFERRED: "transferred",
  },
  notices: {
    counterOpen: (a) => `Counter ${a.counterId} is open.`,
    counterClosed: (a) => `Counter ${a.counterId} is closed.`,
    calling: (a) => `Calling ${a.number} to counter ${a.counterId}.`,
    nobodyWaiting: "Nobody is waiting.",
    recalled: (a) => `Recalled ${a.number}.`,
    skipped: (a) => `${a.number} is not here yet: it waits again${a.position ? ` (position ${a.position})` : ""}.`,
    skippedToNoShow: (a) => `${a.number} was passed over too often and is now a no-show.`,
    noShow: (a) => `${a.number} marked no-show. Counter ${a.counterId} is free.`,
    completed: (a) => `${a.number} completed. Counter ${a.counterId} is free.`,
    ticketCancelled: (a) => `Ticket ${a.number} cancelled.`,
    ticketIssued: (a) => `Ticket ${a.number} issued${a.position ? `, position ${a.position}` : ""}.`,
    checkedIn: (a) => `Checked in: ticket ${a.number}, sent to the queue “${a.queue}”.`,
    checkedInToYours: (a) => `Checked in: ticket ${a.number}, waiting in your queue.`,
    appointmentNoShow: (a) => `The appointment of ${a.time} is marked no-show.`,
    booked: (a) => `Booked ${a.time} with ${a.provider}.`,
    moved: (a) => `Moved to ${a.time}.`,
    appointmentCancelled: (a) => `Cancelled the appointment of ${a.time}.`,
    lockReleased: (a) => (a.released ? `Released the lock on ${a.resource}.` : `The lock on ${a.resource} was no longer held.`),
    restored: (a) => `Restored the backup of ${a.when} (${a.id}).`,
    backupStarted: (a) => `Backup ${a.id} of ${a.target} started: it is listed below and ends on its own.`,
    backupVerified: (a) =>
      a.ok ? `Backup of ${a.when} (${a.id}) verified: it restores and matches what was recorded.` : `Backup of ${a.when} (${a.id}) FAILED its verification: ${a.details}`,
  },
  confirm: {
    keep: "Go back",
    reasonLabel: "Reason (optional)",
    reasonRequiredLabel: "Reason (required)",
    typeToConfirm: (a) => `Type ${a.word} to confirm`,
    cancelAppointment: (a) => ({
      title: "Cancel this appointment?",
      body: `${a.time} with ${a.provider}. The time is offered to other patients at once; this cannot be undone.`,
      confirm: "Cancel appointment",
    }),
    reschedule: (a) => ({
      title: "Move this appointment?",
      body: `From ${a.from} to ${a.to} with ${a.provider}. The old time is given up and offered to other patients at once.`,
      confirm: "Move appointment",
    }),
    appointmentNoShow: (a) => ({
      title: "Mark this appointment as a no-show?",
      body: `${a.time} with ${a.provider}. The patient can no longer be checked in for it.`,
      confirm: "Mark no-show",
    }),
    ticketNoShow: (a) => ({
      title: `Mark ${a.number} as a no-show?`,
      body: `${a.number} leaves the queue for good and the counter is free for the next patient. If the patient may still come, use “Not here yet” instead.`,
      confirm: "Mark no-show",
    }),
    cancelTicket: (a) => ({ title: `Cancel ticket ${a.number}?`, body: `${a.number} leaves the queue for good.`, confirm: "Cancel ticket" }),
    closeCounter: (a) => ({ title: `Close counter ${a.counterId}?`, body: "It stops calling patients until it is opened again.", confirm: "Close counter" }),
    forceRelease: (a) => ({
      title: "Force-release this lock?",
      body: `${a.resource}, held by ${a.owner}. Its holder loses it at once and its next write is refused; use this only for a lock that is stuck.`,
      confirm: "Force release",
    }),
    restore: (a) => ({
      title: `Restore the ${a.target} backup of ${a.when} (${a.shortId})?`,
      body: `Backup ${a.id}: ${a.facts}. Everything written since that backup is replaced by its contents. This cannot be undone.`,
      confirm: "Restore backup",
      word: a.shortId,
    }),
  },
};

/** messages is the catalog the app speaks (English until a translation is added). */
export const messages: MessageCatalog = EN;
