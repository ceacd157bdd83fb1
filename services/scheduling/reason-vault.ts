// ReasonVault seals the free text the scheduling schema keeps about a patient's visit (DESIGN.md
// invariant 10): an appointment's reason and cancellation reason, staff's override reason in the audit
// log, and the stored first responses of requestId replay (which carry the appointment, reason
// included). AES-256-GCM through FieldCipher under SCHEDULING_ENCRYPTION_KEYS, the scheduling
// service's own key ring; each value is bound to its row and column ("appointment/<id>/reason"), so a
// value copied to another row does not open. Rows written before sealing existed keep a null key id
// (plaintext) until ReasonSealer (reason-sealer.ts) seals them when the service starts.
import { randomBytes } from "node:crypto";
import { ConfigError, type Config } from "../runtime/config.js";
import { FieldCipher, parseKeys, UndecryptableError } from "../runtime/crypto/field-cipher.js";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { replayStored, type RequestKey, type StoredRequest } from "../runtime/idempotency.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import { reasonUnreadableError } from "./reason.errors.js";

/** ReasonColumn is a sealed free-text column of scheduling.appointments. */
export type ReasonColumn = "reason" | "cancel_reason";

/** SealedText is a free-text value as stored: the value (sealed, or "" for none) and the id of the key that sealed it (null: plaintext, written before sealing, or empty). */
export interface SealedText {
  /** value is what the column holds. */
  value: string;
  /** keyId is the sealing key's id; null for "" and for plaintext not sealed yet. */
  keyId: string | null;
}

/** NO_TEXT is an empty free-text value as stored. */
export const NO_TEXT: SealedText = { value: "", keyId: null };

/** SEALED_RESPONSE is the first byte of a sealed stored response; a protobuf message never starts with 0 (field number 0 does not exist). */
const SEALED_RESPONSE = 0;

/** OVERRIDE_AAD binds an audit row's override reason (the row id is not known before the insert). */
const OVERRIDE_AAD = "scheduling-audit/override_reason";

/** ReasonVault seals and opens the scheduling schema's free text about patients (see the file comment). */
export class ReasonVault {
  constructor(
    /** cipher holds SCHEDULING_ENCRYPTION_KEYS. */
    readonly cipher: FieldCipher,
  ) {}

  /** seal encrypts `text` for `column` of appointment `appointmentId`; "" stays "" (nothing to hide). */
  seal(appointmentId: string, column: ReasonColumn, text: string): SealedText {
    if (text === "") return { value: "", keyId: null };
    return { value: this.cipher.encrypt(text, columnAad(appointmentId, column)), keyId: this.cipher.currentKeyId };
  }

  /** open decrypts a stored value (plaintext when its key id is null); REASON_UNREADABLE when no key of the ring opens it. */
  open(appointmentId: string, column: ReasonColumn, stored: SealedText): string {
    if (stored.keyId === null || stored.value === "") return stored.value;
    return this.guard(() => this.cipher.decrypt(stored.value, columnAad(appointmentId, column)));
  }

  /** reasonOf is an appointment row's reason, opened. */
  reasonOf(row: Pick<AppointmentRow, "appointment_id" | "reason" | "reason_key_id">): string {
    return this.open(row.appointment_id, "reason", { value: row.reason, keyId: row.reason_key_id });
  }

  /** cancelReasonOf is an appointment row's cancellation reason, opened. */
  cancelReasonOf(row: Pick<AppointmentRow, "appointment_id" | "cancel_reason" | "cancel_reason_key_id">): string {
    return this.open(row.appointment_id, "cancel_reason", { value: row.cancel_reason, keyId: row.cancel_reason_key_id });
  }

  /** sealOverride encrypts staff's override reason for scheduling.audit_log (with the key id for override_reason_key_id). */
  sealOverride(text: string): SealedText {
    return { value: this.cipher.encrypt(text, OVERRIDE_AAD), keyId: this.cipher.currentKeyId };
  }

