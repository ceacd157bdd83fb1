// Application-level encryption of patient data (DESIGN.md invariant 10): AES-256-GCM from node:crypto,
// one random 96-bit nonce per value, the key id written in front of each value so that keys rotate
// without downtime (the first key of the ring encrypts, every key of it decrypts, a re-encryption
// job moves old values to the first key), and "additional authenticated data" naming the record and
// field, so a value copied to another row or column does not decrypt.
//
// A stored value is text: `<keyId>:<base64 of nonce(12) | ciphertext | tag(16)>`. Base64 never holds
// a readable run of the plaintext, so a dump of the table shows none.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/** KEY_ID is the shape of a key id: what may stand before the colon. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** EncryptionKey is one AES-256 key of a ring and the id stored with what it encrypts. */
export interface EncryptionKey {
  /** id is stored in front of each value (1-32 of [A-Za-z0-9_-]). */
  id: string;
  /** key is 32 bytes. */
  key: Buffer;
}

/** KeySpecError is a malformed key list; the message names the variable and never shows a key. */
export class KeySpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeySpecError";
  }
}

/**
 * parseKeys reads `id:base64key[,id:base64key...]` (the first one encrypts), as PATIENT_ENCRYPTION_KEYS
 * and SCHEDULING_ENCRYPTION_KEYS are written. Each key is 32 bytes in base64 or base64url; ids unique.
 */
export function parseKeys(spec: string, variable: string): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  for (const [i, part] of spec.split(",").map((p) => p.trim()).entries()) {
    const colon = part.indexOf(":");
    const id = colon > 0 ? part.slice(0, colon) : "";
    if (!KEY_ID.test(id)) throw new KeySpecError(`${variable}: entry ${i + 1} must be id:base64key with an id of 1-32 letters, digits, - or _`);
    const key = Buffer.from(part.slice(colon + 1), "base64");
    if (key.length !== 32) throw new KeySpecError(`${variable}: key "${id}" must be 32 bytes (44 characters of base64), got ${key.length} bytes`);
    if (keys.some((k) => k.id === id)) throw new KeySpecError(`${variable}: key id "${id}" appears twice`);
    keys.push({ id, key });
  }
  if (keys.length === 0) throw new KeySpecError(`${variable} holds no key`);
  return keys;
}

/** newKeySpec makes a fresh `id:base64key` entry (what `npm start` writes into DATA_DIR). */
export function newKeySpec(id = `k${new Date().toISOString().slice(0, 10).replace(/-/g, "")}`): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

/** UndecryptableError is a stored value no key of the ring opens: an unknown key id, or tampering. */
export class UndecryptableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UndecryptableError";
  }
}

/** FieldCipher encrypts and decrypts values with a key ring (see the file comment). */
export class FieldCipher {
  private readonly byId: ReadonlyMap<string, Buffer>;
  /** currentKeyId is the id of the key that encrypts. */
  readonly currentKeyId: string;

  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new KeySpecError("a key ring needs at least one key");
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.currentKeyId = keys[0].id;
  }

  /** encrypt seals `plaintext` with the current key, bound to `aad` (e.g. "patient/pat-1/data"). */
  encrypt(plaintext: string, aad: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.byId.get(this.currentKeyId)!, nonce);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${this.currentKeyId}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64")}`;
  }

  /** decrypt opens a value sealed by any key of the ring for the same `aad`. */
  decrypt(value: string, aad: string): string {
    const colon = value.indexOf(":");
    const key = colon > 0 ? this.byId.get(value.slice(0, colon)) : undefined;
    if (!key) throw new UndecryptableError(`no key of the ring has the id this value was sealed with (${colon > 0 ? JSON.stringify(value.slice(0, Math.min(colon, 32))) : "none"})`);
    const raw = Buffer.from(value.slice(colon + 1), "base64");
    if (raw.length < NONCE_BYTES + TAG_BYTES) throw new UndecryptableError("a sealed value is too short");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new UndecryptableError("a sealed value does not authenticate (tampered, or moved from another record or field)");
    }
  }

  /** keyIdOf is the id a value was sealed with. */
  keyIdOf(value: string): string {
    return value.slice(0, Math.max(0, value.indexOf(":")));
  }

  /** isCurrent tells whether a value is sealed with the current key (the re-encryption job skips it). */
  isCurrent(value: string): boolean {
    return this.keyIdOf(value) === this.currentKeyId;
  }
}

/**
 * BlindIndex turns a value into a keyed digest for exact lookups in the database without storing the
 * value (HMAC-SHA256 under PATIENT_INDEX_KEY, domain-separated by `kind`). Equal values give equal
 * digests: that equality is what an index needs and all a reader of the database learns.
 */
export class BlindIndex {
  private readonly key: Buffer;

  /** `secret` is PATIENT_INDEX_KEY: base64 of at least 32 bytes. */
  constructor(secret: string | Buffer, variable = "PATIENT_INDEX_KEY") {
    this.key = typeof secret === "string" ? Buffer.from(secret, "base64") : secret;
    if (this.key.length < 32) throw new KeySpecError(`${variable} must be at least 32 bytes in base64, got ${this.key.length} bytes`);
  }

  /** digest is the full index value (base64url, 43 characters) of `value` as a `kind` ("national_id", "phone"). */
  digest(kind: string, value: string): string {
    return createHmac("sha256", this.key).update(kind).update("\0").update(value).digest("base64url");
  }

  /** digest64 is the first 8 bytes of the digest as a signed bigint: compact for many-per-record indexes (name search), where a rare collision only adds a candidate that the decrypted check drops. */
  digest64(kind: string, value: string): bigint {
    return createHmac("sha256", this.key).update(kind).update("\0").update(value).digest().readBigInt64BE(0);
  }
}
