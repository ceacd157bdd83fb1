// Booking by visit type ("any available clinician"): choose the location (when there are several)
// and what the visit is, then a week; SearchSlots answers the free times of every provider offering
// it, grouped by day in the location's zone. Choosing one holds it (HoldSlot) and shows a confirm step
// with the hold's end; Confirm books with the holdId. A refused hold or confirmation (the hold
// expired, the time was taken) is said in words and the times are read again.
import { useEffect, useMemo, useState } from "react";
import type { Appointment, Hold, Location, Provider, Slot, VisitType } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { api, newRequestId, toDate, ts, type Session } from "./api.js";
import { messages } from "./message-catalog.js";
import { listAll } from "./paging.js";
import { fmtDay, fmtTime, localDate } from "./time-format.js";
import { PatientField } from "./patient-finder.js";
import { ErrorBox, fieldError, Loading, Notice, useAction, useAsync } from "./ui.js";
import { useWeek, WeekNav } from "./week-nav.js";

/** minutesOf renders a visit type's length as "20 min". */
function minutesOf(vt: VisitType): string {
  return `${Math.round(Number(vt.duration?.seconds ?? 0n) / 60)} min`;
}

/** VisitBookingProps is what the booking screen hands the visit-type path. */
export interface VisitBookingProps {
  /** isPatient: a patient books for themselves, and only visit types patients may book. */
  isPatient: boolean;
  /** session is the signed-in user (staff choose the patient from the directory). */
  session: Session;
  /** patientId is who the visit is for (the patient's own id, or what reception typed). */
  patientId: string;
  /** setPatientId changes it (staff only). */
  setPatientId: (id: string) => void;
  /** locations are the clinic's locations. */
  locations: readonly Location[];
  /** visitTypes are every visit type (filtered here by location and who books). */
  visitTypes: readonly VisitType[];
  /** providers name the providers of the slots. */
  providers: readonly Provider[];
  /** onBooked reports a confirmed booking, for My appointments to read again. */
  onBooked: (a: Appointment) => void;
}