  /** openOverride decrypts an audit row's override reason. */
  openOverride(stored: SealedText): string {
    return stored.keyId === null ? stored.value : this.guard(() => this.cipher.decrypt(stored.value, OVERRIDE_AAD));
  }

  /** sealResponse encrypts a requestId's first response (binary protobuf) for scheduling.request_keys.response. */
  sealResponse(key: RequestKey, response: Uint8Array): Buffer {
    const sealed = this.cipher.encrypt(Buffer.from(response).toString("base64"), responseAad(key));
    return Buffer.concat([Buffer.of(SEALED_RESPONSE), Buffer.from(sealed, "utf8")]);
  }

  /** openResponse decrypts a stored response (one stored before sealing existed is returned as it is). */
  openResponse(key: RequestKey, stored: Uint8Array): Uint8Array {
    if (!isSealedResponse(stored)) return stored;
    const text = Buffer.from(stored.subarray(1)).toString("utf8");
    return Buffer.from(this.guard(() => this.cipher.decrypt(text, responseAad(key))), "base64");
  }

  /** openStored is a stored requestId with its response opened, for replayStored. */
  openStored<T extends StoredRequest>(key: RequestKey, stored: T): T {
    return stored.response === null ? stored : { ...stored, response: Buffer.from(this.openResponse(key, stored.response)) };
  }

  /** replay is replayStored (runtime/idempotency.ts) of a stored requestId whose response is sealed. */
  replay<S extends DescMessage>(schema: S, key: RequestKey, hash: string, stored: StoredRequest): MessageShape<S> {
    return replayStored(schema, key, hash, this.openStored(key, stored));
  }

  /** responseKeyId is the id of the key a stored response was sealed with (null: plaintext). */
  responseKeyId(stored: Uint8Array): string | null {
    return isSealedResponse(stored) ? this.cipher.keyIdOf(Buffer.from(stored.subarray(1, 40)).toString("utf8")) : null;
  }

  private guard(open: () => string): string {
    try {
      return open();
    } catch (err) {
      if (err instanceof UndecryptableError) throw reasonUnreadableError();
      throw err;
    }
  }
}

/** isSealedResponse tells a sealed stored response from a plaintext one. */
export function isSealedResponse(stored: Uint8Array): boolean {
  return stored.length > 0 && stored[0] === SEALED_RESPONSE;
}

function columnAad(appointmentId: string, column: ReasonColumn): string {
  return `appointment/${appointmentId}/${column}`;
}

function responseAad(key: RequestKey): string {
  return `request-key/${JSON.stringify([key.caller, key.rpc, key.requestId])}`;
}

/**
 * reasonVaultFromConfig builds the vault from SCHEDULING_ENCRYPTION_KEYS; without it the scheduling
 * service does not start (it never stores a patient's free text in plaintext). `npm start` generates
 * the keys into DATA_DIR.
 */
export function reasonVaultFromConfig(config: Pick<Config, "schedulingEncryptionKeys">): ReasonVault {
  if (!config.schedulingEncryptionKeys) {
    throw new ConfigError(
      "the scheduling service needs SCHEDULING_ENCRYPTION_KEYS (id:base64key[,...], 32-byte keys): an appointment's reason is never stored in plaintext (npm start generates the keys into DATA_DIR)",
    );
  }
  return new ReasonVault(new FieldCipher(parseKeys(config.schedulingEncryptionKeys, "SCHEDULING_ENCRYPTION_KEYS")));
}

let processVault: ReasonVault | undefined;

/**
 * ephemeralReasonVault seals with a random key made once per process: for a service class built
 * without a vault (unit tests). Every instance of the process shares it (replicas in one test read
 * each other's rows); what it seals no other process opens. Never plaintext.
 */
export function ephemeralReasonVault(): ReasonVault {
  processVault ??= new ReasonVault(new FieldCipher([{ id: "ephemeral", key: randomBytes(32) }]));
  return processVault;
}
