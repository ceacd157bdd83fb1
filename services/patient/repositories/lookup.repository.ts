// patient.lookups: the blind-index digests a patient is found by (search-terms.ts makes them), and the
// one query SearchPatients runs over them. The query never holds a name: only digests, kinds and
// the caller's location ids reach the database.
import { sql, type RawBuilder } from "kysely";
import type { Db } from "../db/database.js";
import type { LookupKind } from "../db/patient.table.js";
import { NameTermScore, type LookupTerm } from "../search-terms.js";

/** COMMON_WORD is how many patients' names a query word must already match, whole or as a beginning, to be searched as typed (no one-edit neighbours). */
export const COMMON_WORD = 100;

/** insertLookups adds lookup rows of any number of patients in one statement (arrays unnested: for bulk loads; a single record's go through patient.repository.ts replaceLookups). */
export async function insertLookups(db: Db, rows: ReadonlyArray<LookupTerm & { patientId: string }>): Promise<void> {
  if (rows.length === 0) return;
  const kinds = rows.map((r) => r.kind);
  const digests = rows.map((r) => r.digest.toString());
  const ids = rows.map((r) => r.patientId);
  await sql`insert into patient.lookups (kind, digest, patient_id)
    select * from unnest(${kinds}::text[], ${digests}::int8[], ${ids}::text[]) on conflict do nothing`.execute(db);
}

/** WordTerm is one digest a query word matches with, and how well (higher is better). */
export interface WordTerm {
  kind: LookupKind;
  digest: bigint;
  score: number;
}

/** CandidateQuery is what SearchPatients asks the database, all of it digests or ids. */
export interface CandidateQuery {
  /** words are, per query word, the digests that match it; a patient must match every word. */
  words: WordTerm[][];
  /** exact are digests a patient must have in lookups (phone, birth date). */
  exact: Array<{ kind: LookupKind; digest: bigint }>;
  /** nationalIdDigest is patients.national_id_digest, or undefined. */
  nationalIdDigest: string | undefined;
  /** mrnDigests are patients.mrn_digest values one of which must match (one per location), or undefined. */
  mrnDigests: string[] | undefined;
  /** locations are the locations a patient must be registered or served at (patient_locations), or undefined for any. */
  locations: string[] | undefined;
  /** limit is how many candidates to return at most. */
  limit: number;
}

/** Candidate is a patient that matches by digests, with its sealed data and the digest score. */
export interface Candidate {
  patient_id: string;
  data: string;
  score: number;
}

/** filters are the conditions on a candidate's id `b.patient_id` beyond the name words, each an index probe: not merged, exact digests, locations. */
function filters(q: CandidateQuery): RawBuilder<unknown> {
  // The merged rows are found through the partial index patients_merged (few rows), not the heap.
  const parts: RawBuilder<unknown>[] = [sql`not exists (select 1 from patient.patients mp where mp.patient_id = b.patient_id and mp.merged_into is not null)`];
  if (q.nationalIdDigest !== undefined) {
    parts.push(sql`exists (select 1 from patient.patients np where np.patient_id = b.patient_id and np.national_id_digest = ${q.nationalIdDigest})`);
  }
  if (q.mrnDigests !== undefined) parts.push(sql`exists (select 1 from patient.patients rp where rp.patient_id = b.patient_id and rp.mrn_digest = any(${q.mrnDigests}::text[]))`);
  for (const e of q.exact) {
    parts.push(sql`exists (select 1 from patient.lookups e where e.kind = ${e.kind} and e.digest = ${e.digest.toString()}::int8 and e.patient_id = b.patient_id)`);
  }
  if (q.locations !== undefined) {
    parts.push(sql`exists (select 1 from patient.patient_locations pl where pl.patient_id = b.patient_id and pl.location_id = any(${q.locations}::text[]))`);
  }
  return sql.join(parts, sql` and `);
}

