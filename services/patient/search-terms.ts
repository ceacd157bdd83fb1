// The blind-index terms a patient record is found by (patient.lookups), and the same terms of a
// search: both sides go through these functions, so what a search asks for is what was stored.
//
// Names: folded to ASCII lower case with Turkish letters mapped to what a keyboard without them types
// (ş->s, ı/İ->i, ğ->g, ü->u, ö->o, ç->c; other marks dropped), split into words. Each word of 2+
// letters is stored whole ("name"), by its prefixes of 3+ letters ("name_prefix", so "yil" finds
// "Yılmaz"), and with each one letter left out ("name_edit": a word one typo away from it shares one
// of these, the deletion-neighbourhood idea of SymSpell). Every term is an HMAC digest under
// PATIENT_INDEX_KEY (BlindIndex.digest64): the database holds no name, prefix or letter of one.
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";
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

/**
 * normalizePhone is a phone number in any common format ("0532 123 45 67", "(0532) 123-4567",
 * "905321234567", "+90 532 ...") as E.164, national numbers read in `region` (PATIENT_DEFAULT_REGION);
 * undefined when it is not a valid number (libphonenumber-js: maintained numbering plans).
 */
export function normalizePhone(text: string, region: string): string | undefined {
  const n = parsePhoneNumberFromString(text, region as CountryCode);
  return n?.isValid() ? n.number : undefined;
}

/** phoneTerm is the lookup term of an E.164 phone number. */
export function phoneTerm(e164: string, index: BlindIndex): LookupTerm {
  return { kind: "phone", digest: index.digest64("phone", e164) };
}

/** birthDateTerm is the lookup term of a birth date "YYYY-MM-DD". */
export function birthDateTerm(birthDate: string, index: BlindIndex): LookupTerm {
  return { kind: "birth_date", digest: index.digest64("birth_date", birthDate) };
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

/** NameTermScore ranks how a query word matched a stored word in the database, before decryption (higher is better). */
export const NameTermScore = { exact: 8, prefix: 6, oneLetter: 4, substituted: 3 } as const;

/**
 * queryTerms are the digests one folded query word matches with: the word whole ("name"), as the
 * beginning of a longer name ("name_prefix"), one letter missing (the word against stored
 * deletions), one letter extra (its deletions against stored words) and one letter changed or two
 * swapped (its deletions against stored deletions). Words of one letter match nothing here (they
 * filter after decryption); two-letter words only whole.
 */
export function queryTerms(word: string, index: BlindIndex): Array<LookupTerm & { score: number }> {
  if (word.length < 2) return [];
  const terms: Array<LookupTerm & { score: number }> = [{ kind: "name", digest: index.digest64("name", word), score: NameTermScore.exact }];
  if (word.length < MIN_PREFIX) return terms;
  terms.push({ kind: "name_prefix", digest: index.digest64("name_prefix", word), score: NameTermScore.prefix });
  terms.push({ kind: "name_edit", digest: index.digest64("name_edit", word), score: NameTermScore.oneLetter });
  if (word.length >= 4) {
    for (const d of deletions(word)) {
      terms.push({ kind: "name", digest: index.digest64("name", d), score: NameTermScore.oneLetter });
      terms.push({ kind: "name_edit", digest: index.digest64("name_edit", d), score: NameTermScore.substituted });
    }
  }
  return terms;
}

/** editDistance is the optimal-string-alignment distance (Damerau-Levenshtein with adjacent swaps) of two folded words. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev2 = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      cur.push(d);
    }
    [prev2, prev] = [prev, cur];
  }
  return prev[b.length];
}

/**
 * wordCost is how far a folded query word is from the nearest of a patient's folded name words:
 * 0 for the word itself, 0.5 for the beginning of one (3+ letters, or a one-letter initial), else
 * the edit distance to the whole word or to its beginning of about the same length (+0.25); Infinity
 * beyond one edit (a digest collision, or a word that does not match).
 */
export function wordCost(queryWord: string, words: readonly string[]): number {
  let best = Infinity;
  for (const w of words) {
    if (w === queryWord) return 0;
    if (w.startsWith(queryWord) && (queryWord.length >= MIN_PREFIX || queryWord.length === 1)) best = Math.min(best, 0.5);
    if (queryWord.length < MIN_PREFIX) continue;
    best = Math.min(best, editDistance(queryWord, w));
    for (const n of [queryWord.length - 1, queryWord.length, queryWord.length + 1]) {
      if (n >= MIN_PREFIX && n < w.length) best = Math.min(best, editDistance(queryWord, w.slice(0, n)) + 0.25);
    }
  }
  return best <= 1.25 ? best : Infinity;
}

/** lookupsOf are every term a record is found by: name words, phones (E.164), birth date. */
export function lookupsOf(data: PatientData, index: BlindIndex): LookupTerm[] {
  const terms: LookupTerm[] = [];
  const words = new Set([...nameWords(data.givenName), ...nameWords(data.familyName)].filter((w) => w.length >= 2));
  for (const w of words) terms.push(...nameTerms(w, index));
  for (const p of new Set(data.phones)) terms.push(phoneTerm(p, index));
  if (data.birthDate) terms.push(birthDateTerm(data.birthDate, index));
  // One row per (kind, digest): a rare digest collision inside one record must not break the primary key.
  const seen = new Set<string>();
  return terms.filter((t) => {
    const k = `${t.kind}:${t.digest}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
