// Booking: by visit type across providers (visit-booking.tsx), or pick a provider, see a week of
// free slots, book one; cancel or move your appointments (after a confirmation). Every appointment is shown in its own provider's time zone, with the
// provider's name and the appointment's status.
import { useEffect, useMemo, useState } from "react";
import { AppointmentStatus, type Appointment, type Provider, type Slot } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { api, newRequestId, toDate, ts, type Session } from "./api.js";
import { useConfirm } from "./confirm-dialog.js";
import { messages } from "./message-catalog.js";
import { listAll, usePagedList } from "./paging.js";
import { access, can } from "./permissions.js";
import { fmtDay, fmtInZone, fmtTime, localDate, zoneMidnight } from "./time-format.js";
import { useWeek, WeekNav } from "./week-nav.js";
import { ErrorBox, FieldError, fieldError, fieldProps, Loading, Notice, Pager, useAction, useAsync } from "./ui.js";
import { PatientField } from "./patient-finder.js";
import { usePatientNames } from "./patient-names.js";
import { VisitBooking } from "./visit-booking.js";

/** MINE_DAYS is how far ahead "My appointments" looks: past the default booking horizon of 365 days. */
const MINE_DAYS = 400;
/** MINE_PAGE is how many of them a page lists (Previous / Next for the others). */
const MINE_PAGE = 50;

/** Mine is an appointment with its provider (for its name and time zone). */
interface Mine {
  a: Appointment;
  provider?: Provider;
}

