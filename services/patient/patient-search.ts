// SearchPatients: finding a patient at the desk by name fragments, date of birth, phone, national id
// or medical record number, without the database ever holding or being asked a name.
//
// Names are found through blind-index digests (search-terms.ts): each query word asks for the digests
// of itself whole, as a prefix, and of its one-letter neighbours; the database returns the patients
// matching every word, best digest score first (lookup.repository.ts). Only the top MAX_CANDIDATES
// are decrypted and ranked again by the edit distance of the folded words, which also drops the
// false candidates of a digest collision. Exact criteria go through blind indexes too and are checked
// again on the decrypted record. Criteria combine with AND; merged records are left out.
//
// Who sees what: receptionists and doctors whose token lists locations see the patients registered
// or served at one of them (patient.patient_locations), unless they give an accessReason (then all,
// audited with the reason sealed); administrators and tokens without the claim see every patient.
// One audit row per search (record_type "patient_search", record_id the returned ids separated by
// spaces, null when none): who looked and which records they were shown, never what they typed.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { PatientService, type SearchPatientsRequest, type SearchPatientsResponseSchema } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { auditBase } from "../runtime/audit.js";
import { OutsideYourLocationsError, scopeOf } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import type { Clock } from "../runtime/clock.js";
import { definePageKind, type PageTokens } from "../runtime/page-token.js";
import { validate } from "../runtime/request/validation.js";
import type { Db } from "./db/database.js";
import type { PatientVault } from "./patient-vault.js";
import { findCandidates, knownLocations, type WordTerm } from "./repositories/lookup.repository.js";
import { birthDateTerm, foldName, nameWords, normalizePhone, phoneTerm, queryTerms, wordCost } from "./search-terms.js";

/** SEARCH_PAGE_SIZE is the page size when the request leaves it 0, and the largest allowed. */
export const SEARCH_PAGE_SIZE = 20;
/** MAX_CANDIDATES is how many digest matches a search decrypts and ranks: the most results it answers over all pages. */
export const MAX_CANDIDATES = 100;
/** MAX_QUERY_WORDS is how many words a name query may have. */
export const MAX_QUERY_WORDS = 6;

/** SEARCH_PAGE is SearchPatients' page token: an offset into the ranked results, bound to the criteria. */
export const SEARCH_PAGE = definePageKind(PatientService.method.searchPatients, { offset: "offset" });

/** ValidSearch is a validated SearchPatientsRequest. */
export interface ValidSearch {
  /** words are the distinct folded words of the name query (empty: no name criterion). */
  words: string[];
  birthDate: string | undefined;
  /** phone is E.164. */
  phone: string | undefined;
  nationalId: string | undefined;
  /** mrn is upper-cased, as its blind index is made. */
  mrn: string | undefined;
  locationId: string | undefined;
  pageSize: number;
  pageToken: string;
  accessReason: string | undefined;
}

/** validateSearch checks a SearchPatientsRequest; every violation at once, no value repeated in the words. */
export function validateSearch(req: SearchPatientsRequest, region: string): ValidSearch {
  return validate((v) => {
    v.string("query", req.query, { optional: true, max: 200 });
    const words = [...new Set(nameWords(req.query))];
    if (req.query.trim() !== "" && v.violations.length === 0) {
      const letters = words.reduce((n, w) => n + w.length, 0);
      if (letters < 3 || !words.some((w) => w.length >= 2)) {
        v.add("query", "needs at least 3 letters of a name in all, with a word of at least 2", "QUERY_TOO_SHORT");
      } else if (words.length > MAX_QUERY_WORDS) {
        v.add("query", `may have at most ${MAX_QUERY_WORDS} words`, "TOO_MANY_WORDS");
      }
    }
    v.localDate("birthDate", req.birthDate, { optional: true });
    let phone: string | undefined;
    if (req.phone !== "") {
      phone = req.phone.length <= 40 && !/[\u0000-\u001f]/.test(req.phone) ? normalizePhone(req.phone, region) : undefined;
      if (phone === undefined) v.add("phone", `is not a phone number; write it as dialled in ${region} ("0532 123 45 67") or with its country code ("+90 532 123 45 67")`, "INVALID_PHONE");
    }
    const nationalId = req.nationalId.replace(/\s+/g, "");
    if (req.nationalId !== "" && !/^[1-9][0-9]{10}$/.test(nationalId)) v.add("nationalId", "must be 11 digits, the first not 0", "INVALID_NATIONAL_ID");
    v.string("medicalRecordNumber", req.medicalRecordNumber, { optional: true, max: 64 });
    v.id("locationId", req.locationId, { optional: true });
    v.pageSize("pageSize", req.pageSize, SEARCH_PAGE_SIZE);
    v.pageToken("pageToken", req.pageToken);
    if (req.accessReason !== "") v.string("accessReason", req.accessReason, { min: 10, max: 500 });
    if (req.query.trim() === "" && req.birthDate === "" && req.phone === "" && req.nationalId === "" && req.medicalRecordNumber.trim() === "") {
      v.add("query", "give a name (at least 3 letters), a date of birth, a phone number, a national id or a medical record number", "NO_CRITERIA");
    }
    return {
      words,
      birthDate: req.birthDate || undefined,
      phone,
      nationalId: nationalId || undefined,
      mrn: req.medicalRecordNumber.trim().toUpperCase() || undefined,
      locationId: req.locationId || undefined,
      pageSize: req.pageSize === 0 ? SEARCH_PAGE_SIZE : req.pageSize,
      pageToken: req.pageToken,
      accessReason: req.accessReason.trim() || undefined,
    };
  });
}

