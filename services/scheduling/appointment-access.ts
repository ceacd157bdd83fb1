// Reading what a call works on, as the caller may see it: a provider, its rooms and schedule, an
// appointment checked for ownership (NOT_FOUND for someone else's, audited), a write's requestId
// replay read with it, and the refusals that name the provider and time of what was read.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { auditBase, auditEntries, type NewAuditLogRow } from "../runtime/audit.js";
import type { Caller } from "../runtime/caller.js";
import type { Clock } from "../runtime/clock.js";
import type { RequestKey } from "../runtime/idempotency.js";
import type { AppointmentRow, AppointmentStatusName } from "./db/appointment.table.js";
import type { AvailabilityRow } from "./db/availability.table.js";
import type { Database, Db } from "./db/database.js";
import type { ReasonVault } from "./reason-vault.js";
import type { ProviderRow } from "./db/provider.table.js";
import { toSchedule } from "./mappers/scheduling.mapper.js";
import { patientChangeClosesAt, patientMayChange } from "./patient-rules.js";
import { findAppointment, findAppointmentAndKey } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { findScheduleLocations } from "./repositories/location.repository.js";
import { findAvailability, findProvider, findResources } from "./repositories/provider.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import {
  appointmentChangedError,
  appointmentNotFoundError,
  illegalTransitionError,
  noAvailabilityError,
  patientChangeClosedError,
  providerNotFoundError,
  resourceNotFoundError,
  type AppointmentAction,
  type ProviderNaming,
} from "./scheduling.errors.js";
import type { Schedule } from "./slots.js";

/** Owner says whose appointments a caller allowed only their own may touch: as the patient, the doctor, or either. */
export type Owner = "patient" | "doctor" | "either";

/** audit builds one audit entry per appointment read or changed. */
export function audit(caller: Caller, action: string, rows: readonly AppointmentRow[], at: Date): NewAuditLogRow[] {
  return auditEntries(caller, action, at, "appointment", rows.map((r) => r.appointment_id));
}