/** BookingScreen is the patient's (and reception's) booking page. */
export function BookingScreen({ session }: { session: Session }) {
  // A patient books for themselves (the role table's "own"); staff name the patient.
  const isPatient = access(session, SchedulingService.method.bookAppointment) === "own";
  const mayMove = can(session, SchedulingService.method.rescheduleAppointment);
  const mayCancel = can(session, SchedulingService.method.cancelAppointment);
  const providers = useAsync(
    (signal) =>
      listAll((pageToken) => api.scheduling.listProviders({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.providers, nextPageToken: r.nextPageToken }))),
    [],
  );
  // The clinic's locations and visit types: when any can be booked here, booking starts by visit type.
  const clinic = useAsync(async (signal) => {
    const [locations, visitTypes] = await Promise.all([
      listAll((pageToken) => api.scheduling.listLocations({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.locations, nextPageToken: r.nextPageToken }))),
      listAll((pageToken) => api.scheduling.listVisitTypes({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.visitTypes, nextPageToken: r.nextPageToken }))),
    ]);
    return { locations: locations.items, visitTypes: visitTypes.items };
  }, []);
  const byVisit = (clinic.data?.visitTypes ?? []).some((vt) => !isPatient || vt.patientBookable);
  const [chosenMode, setMode] = useState<"visit" | "provider" | undefined>();
  const mode = chosenMode ?? (byVisit ? "visit" : "provider");
  const visitNames = new Map((clinic.data?.visitTypes ?? []).map((vt) => [vt.visitTypeId, vt.displayName]));
  const [providerId, setProviderId] = useState("");
  const [selected, setSelected] = useState<Slot | undefined>();
  // Staff come from Patients with the chosen patient in the URL (/booking?patient=<id>).
  const [patientId, setPatientId] = useState(isPatient ? session.subject : (new URLSearchParams(window.location.search).get("patient") ?? ""));
  const [reason, setReason] = useState("");
  const [moving, setMoving] = useState<Appointment | undefined>();
  const [notice, setNotice] = useState("");
  // Slots booked from this page disappear at once, before the list reloads.
  const [taken, setTaken] = useState<ReadonlySet<string>>(new Set());

  const list = providers.data?.items ?? [];
  const provider = list.find((p) => p.providerId === providerId) ?? list[0];
  const zone = provider?.timeZone || undefined;
  const weekShown = useWeek(zone);
  const { from, to } = weekShown;

  const slots = useAsync(
    (signal) => api.scheduling.listAvailableSlots({ providerId: provider!.providerId, startTime: ts(from), endTime: ts(to) }, { signal }),
    [provider?.providerId, from.getTime(), to.getTime()],
    { enabled: Boolean(provider) && mode === "provider", pollMs: 5_000 },
  );
  // My appointments: every status (a cancellation by the clinic shows as such), except the old half
  // of a reschedule; each with its own provider, whose zone its time is shown in.
  const mine = usePagedList(
    async (pageToken, signal) => {
      const res = await api.scheduling.listAppointments(
        {
          ...(isPatient ? { patientId: session.subject } : { providerId: provider!.providerId }),
          // Whole days, so that every page asks the same request: a page token is only valid for the
          // request that returned it, and an end moving with the clock made Next fail.
          startTime: ts(zoneMidnight(undefined, 0)),
          endTime: ts(zoneMidnight(undefined, MINE_DAYS)),
          pageSize: MINE_PAGE,
          pageToken,
        },
        { signal },
      );
      return { items: res.appointments, nextPageToken: res.nextPageToken };
    },
    [isPatient ? "" : provider?.providerId, isPatient],
    { enabled: Boolean(providers.data) && (isPatient || Boolean(provider)) },
  );
  // Each appointment with its provider (for its name and zone), except the old half of a reschedule.
  const others = useAsync(
    async (signal): Promise<Map<string, Provider>> => {
      const known = new Map(list.map((p) => [p.providerId, p]));
      const missing = [...new Set((mine.items ?? []).map((a) => a.providerId).filter((id) => !known.has(id)))];
      const fetched = await Promise.all(missing.map((providerId) => api.scheduling.getProvider({ providerId }, { signal }).then((r) => r.provider, () => undefined)));
      for (const p of fetched) if (p) known.set(p.providerId, p);
      return known;
    },
    [mine.items, providers.data],
    { enabled: Boolean(mine.items) },
  );
  // Staff see whose each appointment is (a patient sees only their own list, and asks for no names).
  const names = usePatientNames(session, isPatient ? [] : (mine.items ?? []).map((a) => a.patientId));
  const mineRows = useMemo((): Mine[] | undefined => {
    if (!mine.items) return undefined;
    const replaced = new Set(mine.items.map((a) => a.rescheduledFromId).filter(Boolean));
    const known = others.data ?? new Map(list.map((p) => [p.providerId, p]));
    return mine.items.filter((a) => !replaced.has(a.appointmentId)).map((a) => ({ a, provider: known.get(a.providerId) }));
  }, [mine.items, others.data, providers.data]);
  const { ask, dialog } = useConfirm();
  const providerOf = (a: Appointment) => mineRows?.find((m) => m.a.providerId === a.providerId)?.provider ?? list.find((p) => p.providerId === a.providerId);
  const zoneOf = (a: Appointment) => providerOf(a)?.timeZone || zone;
  const nameOf = (a: Appointment) => providerOf(a)?.displayName ?? "";

  const refresh = () => {
    setSelected(undefined);
    slots.reload();
    mine.reload();
  };
  const book = useAction(async (slot: Slot) => {
    const res = await api.scheduling.bookAppointment({
      requestId: newRequestId(),
      providerId: provider!.providerId,
      patientId: patientId.trim(),
      startTime: slot.startTime,
      reason: reason.trim(),
    });
    setTaken((prev) => new Set(prev).add(String(slot.startTime?.seconds)));
    setNotice(messages.notices.booked({ time: fmtInZone(toDate(res.appointment?.startTime), zone), provider: provider!.displayName }));
    refresh();
    return res;
  });
  const release = (a: Appointment) =>
    setTaken((prev) => {
      const next = new Set(prev);
      next.delete(String(a.startTime?.seconds));
      return next;
    });
  const move = useAction(async (a: Appointment, slot: Slot) => {
    const res = await api.scheduling.rescheduleAppointment({ appointmentId: a.appointmentId, requestId: newRequestId(), newStartTime: slot.startTime });
    release(a);
    setTaken((prev) => new Set(prev).add(String(slot.startTime?.seconds)));
    setNotice(messages.notices.moved({ time: fmtInZone(toDate(res.appointment?.startTime), zoneOf(a)) }));
    setMoving(undefined);
    refresh();
    return res;
  });
  const cancel = useAction(async (a: Appointment, reason: string) => {
    await api.scheduling.cancelAppointment({ appointmentId: a.appointmentId, requestId: newRequestId(), reason });
    release(a);
    setNotice(messages.notices.appointmentCancelled({ time: fmtInZone(toDate(a.startTime), zoneOf(a)) }));
    refresh();
    document.getElementById("mine-h")?.focus();
  });
  // The questions come before the actions run, so the asking button stays enabled for the focus to return to.
  const askMove = async (a: Appointment, slot: Slot) => {
    const question = messages.confirm.reschedule({ from: fmtInZone(toDate(a.startTime), zoneOf(a)), to: fmtInZone(toDate(slot.startTime), zoneOf(a)), provider: nameOf(a) });
    if (await ask(question)) void move.run(a, slot);
  };
  const askCancel = async (a: Appointment) => {
    const yes = await ask({ ...messages.confirm.cancelAppointment({ time: fmtInZone(toDate(a.startTime), zoneOf(a)), provider: nameOf(a) }), reason: "optional" });
    if (yes) void cancel.run(a, yes.reason);
  };

  const days = useMemo(() => {
    const m = new Map<string, { label: string; slots: Slot[] }>();
    for (const s of slots.data?.slots ?? []) {
      if (taken.has(String(s.startTime?.seconds))) continue;
      const d = toDate(s.startTime)!;
      const k = localDate(d, zone);
      if (!m.has(k)) m.set(k, { label: fmtDay(d, zone), slots: [] });
      m.get(k)!.slots.push(s);
    }
    return [...m.values()];
  }, [slots.data, zone, taken]);

  // Keyboard flow: choosing a slot (Enter or Space) moves focus to the confirm button, so booking is
  // Tab to a slot, Enter, Enter; Escape returns to the slots.
  useEffect(() => {
    if (selected) document.getElementById("confirm")?.focus();
  }, [selected]);

  const actionError = book.error ?? move.error ?? cancel.error;
  // A refused booking or move is shown beside the button that stays on screen; the slots are re-read.
  const slotError = book.error ?? move.error;
  useEffect(() => {
    if (slotError !== undefined) slots.reload();
  }, [slotError]);
  // What an action did is brought into view: the slot list can be long.
  useEffect(() => {
    if (notice) document.getElementById("booking-notice")?.scrollIntoView({ block: "nearest" });
  }, [notice]);
  const actionSubject = book.error !== undefined ? "book" : move.error !== undefined ? "reschedule" : "cancelAppointment";
  const patientError = fieldError(book.error, "patientId");
  const reasonError = fieldError(book.error, "reason");
  const selectedKey = selected ? String(selected.startTime?.seconds) : "";

  return (
    <section className="booking">
      <h1>Book an appointment</h1>
      {providers.loading && !providers.data && <Loading label="Loading providers…" />}
      {providers.error !== undefined && <ErrorBox error={providers.error} what="loadProviders" onRetry={providers.reload} />}
      {providers.data && list.length === 0 && <p>No providers yet: reception adds them before appointments can be booked.</p>}
      {provider && (
        <>
          {byVisit && (
            <div className="row tabs" role="group" aria-label="How to book">
              <button type="button" aria-pressed={mode === "visit"} id="mode-visit" onClick={() => setMode("visit")}>
                By visit type
              </button>
              <button type="button" aria-pressed={mode === "provider"} id="mode-provider" onClick={() => setMode("provider")}>
                Choose a doctor
              </button>
            </div>
          )}
          {mode === "visit" && clinic.data && (
            <VisitBooking
              isPatient={isPatient}
              session={session}
              patientId={patientId}
              setPatientId={setPatientId}
              locations={clinic.data.locations}
              visitTypes={clinic.data.visitTypes}
              providers={list}
              onBooked={() => mine.reload()}
            />
          )}
          {mode === "provider" && (
          <>
          {!isPatient && <PatientField session={session} id="patient" value={patientId} onChange={setPatientId} error={patientError} />}
          <div className="row wrap">
            <label>
              Provider
              <select
                id="provider"
                value={provider.providerId}
                onChange={(e) => {
                  setProviderId(e.target.value);
                  setSelected(undefined);
                }}
              >
                {list.map((p) => (
                  <option key={p.providerId} value={p.providerId}>
                    {p.displayName}
                    {p.specialty ? ` · ${p.specialty}` : ""}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Reason (optional)
              <input id="reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={200} {...fieldProps(reasonError, "reason-error")} />
              <FieldError id="reason-error" message={reasonError} />
            </label>
          </div>
          <WeekNav
            w={weekShown}
            zone={zone}
            end={
              <a className="button" href="#mine-h" id="to-mine">
                {isPatient ? "My appointments" : "Upcoming appointments"} ↓
              </a>
            }
          >
            <button type="button" onClick={refresh}>
              Refresh
            </button>
          </WeekNav>
          {moving && (
            <p className="notice">
              Moving the appointment of {fmtInZone(toDate(moving.startTime), zone)}: pick a new slot.{" "}
              <button type="button" className="link" onClick={() => setMoving(undefined)}>
                Stop moving
              </button>
            </p>
          )}
          {slots.error !== undefined && <ErrorBox error={slots.error} what="loadSlots" onRetry={slots.reload} />}
          {slots.loading && !slots.data && <Loading label="Loading free slots…" />}
          {slots.data && days.length === 0 && <p>No free slots this week. Try “Later →”.</p>}
          <div className="days" data-testid="slots">
            {days.map((d) => (
              <fieldset key={d.label} className="day">
                <legend>{d.label}</legend>
                {d.slots.map((s) => {
                  const key = String(s.startTime?.seconds);
                  return (
                    <button
                      key={key}
                      type="button"
                      className="slot"
                      data-start={toDate(s.startTime)!.toISOString()}
                      data-key={key}
                      aria-pressed={key === selectedKey}
                      onClick={() => setSelected(s)}
                    >
                      {fmtTime(toDate(s.startTime), zone)}
                    </button>
                  );
                })}
              </fieldset>
            ))}
          </div>
          {selected && (
            <div
              className="row sticky-action"
              onKeyDown={(e) => {
                if (e.key !== "Escape") return;
                const key = String(selected.startTime?.seconds);
                setSelected(undefined);
                requestAnimationFrame(() => document.querySelector<HTMLButtonElement>(`.slot[data-key="${key}"]`)?.focus());
              }}
            >
              {moving ? (
                <button type="button" className="primary" id="confirm" disabled={move.pending} onClick={() => void askMove(moving, selected)}>
                  Move to {fmtDay(toDate(selected.startTime)!, zone)} {fmtTime(toDate(selected.startTime), zone)}
                </button>
              ) : (
                <button
                  type="button"
                  className="primary"
                  id="confirm"
                  disabled={book.pending || !patientId.trim()}
                  onClick={() => void book.run(selected)}
                >
                  Book {fmtDay(toDate(selected.startTime)!, zone)} {fmtTime(toDate(selected.startTime), zone)}
                </button>
              )}
              {!patientId.trim() && !moving && <span className="muted small">Choose the patient (or type their id) first.</span>}
              {slotError !== undefined && <ErrorBox error={slotError} what={actionSubject} />}
            </div>
          )}
          {actionError !== undefined && (!selected || slotError === undefined) && <ErrorBox error={actionError} what={actionSubject} />}
          {notice && !actionError && (
            <div id="booking-notice">
              <Notice>{notice}</Notice>
            </div>
          )}
          </>
          )}
          <h2 id="mine-h" tabIndex={-1}>
            {isPatient ? "My appointments" : `Upcoming appointments · ${provider.displayName}`}
          </h2>
          {mine.error !== undefined && <ErrorBox error={mine.error} what="loadAppointments" onRetry={mine.reload} />}
          {mine.loading && !mineRows && <Loading />}
          {mineRows && mineRows.length === 0 && <p className="muted">No upcoming appointments.</p>}
          <ul className="cards" data-testid="appointments">
            {mineRows?.map(({ a, provider: p }) => {
              const status = AppointmentStatus[a.status];
              return (
                <li key={a.appointmentId} className="card" data-appointment={a.appointmentId} data-status={status}>
                  <span>
                    <strong data-testid="appointment-time">{fmtInZone(toDate(a.startTime), p?.timeZone || undefined)}</strong>{" "}
                    <span className={`badge ${a.status === AppointmentStatus.BOOKED || a.status === AppointmentStatus.CHECKED_IN ? "ok" : a.status === AppointmentStatus.CANCELLED || a.status === AppointmentStatus.NOSHOW ? "bad" : ""}`} data-testid="appointment-status">
                      {messages.appointmentStatus[status] ?? status}
                    </span>
                    <br />
                    <span data-testid="appointment-provider">
                      {p?.displayName ?? "Unknown provider"}
                      {p?.specialty ? ` · ${p.specialty}` : ""}
                    </span>
                    {visitNames.has(a.visitTypeId) && (
                      <span className="muted small" data-testid="appointment-visit-type">
                        {" "}
                        · {visitNames.get(a.visitTypeId)}
                      </span>
                    )}
                    {!isPatient && a.patientId && (
                      <span className="small" data-testid="appointment-patient">
                        {" "}
                        · {names.name(a.patientId) ?? <span className="muted">patient {a.patientId}</span>}
                      </span>
                    )}
                    {a.status === AppointmentStatus.CANCELLED && a.cancelReason && <span className="muted small"> · {a.cancelReason}</span>}
                  </span>
                  {a.status === AppointmentStatus.BOOKED && (mayMove || mayCancel) && (
                    <span className="row">
                      {mayMove && (
                        <button
                          type="button"
                          onClick={() => {
                            setMoving(a);
                            setMode("provider");
                            setSelected(undefined);
                            setProviderId(a.providerId);
                          }}
                        >
                          Reschedule
                        </button>
                      )}
                      {mayCancel && (
                        <button type="button" className="danger" disabled={cancel.pending} onClick={() => void askCancel(a)}>
                          Cancel
                        </button>
                      )}
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
          <Pager id="mine" label="my appointments" list={mine} />
          {dialog}
        </>
      )}
    </section>
  );
}