/** limitedTo are the locations a caller's searches are limited to: a receptionist's or doctor's token `locations`; undefined for everywhere. */
function limitedTo(ctx: HandlerContext): string[] | undefined {
  const caller = callerOf(ctx);
  if (caller.role !== "receptionist" && caller.role !== "doctor") return undefined;
  const scope = scopeOf(ctx);
  return scope.all ? undefined : [...scope.locations];
}

/** Ranked is a candidate after decryption, with its cost (lower is better). */
interface Ranked {
  patientId: string;
  givenName: string;
  familyName: string;
  birthDate: string;
  medicalRecordNumber: string;
  cost: number;
  score: number;
  sortName: string;
}

/** PatientSearch serves SearchPatients (see the file comment). */
export class PatientSearch {
  constructor(
    private readonly deps: { db: Db; vault: PatientVault; clock: Clock; pageTokens: PageTokens; region: string },
  ) {}

  /** searchPatients answers one page of the best matches (the file comment says how). */
  async searchPatients(req: SearchPatientsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SearchPatientsResponseSchema>> {
    const { db, vault, clock, pageTokens } = this.deps;
    const s = validateSearch(req, this.deps.region);
    const binding = [s.words, s.birthDate ?? null, s.phone ?? null, s.nationalId ?? null, s.mrn ?? null, s.locationId ?? null, s.accessReason !== undefined];
    const offset = pageTokens.open(SEARCH_PAGE, s.pageToken, binding)?.offset ?? 0;

    const limited = s.accessReason === undefined ? limitedTo(ctx) : undefined;
    if (limited && s.locationId !== undefined && !limited.includes(s.locationId)) throw new OutsideYourLocationsError(undefined, s.locationId);
    const locations = s.locationId !== undefined ? [s.locationId] : limited;
    const mrnLocations = s.mrn === undefined ? [] : (locations ?? (await knownLocations(db)));

    const idx = vault.index;
    const words: WordTerm[][] = s.words.map((w) => queryTerms(w, idx)).filter((t) => t.length > 0);
    const exact = [...(s.phone ? [phoneTerm(s.phone, idx)] : []), ...(s.birthDate ? [birthDateTerm(s.birthDate, idx)] : [])];
    const candidates = await findCandidates(db, {
      words,
      exact,
      nationalIdDigest: s.nationalId !== undefined ? (vault.nationalIdDigest(s.nationalId) ?? undefined) : undefined,
      mrnDigests: s.mrn !== undefined ? mrnLocations.map((l) => vault.mrnDigest(l, s.mrn!)!) : undefined,
      locations,
      limit: MAX_CANDIDATES,
    });

    const ranked: Ranked[] = [];
    for (const c of candidates) {
      const d = vault.open(c.patient_id, c.data);
      // A digest collision (64-bit name, phone and birth-date digests) is dropped here.
      if (s.birthDate !== undefined && d.birthDate !== s.birthDate) continue;
      if (s.phone !== undefined && !d.phones.includes(s.phone)) continue;
      if (s.nationalId !== undefined && d.nationalId !== s.nationalId) continue;
      if (s.mrn !== undefined && d.medicalRecordNumber.toUpperCase() !== s.mrn) continue;
      const names = [...nameWords(d.givenName), ...nameWords(d.familyName)];
      let cost = 0;
      for (const w of s.words) cost += wordCost(w, names);
      if (!Number.isFinite(cost)) continue;
      ranked.push({
        patientId: c.patient_id,
        givenName: d.givenName,
        familyName: d.familyName,
        birthDate: d.birthDate,
        medicalRecordNumber: d.medicalRecordNumber,
        cost,
        score: c.score,
        sortName: `${foldName(d.familyName)}\u0000${foldName(d.givenName)}`,
      });
    }
    ranked.sort((a, b) => a.cost - b.cost || b.score - a.score || (a.sortName < b.sortName ? -1 : a.sortName > b.sortName ? 1 : 0) || (a.patientId < b.patientId ? -1 : 1));
    const page = ranked.slice(offset, offset + s.pageSize);
    const next = offset + s.pageSize < ranked.length ? pageTokens.seal(SEARCH_PAGE, { offset: offset + s.pageSize }, binding) : "";

    await db
      .insertInto("patient.audit_log")
      .values({
        ...auditBase(callerOf(ctx), "SearchPatients", clock.now()),
        record_type: "patient_search",
        record_id: page.length > 0 ? page.map((p) => p.patientId).join(" ") : null,
        access_reason: s.accessReason !== undefined ? vault.sealReason(s.accessReason) : null,
      })
      .execute();
    return {
      patients: page.map((p) => ({ patientId: p.patientId, givenName: p.givenName, familyName: p.familyName, birthDate: p.birthDate, medicalRecordNumber: p.medicalRecordNumber })),
      nextPageToken: next,
    };
  }
}
