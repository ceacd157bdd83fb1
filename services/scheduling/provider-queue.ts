// A provider's own queue, which CheckInAppointment creates on first use: its id, and a ticket
// prefix of its own, so two providers' queues in one waiting room never both call "A-001".
//
// The prefix is read from the provider's name, as a waiting room would letter it: "Dr. Ada Lovelace"
// gets "AL" (titles such as "Dr." or "Prof." left out; letters with accents or Turkish letters read
// as their base letters), then further readable letters of the name when that is taken ("ALO", ...),
// then the initials with one more letter, then any free two- or three-letter prefix. It is always
// 2-3 capital letters A-Z (the queue service's rule is 1-3), so it never looks like the one-letter
// prefixes staff give walk-in queues. Uniqueness is checked against the queues that exist when the
// queue is created; two providers' first check-ins racing could still pick the same prefix, which
// staff can see on the board and fix by creating the queue themselves.
import { createHash } from "node:crypto";

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Titles and degrees left out of a name before taking its letters (compared in A-Z after transliteration). */
const TITLES = new Set([
  "DR", "DRS", "PROF", "PROFESSOR", "DOC", "DOCTOR", "MD", "PHD", "MR", "MRS", "MS", "MISS", "MX", "SIR", "DAME",
  "UZM", "OP", "YRD", "ASSOC", "ASST", "ASSIST", "DT", "RN", "NP", "DDS", "DMD",
]);

/** Letters that Unicode decomposition does not reduce to A-Z. */
const SPECIAL: Record<string, string> = { ı: "i", ß: "ss", æ: "ae", Æ: "AE", ø: "o", Ø: "O", đ: "d", Đ: "D", ł: "l", Ł: "L", þ: "th", Þ: "TH", œ: "oe", Œ: "OE" };

/** providerQueueId is the queue a provider's check-ins go to: "prov-<providerId>", hashed when too long for an id. */
export function providerQueueId(providerId: string): string {
  const id = `prov-${providerId}`;
  return id.length <= 64 ? id : `prov-${createHash("sha256").update(providerId).digest("hex").slice(0, 40)}`;
}

/** nameWords are a display name's words in capital letters A-Z, titles left out. */
export function nameWords(displayName: string): string[] {
  const latin = [...displayName].map((c) => SPECIAL[c] ?? c).join("").normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  const words = latin.toUpperCase().split(/[^A-Z]+/).filter((w) => w.length > 0);
  return words.filter((w) => !TITLES.has(w));
}

/** readableCandidates are the prefixes a name suggests, best first: initials, then more of its letters. */
function readableCandidates(words: string[]): string[] {
  const out: string[] = [];
  if (words.length === 0) return out;
  const first = words[0];
  const last = words[words.length - 1];
  if (words.length >= 2) {
    out.push(first[0] + last[0]);
    if (words.length >= 3) out.push(words.slice(0, 3).map((w) => w[0]).join(""));
    out.push(first[0] + last.slice(0, 2), first.slice(0, 2) + last[0], first[0] + last[0] + last[last.length - 1]);
  } else {
    out.push(first.slice(0, 2), first.slice(0, 3), first[0] + first[first.length - 1]);
  }
  return out.filter((c) => c.length >= 2);
}

/**
 * providerQueuePrefix picks a provider queue's ticket prefix (2-3 letters A-Z) that no queue in
 * `taken` uses: readable letters of the name first (see the file header), else a fallback that always
 * finds a free one while any two- or three-letter prefix is free.
 */
export function providerQueuePrefix(displayName: string, taken: ReadonlySet<string>): string {
  const words = nameWords(displayName);
  const free = (c: string) => /^[A-Z]{2,3}$/.test(c) && !taken.has(c);
  for (const c of readableCandidates(words)) if (free(c)) return c;
  // The initials (or "P", for a name without Latin letters) and one more letter: ALA, ALB, ...
  const stem = words.length >= 2 ? words[0][0] + words[words.length - 1][0] : words.length === 1 ? words[0].slice(0, 2) : "P";
  for (const l of LETTERS) if (free(stem + l)) return stem + l;
  // Then every two-letter and three-letter prefix starting with the name's first letter, then all.
  const initial = stem[0];
  const order = [initial, ...LETTERS.replace(initial, "")];
  for (const a of order) for (const b of LETTERS) if (free(a + b)) return a + b;
  for (const a of order) for (const b of LETTERS) for (const c of LETTERS) if (free(a + b + c)) return a + b + c;
  // 18,252 queues: nothing is free. Duplicate the initials rather than fail a check-in.
  return stem.length >= 2 ? stem.slice(0, 3) : "PQ";
}
