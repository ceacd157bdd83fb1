// Synthetic patients for the patient tests and the bench: given and family names from lists (Turkish
// and others) combined at random with a seeded generator, birth dates, Turkish mobile numbers, valid
// T.C. Kimlik numbers, e-mail addresses and medical record numbers, all made up (never real people),
// and a bulk insert that writes them as the service does (sealed by PatientVault, lookups from
// lookupsOf) but many at a time.
import { sql, type Kysely } from "kysely";
import type { Database } from "../../services/patient/db/database.js";
import type { PatientVault, PatientData } from "../../services/patient/patient-vault.js";
import { insertLookups } from "../../services/patient/repositories/lookup.repository.js";
import { foldName, lookupsOf } from "../../services/patient/search-terms.js";
import { seededRandom } from "./seeded-random.js";

/** GIVEN_NAMES are given names the generator combines (Turkish ones first, then others). */
export const GIVEN_NAMES = [
  "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "İbrahim", "İsmail", "Osman", "Yusuf", "Murat", "Ömer", "Ramazan", "Halil",
  "Süleyman", "Abdullah", "Mahmut", "Recep", "Şükrü", "Fatma", "Ayşe", "Emine", "Hatice", "Zeynep", "Elif", "Meryem", "Şerife", "Zehra",
  "Sultan", "Hanife", "Merve", "Özlem", "Gülşen", "Çağrı", "Ilgaz", "Işıl", "Yağmur", "Gökhan", "Ümit", "Doğan", "Nurettin", "Ayşegül",
  "Bahattin", "Gülizar", "Mehtap", "Melek", "Yiğit", "Eren", "Can", "Deniz", "Ece", "İrem", "Büşra", "Tuğba", "Şeyma", "Kübra",
  "John", "Maria", "Anna", "Ivan", "Olga", "Ahmad", "Fatima", "Sophie", "Lukas", "Elena", "David", "Sarah", "Omar", "Leila", "Nikolai", "Chloé",
];

/** FAMILY_NAMES are family names the generator combines. */
export const FAMILY_NAMES = [
  "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan",
  "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek", "Polat", "Özer", "Işık", "Güneş", "Aksoy", "Erdoğan", "Çakır", "Uçar", "Karabulut",
  "Çiftçioğlu", "Kahramanoğlu", "Özyurt", "Yılmazer", "Keskin", "Bulut", "Türk", "Acar", "Tekin", "Ünal", "Sarı", "Güler", "Korkmaz",
  "Müller", "Schmidt", "Smith", "Ivanova", "Rossi", "García", "Novak", "Haddad", "Petrov", "Dubois", "Nowak", "Jansen",
];

/** LOCATIONS are the locations synthetic patients are registered at. */
export const LOCATIONS = ["default", "loc-north", "loc-south"];

/** SyntheticPatient is one generated record. */
export interface SyntheticPatient {
  patientId: string;
  locationId: string;
  data: PatientData;
}

/** nationalIdOf completes nine digits (the first not 0) into a valid T.C. Kimlik No (10th and 11th digits are its checksums). */
export function nationalIdOf(nine: string): string {
  const d = [...nine].map(Number);
  const odd = d[0] + d[2] + d[4] + d[6] + d[8];
  const even = d[1] + d[3] + d[5] + d[7];
  const d10 = (((odd * 7 - even) % 10) + 10) % 10;
  const d11 = (d.reduce((a, b) => a + b, 0) + d10) % 10;
  return `${nine}${d10}${d11}`;
}

/** pairOf is a name pair's folded key (to keep hand-written targets unique among generated patients). */
export function pairOf(givenName: string, familyName: string): string {
  return `${foldName(givenName)}|${foldName(familyName)}`;
}

/**
 * syntheticPatients makes `count` patients from `seed`: ids `${prefix}-<n>`, random name pairs
 * (none of `excludePairs`), birth dates 1940-2015, one or two phones +90 5xx, unique national ids
 * (none of `excludeValues`), an e-mail, a medical record number unique per location.
 */
