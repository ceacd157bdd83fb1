// patient.lookups: the blind-index digests a patient is found by (search-terms.ts makes them), and the
// one query SearchPatients runs over them. The query never holds a name: only digests, kinds and
// the caller's location ids reach the database.
import { sql, type RawBuilder } from "kysely";
import type { Db } from "../db/database.js";
import type { LookupKind } from "../db/patient.table.js";
import type { LookupTerm } from "../search-terms.js";

/** replaceLookups sets a patient's lookup digests to `terms` (a create, an update of names, phones or birth date). */
export async function replaceLookups(db: Db, patientId: string, terms: readonly LookupTerm[]): Promise<void> {
  await db.deleteFrom("patient.lookups").where("patient_id", "=", patientId).execute();
  await insertLookups(db, terms.map((t) => ({ ...t, patientId })));
}

/** insertLookups adds lookup rows of any number of patients in one statement (arrays unnested: fast for bulk loads too). */
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

/** filters are the conditions on patients `p` beyond the name words: exact digests, locations, not merged. */
function filters(q: CandidateQuery): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [sql`p.merged_into is null`];
  if (q.nationalIdDigest !== undefined) parts.push(sql`p.national_id_digest = ${q.nationalIdDigest}`);
  if (q.mrnDigests !== undefined) parts.push(sql`p.mrn_digest = any(${q.mrnDigests}::text[])`);
  for (const e of q.exact) {
    parts.push(sql`exists (select 1 from patient.lookups e where e.kind = ${e.kind} and e.digest = ${e.digest.toString()}::int8 and e.patient_id = p.patient_id)`);
  }
  if (q.locations !== undefined) {
    parts.push(sql`exists (select 1 from patient.patient_locations pl where pl.patient_id = p.patient_id and pl.location_id = any(${q.locations}::text[]))`);
  }
  return sql.join(parts, sql` and `);
}

/**
 * findCandidates returns the patients matching every query word and every exact criterion, best
 * digest score first (ties by id), at most `limit`. Each word's digests are looked up through the
 * (kind, digest, patient_id) primary key; a patient's score is the sum over words of its best term.
 * Without words it is the exact criteria alone (ordered by id).
 */
export async function findCandidates(db: Db, q: CandidateQuery): Promise<Candidate[]> {
  return (await candidatesQuery(q).execute(db)).rows;
}

/** candidatesQuery is findCandidates' statement (the tests EXPLAIN it). */
export function candidatesQuery(q: CandidateQuery): RawBuilder<Candidate> {
  if (q.words.length === 0) {
    return sql<Candidate>`select p.patient_id, p.data, 0 as score from patient.patients p
      where ${filters(q)} order by p.patient_id limit ${q.limit}`;
  }
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
  // m: per patient and word, its best term; a patient stays when it matched every word.
  return sql<Candidate>`with t as (
      select * from unnest(${word}::int4[], ${kinds}::text[], ${digests}::int8[], ${scores}::int4[]) as t(word, kind, digest, score)
    ), m as (
      select l.patient_id, t.word, max(t.score) as score
      from t join patient.lookups l on l.kind = t.kind and l.digest = t.digest
      group by l.patient_id, t.word
    ), s as (
      select patient_id, sum(score)::int4 as score from m group by patient_id having count(*) = ${q.words.length}
    )
    select p.patient_id, p.data, s.score from s join patient.patients p on p.patient_id = s.patient_id
    where ${filters(q)}
    order by s.score desc, p.patient_id limit ${q.limit}`;
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
