// What a capability is (a room's or device's, or one a visit type requires): lower case letters,
// digits, '_' and '-', 1-40 of them, never changed ("Ultrasound" is refused, not lower-cased). A leaf
// module, so that every validation file can use it without an import cycle.
import type { RequestValidator } from "../runtime/request/validation.js";

const CAPABILITY = /^[a-z0-9_-]{1,40}$/;

/**
 * validateCapabilities checks a list of capabilities: at most `max`, each well-formed, and (unless
 * `repeats` allows it: a visit type needing two ultrasound devices) none twice. Returns a copy.
 */
export function validateCapabilities(v: RequestValidator, field: string, values: readonly string[], opts: { max: number; repeats?: boolean }): string[] {
  if (values.length > opts.max) v.add(field, `must have at most ${opts.max} entries (got ${values.length})`, "TOO_MANY");
  const seen = new Map<string, number>();
  values.forEach((c, i) => {
    if (!CAPABILITY.test(c)) v.add(`${field}[${i}]`, 'must be 1-40 lower-case letters, digits, "_" or "-", e.g. "ultrasound"', "INVALID_CAPABILITY");
    const first = seen.get(c);
    if (first !== undefined && !opts.repeats) v.add(`${field}[${i}]`, `duplicates ${field}[${first}]`, "DUPLICATE");
    else if (first === undefined) seen.set(c, i);
  });
  return [...values];
}