export function syntheticPatients(count: number, seed: number, opts: { prefix?: string; excludePairs?: ReadonlySet<string>; excludeValues?: ReadonlySet<string> } = {}): SyntheticPatient[] {
  const rnd = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join("");
  const used = new Set(opts.excludeValues ?? []);
  const fresh = (make: () => string): string => {
    for (;;) {
      const v = make();
      if (!used.has(v)) return used.add(v), v;
    }
  };
  const out: SyntheticPatient[] = [];
  for (let i = 0; i < count; i++) {
    let given = pick(GIVEN_NAMES);
    let family = pick(FAMILY_NAMES);
    while (opts.excludePairs?.has(pairOf(given, family))) [given, family] = [pick(GIVEN_NAMES), pick(FAMILY_NAMES)];
    if (rnd() < 0.1) given = `${given} ${pick(GIVEN_NAMES)}`;
    const day = new Date(Date.UTC(1940, 0, 1) + Math.floor(rnd() * 75 * 365.25) * 86_400_000).toISOString().slice(0, 10);
    const phones = [fresh(() => `+905${pick(["30", "32", "33", "42", "44", "05", "55"])}${digits(7)}`)];
    if (rnd() < 0.2) phones.push(fresh(() => `+90212${digits(7)}`));
    const locationId = pick(LOCATIONS);
    out.push({
      patientId: `${opts.prefix ?? "pat"}-${i}`,
      locationId,
      data: {
        givenName: given,
        familyName: family,
        birthDate: day,
        phones,
        email: `${foldName(given).replace(/ /g, ".")}.${foldName(family)}${i}@example.com`,
        medicalRecordNumber: `MRN${100000 + i}`,
        nationalId: fresh(() => nationalIdOf(`${1 + Math.floor(rnd() * 9)}${digits(8)}`)),
        relatedPersons: [],
        notes: "",
      },
    });
  }
  return out;
}

/** insertPatients writes patients as CreatePatient stores them (sealed data, blind indexes, lookups, a patient_locations row), 500 per statement. */
export async function insertPatients(db: Kysely<Database>, vault: PatientVault, patients: readonly SyntheticPatient[], now = new Date()): Promise<void> {
  for (let i = 0; i < patients.length; i += 500) {
    const chunk = patients.slice(i, i + 500);
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto("patient.patients")
        .values(
          chunk.map((p) => ({
            patient_id: p.patientId,
            location_id: p.locationId,
            ...vault.seal(p.patientId, p.data),
            gender: "UNKNOWN" as const,
            preferred_language: "tr",
            consents: "[]",
            national_id_digest: vault.nationalIdDigest(p.data.nationalId),
            mrn_digest: vault.mrnDigest(p.locationId, p.data.medicalRecordNumber),
            version: 1,
            created_at: now,
            updated_at: now,
          })),
        )
        .execute();
      await insertLookups(trx, chunk.flatMap((p) => lookupsOf(p.data, vault.index).map((t) => ({ ...t, patientId: p.patientId }))));
      await trx.insertInto("patient.patient_locations").values(chunk.map((p) => ({ patient_id: p.patientId, location_id: p.locationId, since: now }))).execute();
    });
  }
  await sql`analyze patient.patients, patient.lookups, patient.patient_locations`.execute(db);
}

/** TARGETS are hand-written synthetic patients the search tests look for: name pairs, birth dates (1930-1935), phones and national ids no generated patient has. */
export const TARGETS: readonly SyntheticPatient[] = [
  target("tp-01", "loc-north", "Şükrü", "Işık", "1931-03-14", "+905321234567", "123456789"),
  target("tp-02", "default", "Nurettin", "Karabulut", "1932-07-01", "+905427654321", "234567891"),
  target("tp-03", "loc-south", "Ayşegül", "Kahramanoğlu", "1933-11-23", "+905051112233", "345678912"),
  target("tp-04", "default", "Gülizar", "Çiftçioğlu", "1934-05-05", "+905334445566", "456789123"),
  target("tp-05", "loc-north", "Chloé", "Dubois", "1935-09-30", "+33612345678", "567891234"),
];

function target(patientId: string, locationId: string, givenName: string, familyName: string, birthDate: string, phone: string, nine: string): SyntheticPatient {
  const email = `${foldName(givenName)}.${foldName(familyName)}@example.org`;
  return { patientId, locationId, data: { givenName, familyName, birthDate, phones: [phone], email, medicalRecordNumber: `MRN-${patientId.toUpperCase()}`, nationalId: nationalIdOf(nine), relatedPersons: [], notes: "" } };
}

/** seedDirectory inserts `count` generated patients (seeded) and the TARGETS; returns all of them. */
export async function seedDirectory(db: Kysely<Database>, vault: PatientVault, count: number, seed = 21): Promise<SyntheticPatient[]> {
  const excludePairs = new Set(TARGETS.map((p) => pairOf(p.data.givenName, p.data.familyName)));
  const excludeValues = new Set(TARGETS.flatMap((p) => [...p.data.phones, p.data.nationalId]));
  const all = [...syntheticPatients(count, seed, { excludePairs, excludeValues }), ...TARGETS];
  await insertPatients(db, vault, all);
  return all;
}