/** VisitBooking is the "any available clinician" booking path. */
export function VisitBooking({ isPatient, session, patientId, setPatientId, locations, visitTypes, providers, onBooked }: VisitBookingProps) {
  const [locationId, setLocationId] = useState("");
  const [visitTypeId, setVisitTypeId] = useState("");
  const [providerFilter, setProviderFilter] = useState("");
  const [held, setHeld] = useState<{ hold: Hold; slot: Slot } | undefined>();
  const [notice, setNotice] = useState("");

  const offered = useMemo(() => new Set(visitTypes.filter((vt) => !isPatient || vt.patientBookable).map((vt) => vt.locationId)), [visitTypes, isPatient]);
  const places = locations.filter((l) => offered.has(l.locationId));
  const location = places.find((l) => l.locationId === locationId) ?? places[0];
  const zone = location?.timeZone || undefined;
  const types = visitTypes.filter((vt) => vt.locationId === location?.locationId && (!isPatient || vt.patientBookable));
  const visitType = types.find((vt) => vt.visitTypeId === visitTypeId) ?? types[0];
  const nameOf = (id: string) => providers.find((p) => p.providerId === id)?.displayName ?? "A clinician";
  const offering = providers.filter((p) => visitType?.providerIds.includes(p.providerId));
  const filter = offering.some((p) => p.providerId === providerFilter) ? providerFilter : "";

  const w = useWeek(zone);
  const { from, to } = w;
  const slots = useAsync(
    (signal) =>
      listAll((pageToken) =>
        api.scheduling
          .searchSlots(
            {
              locationId: location!.locationId,
              visitTypeId: visitType!.visitTypeId,
              startTime: ts(from),
              endTime: ts(to),
              providerIds: filter ? [filter] : [],
              patientId: isPatient ? patientId : "",
              pageToken,
            },
            { signal },
          )
          .then((r) => ({ items: r.slots, nextPageToken: r.nextPageToken })),
      ),
    [location?.locationId, visitType?.visitTypeId, filter, from.getTime(), to.getTime()],
    { enabled: Boolean(location && visitType), pollMs: 15_000 },
  );
  const days = useMemo(() => {
    const m = new Map<string, { label: string; slots: Slot[] }>();
    for (const s of slots.data?.items ?? []) {
      const d = toDate(s.startTime)!;
      const k = localDate(d, zone);
      if (!m.has(k)) m.set(k, { label: fmtDay(d, zone), slots: [] });
      m.get(k)!.slots.push(s);
    }
    return [...m.values()];
  }, [slots.data, zone]);

  // releaseHold frees a hold not confirmed (cancelling its PROPOSED appointment) so the time is free for others at once.
  const releaseHold = (h: Hold | undefined) => {
    const a = h?.appointment;
    if (a) void api.scheduling.cancelAppointment({ appointmentId: a.appointmentId, requestId: newRequestId(), reason: "released before confirming" }).catch(() => undefined);
  };
  const hold = useAction(async (slot: Slot) => {
    setNotice("");
    confirm.clear();
    releaseHold(held?.hold);
    setHeld(undefined);
    const res = await api.scheduling.holdSlot({
      requestId: newRequestId(),
      visitTypeId: visitType!.visitTypeId,
      providerId: slot.providerId,
      patientId: patientId.trim(),
      startTime: slot.startTime,
      resourceIds: slot.resourceIds,
    });
    setHeld({ hold: res.hold!, slot });
  });
  const confirm = useAction(async () => {
    const h = held!.hold;
    // Refused or not, the hold is over: an expired or taken one cannot be confirmed again.
    const res = await api.scheduling.bookAppointment({ requestId: newRequestId(), holdId: h.holdId, patientId: patientId.trim() }).finally(() => setHeld(undefined));
    const a = res.appointment!;
    setNotice(messages.notices.booked({ time: `${fmtDay(toDate(a.startTime)!, zone)} ${fmtTime(toDate(a.startTime), zone)}`, provider: nameOf(a.providerId) }));
    slots.reload();
    onBooked(a);
  });
  // "Choose another time" releases the hold.
  const release = () => {
    releaseHold(held?.hold);
    setHeld(undefined);
    slots.reload();
  };
  const refused = hold.error ?? confirm.error;
  // A refused hold or confirmation (expired, taken meanwhile) re-reads the times.
  useEffect(() => {
    if (refused !== undefined) slots.reload();
  }, [refused]);
  useEffect(() => {
    if (held) document.getElementById("visit-confirm")?.focus();
  }, [held]);
  const patientError = fieldError(hold.error ?? confirm.error, "patientId");
  const change = (f: () => void) => {
    f();
    releaseHold(held?.hold);
    setHeld(undefined);
  };

  if (places.length === 0 || !location) return <p className="muted">No visit types can be booked online yet: choose a doctor instead.</p>;
  const expires = toDate(held?.hold.expiresAt);
  const start = toDate(held?.slot.startTime);
  return (
    <div className="visit-booking">
      {!isPatient && <PatientField session={session} id="visit-patient" value={patientId} onChange={setPatientId} error={patientError} />}
      <div className="row wrap">
        {places.length > 1 && (
          <label>
            Location
            <select id="location" value={location.locationId} onChange={(e) => change(() => setLocationId(e.target.value))}>
              {places.map((l) => (
                <option key={l.locationId} value={l.locationId}>
                  {l.displayName}
                </option>
              ))}
            </select>
          </label>
        )}
        {offering.length > 1 && (
          <label>
            Clinician
            <select id="visit-provider" value={filter} onChange={(e) => change(() => setProviderFilter(e.target.value))}>
              <option value="">Any available clinician</option>
              {offering.map((p) => (
                <option key={p.providerId} value={p.providerId}>
                  {p.displayName}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <fieldset className="visit-types">
        <legend>Visit type</legend>
        {types.map((vt) => (
          <label key={vt.visitTypeId} className="visit-type">
            <input type="radio" name="visit-type" value={vt.visitTypeId} checked={vt.visitTypeId === visitType?.visitTypeId} onChange={() => change(() => setVisitTypeId(vt.visitTypeId))} />
            <span className="swatch" data-color={vt.color || undefined} ref={(el) => el?.style.setProperty("--swatch", vt.color || "#8a94a0")} aria-hidden="true" />
            <span>
              {vt.displayName} <span className="muted small">· {minutesOf(vt)}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <WeekNav w={w} zone={zone} />
      {slots.error !== undefined && <ErrorBox error={slots.error} what="loadSlots" onRetry={slots.reload} />}
      {slots.loading && !slots.data && <Loading label="Loading free times…" />}
      {slots.data && days.length === 0 && <p>No free times this week. Try “Later →”.</p>}
      <div className="days" data-testid="visit-slots">
        {days.map((d) => (
          <fieldset key={d.label} className="day">
            <legend>{d.label}</legend>
            {d.slots.map((s) => {
              const key = `${s.startTime?.seconds}-${s.providerId}`;
              return (
                <button
                  key={key}
                  type="button"
                  className="slot vslot"
                  data-start={toDate(s.startTime)!.toISOString()}
                  data-provider={nameOf(s.providerId)}
                  aria-pressed={held?.slot === s}
                  disabled={hold.pending || !patientId.trim()}
                  onClick={() => void hold.run(s)}
                >
                  <span className="slot-time">{fmtTime(toDate(s.startTime), zone)}</span> <span className="slot-who">{nameOf(s.providerId)}</span>
                </button>
              );
            })}
          </fieldset>
        ))}
      </div>
      {!patientId.trim() && <p className="muted small">Choose the patient (or type their id) first.</p>}
      {held && start && (
        <section className="panel sticky-action hold" aria-labelledby="hold-h" data-testid="hold">
          <h2 id="hold-h">
            {visitType?.displayName}: {fmtDay(start, zone)} {fmtTime(start, zone)} with {nameOf(held.slot.providerId)}
          </h2>
          <p data-testid="hold-until" data-expires={expires?.toISOString()}>
            Held for you until {fmtTime(expires, zone)}. Confirm before then to book it.
          </p>
          <div className="row">
            <button type="button" className="primary" id="visit-confirm" disabled={confirm.pending} onClick={() => void confirm.run()}>
              Confirm booking
            </button>
            <button type="button" onClick={release}>
              Choose another time
            </button>
          </div>
        </section>
      )}
      {refused !== undefined && <ErrorBox error={refused} what={confirm.error !== undefined ? "book" : "hold"} />}
      {notice && refused === undefined && (
        <div id="visit-notice">
          <Notice>{notice}</Notice>
        </div>
      )}
    </div>
  );
}