/** base is the set the search starts from, (patient_id, score): the patients matching every name word, else those of the most selective exact criterion. */
function base(q: CandidateQuery): RawBuilder<unknown> {
  if (q.words.length > 0) {
    const word: number[] = [];
    const kinds: string[] = [];
    const digests: string[] = [];
    const scores: number[] = [];
    q.words.forEach((terms, w) => {
      for (const t of terms) {
        word.push(w);
        kinds.push(t.kind);
        digests.push(t.digest.toString());
        scores.push(t.score);
      }
    });
    // A word that is already the name, or the beginning of a name, of COMMON_WORD patients is taken as
    // typed: its one-edit neighbours (other real names, mostly) are not looked up, which keeps a
    // common name from matching its own patients once per neighbour. Then per patient and word its
    // best term; a patient stays when it matched every word.
    return sql`with t as (
        select * from unnest(${word}::int4[], ${kinds}::text[], ${digests}::int8[], ${scores}::int4[]) as t(word, kind, digest, score)
      ), common as (
        select w.word from (select distinct word from t) w
        where (select count(*) from (select 1 from t x join patient.lookups l on l.kind = x.kind and l.digest = x.digest
          where x.word = w.word and x.score >= ${NameTermScore.prefix} limit ${COMMON_WORD}) c) >= ${COMMON_WORD}
      )
      select patient_id, sum(score)::int4 as score from (
        select l.patient_id, max(t.score) as score
        from t join patient.lookups l on l.kind = t.kind and l.digest = t.digest
        where t.score >= ${NameTermScore.prefix} or t.word not in (select word from common)
        group by l.patient_id, t.word
      ) m group by patient_id having count(*) = ${q.words.length}`;
  }
  if (q.nationalIdDigest !== undefined) return sql`select patient_id, 0 as score from patient.patients where national_id_digest = ${q.nationalIdDigest}`;
  if (q.exact.length > 0) return sql`select patient_id, 0 as score from patient.lookups where kind = ${q.exact[0].kind} and digest = ${q.exact[0].digest.toString()}::int8`;
  if (q.mrnDigests !== undefined) return sql`select patient_id, 0 as score from patient.patients where mrn_digest = any(${q.mrnDigests}::text[])`;
  throw new Error("findCandidates needs a name word or an exact criterion");
}

/**
 * findCandidates returns the patients matching every query word and every exact criterion, best
 * digest score first (ties by id), at most `limit`, with their sealed data. Each word's digests are
 * looked up through the (kind, digest, patient_id) primary key; a patient's score is the sum over
 * words of its best term. The ranking reads no patient row: only the `limit` chosen are fetched.
 */
export async function findCandidates(db: Db, q: CandidateQuery): Promise<Candidate[]> {
  return (await candidatesQuery(q).execute(db)).rows;
}

/** candidatesQuery is findCandidates' statement (the tests EXPLAIN it). */
export function candidatesQuery(q: CandidateQuery): RawBuilder<Candidate> {
  return sql<Candidate>`with top as (
      select b.patient_id, b.score from (${base(q)}) b
      where ${filters(q)}
      order by b.score desc, b.patient_id limit ${q.limit}
    )
    select top.patient_id, p.data, top.score from top join patient.patients p on p.patient_id = top.patient_id
    order by top.score desc, top.patient_id`;
}

/** knownLocations are the locations patients are registered at (an MRN search by an unscoped caller naming none). */
export async function knownLocations(db: Db): Promise<string[]> {
  // A skip scan over patients_by_location: one index probe per distinct location.
  const { rows } = await sql<{ location_id: string }>`with recursive l(location_id) as (
      (select location_id from patient.patients order by location_id limit 1)
      union all
      select (select p.location_id from patient.patients p where p.location_id > l.location_id order by p.location_id limit 1) from l where l.location_id is not null
    ) select location_id from l where location_id is not null`.execute(db);
  return rows.map((r) => r.location_id);
}