/** AppointmentAccess reads providers and appointments for a call (see the file comment). */
export class AppointmentAccess {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    /** reasons open the stored responses of requestIds (and the free text of appointments). */
    readonly reasons: ReasonVault,
  ) {}

  /** requireProvider reads a provider (NOT_FOUND PROVIDER_NOT_FOUND). */
  async requireProvider(db: Db, providerId: string): Promise<ProviderRow> {
    const p = await findProvider(db, providerId);
    if (!p) throw providerNotFoundError(providerId);
    return p;
  }

  /** requireResources checks that every room and device exists (NOT_FOUND RESOURCE_NOT_FOUND). */
  async requireResources(resourceIds: string[]): Promise<void> {
    if (resourceIds.length === 0) return;
    const found = new Set((await findResources(this.db, resourceIds)).map((r) => r.resource_id));
    const missing = resourceIds.find((id) => !found.has(id));
    if (missing !== undefined) throw resourceNotFoundError(missing);
  }

  /** requireSchedule reads a provider's weekly pattern with its locations (FAILED_PRECONDITION NO_AVAILABILITY when never set). */
  async requireSchedule(provider: ProviderRow): Promise<Schedule> {
    const a: AvailabilityRow | undefined = await findAvailability(this.db, provider.provider_id);
    if (!a) throw noAvailabilityError(provider);
    return toSchedule(provider, a, await findScheduleLocations(this.db, provider.provider_id));
  }

  /**
   * providerNaming is a provider's name and zone for an error message (the id itself when the
   * provider is gone). Inside a transaction pass its `trx`: PGlite is one session, and a query on
   * this.db would wait for the transaction that waits for it.
   */
  async providerNaming(providerId: string, db: Db = this.db): Promise<ProviderNaming> {
    return (await findProvider(db, providerId)) ?? { display_name: providerId, time_zone: "UTC" };
  }

  /** refusal is the ILLEGAL_TRANSITION error for an appointment whose state does not allow `action` (read through `db`, the transaction when inside one). */
  async refusal(db: Db, row: AppointmentRow, action: AppointmentAction, allowed: AppointmentStatusName[]): Promise<Error> {
    return illegalTransitionError(await this.providerNaming(row.provider_id, db), row, action, allowed);
  }

  /**
   * changedMeanwhile is the error for a compare-and-swap that found the appointment no longer as read:
   * APPOINTMENT_CHANGED (retry) while the action is still allowed in its new state (e.g. checked in
   * meanwhile, with a ticket to settle), else ILLEGAL_TRANSITION.
   */
  async changedMeanwhile(trx: Db, current: AppointmentRow, action: AppointmentAction, from: AppointmentStatusName[]): Promise<Error> {
    const latest = (await findAppointment(trx, current.appointment_id)) ?? current;
    if (from.includes(latest.status)) return appointmentChangedError(await this.providerNaming(latest.provider_id, trx), latest, action);
    return this.refusal(trx, latest, action, from);
  }

  /** checkPatientMayChange refuses a patient's own change once patientMayChange says no (PATIENT_CHANGE_CLOSED); staff are not bound by it. */
  async checkPatientMayChange(caller: Caller, row: AppointmentRow, action: AppointmentAction, now: Date): Promise<void> {
    if (caller.role !== "patient" || patientMayChange(row, now)) return;
    throw patientChangeClosedError(await this.providerNaming(row.provider_id), row, action, patientChangeClosesAt(row));
  }

  /** replay answers a requestId seen before (committed): its first response, or ALREADY_EXISTS with other parameters. */
  async replay<S extends DescMessage>(db: Db, key: RequestKey, hash: string, schema: S): Promise<MessageShape<S> | undefined> {
    const existing = await REQUEST_KEYS.find(db, key);
    if (!existing) return undefined;
    return this.reasons.replay(schema, key, hash, existing);
  }

  /**
   * readCommand is a write RPC's read before the lock, in one statement: the first response when
   * the requestId was used before (or ALREADY_EXISTS), else the appointment, checked as
   * requireAppointment does.
   */
  async readCommand<S extends DescMessage>(
    key: RequestKey,
    hash: string,
    schema: S,
    appointmentId: string,
    caller: Caller,
    owner: Owner,
  ): Promise<{ replayed: MessageShape<S>; current?: undefined } | { replayed?: undefined; current: AppointmentRow }> {
    const found = await findAppointmentAndKey(this.db, appointmentId, key);
    if (found.requestKey) return { replayed: this.reasons.replay(schema, key, hash, found.requestKey) };
    return { current: await this.checkAppointment(found.appointment, appointmentId, caller, owner) };
  }

  /**
   * requireAppointment reads an appointment and checks ownership for callers allowed only their own:
   * a patient owns the appointments with their patientId, a doctor those with their providerId.
   * NOT_FOUND when it does not exist and, the same answer, when it is someone else's (as GetTicket does).
   */
  async requireAppointment(appointmentId: string, caller: Caller, owner: Owner): Promise<AppointmentRow> {
    return this.checkAppointment(await findAppointment(this.db, appointmentId), appointmentId, caller, owner);
  }

  /** checkAppointment is requireAppointment on a row already read. */
  private async checkAppointment(row: AppointmentRow | undefined, appointmentId: string, caller: Caller, owner: Owner): Promise<AppointmentRow> {
    if (!row) throw appointmentNotFoundError(appointmentId);
    if (caller.ownOnly) {
      const ownsAsPatient = caller.role === "patient" && row.patient_id === caller.subject;
      const ownsAsDoctor = caller.role === "doctor" && row.provider_id === caller.subject;
      const ok = owner === "patient" ? ownsAsPatient : owner === "doctor" ? ownsAsDoctor : ownsAsPatient || ownsAsDoctor;
      if (!ok) {
        await AUDIT_LOG.append(this.db, [{ ...auditBase(caller, "DeniedRead", this.clock.now()), record_type: "appointment", record_id: appointmentId }]);
        throw appointmentNotFoundError(appointmentId);
      }
    }
    return row;
  }
}
