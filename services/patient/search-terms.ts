// The blind-index terms a patient record is found by (patient.lookups), and the same terms of a
// search: both sides go through these functions, so what a search asks for is what was stored.
//
// Names: folded to ASCII lower case with Turkish letters mapped to what a keyboard without them types
// (ş->s, ı/İ->i, ğ->g, ü->u, ö->o, ç->c; other marks dropped), split into words. Each word of 2+
// letters is stored whole ("name"), by its prefixes of 3+ letters ("name_prefix", so "yil" finds
// "Yılmaz"), and with each one letter left out ("name_edit": a word one typo away from it shares one
// of these, the deletion-neighbourhood idea of SymSpell). Every term is an HMAC digest under
// PATIENT_INDEX_KEY (BlindIndex.digest64): the database holds no name, prefix or letter of one.
import type { BlindIndex } from "../runtime/crypto/field-cipher.js";
import type { LookupKind } from "./db/patient.table.js";
import type { PatientData } from "./patient-vault.js";

/** LookupTerm is one digest to store or look up. */
export interface LookupTerm {
  kind: LookupKind;
  digest: bigint;
}

/** MIN_PREFIX is the shortest name prefix stored and searched (the "at least 3 letters"). */
export const MIN_PREFIX = 3;

const TURKISH: Record<string, string> = { ı: "i", İ: "i", ş: "s", Ş: "s", ğ: "g", Ğ: "g", ü: "u", Ü: "u", ö: "o", Ö: "o", ç: "c", Ç: "c" };

/** foldName folds a name to lower-case ASCII letters and spaces ("Şükrü Işık-Öz" -> "sukru isik oz"). */
export function foldName(name: string): string {
  return name
    .replace(/[ıİşŞğĞüÜöÖçÇ]/g, (c) => TURKISH[c])
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z]+/g, " ")
    .trim();
}

/** nameWords are the folded words of a name. */
export function nameWords(name: string): string[] {
  const folded = foldName(name);
  return folded === "" ? [] : folded.split(" ");
}

/** deletions are a word with each one letter left out (distinct). */
export function deletions(word: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i < word.length; i++) out.add(word.slice(0, i) + word.slice(i + 1));
  return [...out];
}

/** nameTerms are the stored terms of one name word. */
function nameTerms(word: string, index: BlindIndex): LookupTerm[] {
  const terms: LookupTerm[] = [{ kind: "name", digest: index.digest64("name", word) }];
  for (let n = MIN_PREFIX; n < word.length; n++) terms.push({ kind: "name_prefix", digest: index.digest64("name_prefix", word.slice(0, n)) });
  if (word.length >= 4) for (const d of deletions(word)) terms.push({ kind: "name_edit", digest: index.digest64("name_edit", d) });
  return terms;
}

/** lookupsOf are every term a record is found by: name words, phones (E.164), birth date. */
export function lookupsOf(data: PatientData, index: BlindIndex): LookupTerm[] {
  const terms: LookupTerm[] = [];
  const words = new Set([...nameWords(data.givenName), ...nameWords(data.familyName)].filter((w) => w.length >= 2));
  for (const w of words) terms.push(...nameTerms(w, index));
  for (const p of new Set(data.phones)) terms.push({ kind: "phone", digest: index.digest64("phone", p) });
  if (data.birthDate) terms.push({ kind: "birth_date", digest: index.digest64("birth_date", data.birthDate) });
  // One row per (kind, digest): a rare digest collision inside one record must not break the primary key.
  const seen = new Set<string>();
  return terms.filter((t) => {
    const k = `${t.kind}:${t.digest}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
