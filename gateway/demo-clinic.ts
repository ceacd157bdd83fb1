// The demo clinic `npm start` seeds into a fresh DATA_DIR (DEMO_CLINIC): a small Turkish family
// health centre with three doctors, their weekly hours, two rooms, a walk-in queue and a few
// appointments in the coming days for five synthetic patient records, so that every screen has
// something to show and the dev doctor and patient tokens act on real records (their subjects are a
// provider and a patient record of it).
//
// It is seeded through the public API, in-process, with the service token (and the dev admin token
// for what only an administrator sets up: the clinic's two locations, their holidays and the visit
// types): the same validation, booking path, audit trail and rules as any client's calls. Every write
// is idempotent (client-chosen ids and request ids; appointments only while the dev doctor has none
// ahead), so seeding again changes nothing.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { durationFromMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Gender } from "../gen/medschedule/patient/v1/patient_pb.js";
import { PatientService } from "../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../gen/medschedule/queue/v1/queue_service_pb.js";
import { DayOfWeek, ResourceKind } from "../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { DEV_SUBJECTS } from "../services/runtime/auth/dev-tokens.js";
import type { ServiceRegistration } from "../services/runtime/server/grpc-server.js";
import { createInProcessTransport } from "../services/runtime/clients/in-process-transport.js";

/** DEMO_TIME_ZONE is the demo clinic's zone: the seeds were written for a clinic in Türkiye. */
export const DEMO_TIME_ZONE = "Europe/Istanbul";

/** DEMO_WALK_IN_QUEUE is the id of the demo clinic's walk-in queue. */
export const DEMO_WALK_IN_QUEUE = "danisma";

const WEEKDAYS = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY];

/** DemoProvider is one doctor of the demo clinic with the hours they work. */
interface DemoProvider {
  providerId: string;
  displayName: string;
  specialty: string;
  slotMinutes: number;
  hours: { dayOfWeek: DayOfWeek; startTime: string; endTime: string }[];
  breaks: { dayOfWeek: DayOfWeek; startTime: string; endTime: string }[];
}

/** DEMO_PROVIDERS are the demo clinic's doctors; the first is the dev doctor token's provider. */
export const DEMO_PROVIDERS: readonly DemoProvider[] = [
  {
    providerId: DEV_SUBJECTS.doctor,
    displayName: "Dr. Ayşe Yılmaz",
    specialty: "Aile Hekimliği",
    slotMinutes: 20,
    hours: [...WEEKDAYS.map((d) => ({ dayOfWeek: d, startTime: "08:30", endTime: "17:30" })), { dayOfWeek: DayOfWeek.SATURDAY, startTime: "09:00", endTime: "13:00" }],
    breaks: WEEKDAYS.map((d) => ({ dayOfWeek: d, startTime: "12:30", endTime: "13:30" })),
  },
  {
    providerId: "demo-mehmet-demir",
    displayName: "Dr. Mehmet Demir",
    specialty: "Çocuk Sağlığı ve Hastalıkları",
    slotMinutes: 30,
    hours: WEEKDAYS.map((d) => ({ dayOfWeek: d, startTime: "09:00", endTime: "17:00" })),
    breaks: WEEKDAYS.map((d) => ({ dayOfWeek: d, startTime: "12:00", endTime: "13:00" })),
  },
  {
    providerId: "demo-elif-kaya",
    displayName: "Dr. Elif Kaya",
    specialty: "Kardiyoloji",
    slotMinutes: 30,
    hours: [DayOfWeek.TUESDAY, DayOfWeek.THURSDAY].map((d) => ({ dayOfWeek: d, startTime: "10:00", endTime: "16:00" })),
    breaks: [],
  },
];

/** DEMO_BRANCH is the demo clinic's second location, where Dr. Elif Kaya sees patients on Thursdays. */
export const DEMO_BRANCH = "demo-moda";

/** Public holidays of Türkiye with a fixed date: the demo locations are closed on them. */
const FIXED_HOLIDAYS: [string, string][] = [
  ["01-01", "Yılbaşı"],
  ["04-23", "Ulusal Egemenlik ve Çocuk Bayramı"],
  ["05-01", "Emek ve Dayanışma Günü"],
  ["05-19", "Atatürk'ü Anma, Gençlik ve Spor Bayramı"],
  ["07-15", "Demokrasi ve Milli Birlik Günü"],
  ["08-30", "Zafer Bayramı"],
  ["10-29", "Cumhuriyet Bayramı"],
];

/** holidaysAround lists the fixed holidays of `now`'s year and the next, as closures. */
function holidaysAround(now: Date): { startDate: string; endDate: string; reason: string }[] {
  const year = now.getUTCFullYear();
  return [year, year + 1].flatMap((y) => FIXED_HOLIDAYS.map(([md, reason]) => ({ startDate: `${y}-${md}`, endDate: `${y}-${md}`, reason })));
}

const minutes = (n: number) => durationFromMs(n * 60_000);

/** seedLocations sets up, as an administrator, the clinic's locations (the default one becomes the main centre in Kadıköy, a branch in Moda) and their holidays. */
async function seedLocations(scheduling: Client<typeof SchedulingService>, now: Date): Promise<void> {
  const closures = holidaysAround(now);
  await scheduling.updateLocation({
    requestId: `demo-location-default-${now.getUTCFullYear()}`,
    location: { locationId: "default", displayName: "Kadıköy Aile Sağlığı Merkezi", timeZone: DEMO_TIME_ZONE, address: "Caferağa Mah. Moda Cad. No: 12, Kadıköy / İstanbul", closures },
    updateMask: { paths: ["display_name", "time_zone", "address", "closures"] },
  });
  await scheduling.createLocation({
    requestId: "demo-location-moda",
    locationId: DEMO_BRANCH,
    displayName: "Moda Şubesi",
    timeZone: DEMO_TIME_ZONE,
    address: "Moda Cad. No: 180, Kadıköy / İstanbul",
    closures,
  });
}

/** seedVisitTypes sets up, as an administrator, what patients and reception book: a family-medicine visit, a child check-up, a cardiology check and an ECG that needs the ECG device. */
async function seedVisitTypes(scheduling: Client<typeof SchedulingService>): Promise<void> {
  const [ayse, mehmet, elif] = DEMO_PROVIDERS;
  const visitTypes = [
    { visitTypeId: "demo-muayene", displayName: "Aile hekimliği muayenesi", duration: minutes(20), providerIds: [ayse.providerId], patientBookable: true, color: "#2f6fb3",
      rules: { minNotice: minutes(60), patientCancelCutoff: minutes(120), maxPerPatientPerDay: 1 } },
    { visitTypeId: "demo-cocuk-kontrol", displayName: "Çocuk sağlığı kontrolü", duration: minutes(30), providerIds: [mehmet.providerId], patientBookable: true, color: "#3f9a5a",
      rules: { minNotice: minutes(60), patientCancelCutoff: minutes(120) } },
    { visitTypeId: "demo-kardiyoloji", displayName: "Kardiyoloji kontrolü", duration: minutes(30), providerIds: [elif.providerId], patientBookable: true, color: "#b3452f",
      rules: { minNotice: minutes(24 * 60), patientCancelCutoff: minutes(24 * 60), maxPerPatientPerDay: 1 } },
    { visitTypeId: "demo-ekg", displayName: "EKG çekimi", duration: minutes(15), bufferAfter: minutes(5), providerIds: [elif.providerId], requiredCapabilities: ["ecg"], color: "#8a4fb3" },
  ];
  for (const vt of visitTypes) {
    await scheduling.createVisitType({ requestId: `demo-${vt.visitTypeId}`, visitType: { locationId: "default", ...vt } });
  }
}

/** DemoPatient is a synthetic patient of the demo clinic (made-up people, made-up numbers). */
interface DemoPatient {
  patientId: string;
  givenName: string;
  familyName: string;
  birthDate: string;
  gender: Gender;
  phone: string;
  medicalRecordNumber: string;
}

/**
 * DEMO_PATIENTS are the demo clinic's patients, registered at the main centre; the first is the dev
 * patient token's subject (DEV_SUBJECTS.patient), the others are booked with Dr. Ayşe Yılmaz.
 */
export const DEMO_PATIENTS: readonly DemoPatient[] = [
  { patientId: DEV_SUBJECTS.patient, givenName: "Zeynep", familyName: "Arslan", birthDate: "1988-04-12", gender: Gender.FEMALE, phone: "0532 000 00 01", medicalRecordNumber: "KDK-0001" },
  { patientId: "demo-patient-2", givenName: "Şükrü", familyName: "Öztürk", birthDate: "1954-11-03", gender: Gender.MALE, phone: "0532 000 00 02", medicalRecordNumber: "KDK-0002" },
  { patientId: "demo-patient-3", givenName: "Işık", familyName: "Çelik", birthDate: "1999-07-21", gender: Gender.FEMALE, phone: "0532 000 00 03", medicalRecordNumber: "KDK-0003" },
  { patientId: "demo-patient-4", givenName: "Emre", familyName: "Güneş", birthDate: "2017-02-08", gender: Gender.MALE, phone: "0532 000 00 04", medicalRecordNumber: "KDK-0004" },
  { patientId: "demo-patient-5", givenName: "Ayten", familyName: "Kılıç", birthDate: "1972-09-30", gender: Gender.FEMALE, phone: "0532 000 00 05", medicalRecordNumber: "KDK-0005" },
];

/** seedPatients registers the demo patients, as an administrator, with their client-chosen ids (a repeat replays by requestId). */
async function seedPatients(patients: Client<typeof PatientService>): Promise<void> {
  for (const p of DEMO_PATIENTS) {
    await patients.createPatient({
      requestId: `demo-clinic-patient-${p.patientId}`,
      patientId: p.patientId,
      givenName: p.givenName,
      familyName: p.familyName,
      birthDate: p.birthDate,
      gender: p.gender,
      phones: [p.phone],
      preferredLanguage: "tr",
      locationId: "default",
      medicalRecordNumber: p.medicalRecordNumber,
    });
  }
}

/** DemoSeedResult says what the seeding made. */
export interface DemoSeedResult {
  /** providers are the providerIds seeded. */
  providers: string[];
  /** appointments are the appointmentIds booked (none when an earlier seeding booked them). */
  appointments: string[];
}

/** DemoClients are the clients the seeding uses. */
interface DemoClients {
  scheduling: Client<typeof SchedulingService>;
  queue: Client<typeof QueueService>;
  patients: Client<typeof PatientService>;
}

function clientsOf(registrations: ServiceRegistration[], token: string): DemoClients {
  const transport = (typeName: string) => {
    const reg = registrations.find((r) => r.service.typeName === typeName);
    if (!reg) throw new Error(`seedDemoClinic: ${typeName} is not mounted in this process`);
    return createInProcessTransport(reg, () => ({ authorization: `Bearer ${token}` }));
  };
  return {
    scheduling: createClient(SchedulingService, transport(SchedulingService.typeName)),
    queue: createClient(QueueService, transport(QueueService.typeName)),
    patients: createClient(PatientService, transport(PatientService.typeName)),
  };
}

/** firstFreeSlots returns up to `count` free slots of a provider starting at or after `from`, searched day by day over two weeks. */
async function firstFreeSlots(c: DemoClients, providerId: string, from: Date, count: number): Promise<Date[]> {
  const found: Date[] = [];
  for (let day = 0; day < 14 && found.length < count; day++) {
    const start = new Date(from.getTime() + day * 86_400_000);
    const res = await c.scheduling.listAvailableSlots({
      providerId,
      startTime: timestampFromDate(start),
      endTime: timestampFromDate(new Date(start.getTime() + 86_400_000)),
    });
    for (const s of res.slots) {
      if (found.length < count && s.startTime) found.push(timestampDate(s.startTime));
    }
  }
  return found;
}

/**
 * seedDemoClinic creates the demo clinic through the services mounted in this process, calling with
 * `token` (the service token). The patients are real records of the patient service (DEMO_PATIENTS).
 * `now` places the appointments: the dev patient's next visits with
 * Dr. Ayşe Yılmaz (the dev doctor) and Dr. Elif Kaya, and four other demo patients booked with
 * Dr. Yılmaz at her next free times, so the doctor's and the reception's day are not empty.
 */
export async function seedDemoClinic(opts: { registrations: ServiceRegistration[]; token: string; adminToken?: string; now?: Date }): Promise<DemoSeedResult> {
  const c = clientsOf(opts.registrations, opts.token);
  const now = opts.now ?? new Date();
  // Locations, visit types and patient records are an administrator's to set up: seeded when a dev
  // admin token exists (without the patients, the patient check refuses the demo appointments).
  const asAdmin = opts.adminToken ? clientsOf(opts.registrations, opts.adminToken) : undefined;
  const admin = asAdmin?.scheduling;
  if (admin) await seedLocations(admin, now);
  if (asAdmin) await seedPatients(asAdmin.patients);
  for (const p of DEMO_PROVIDERS) {
    await c.scheduling.createProvider({ providerId: p.providerId, displayName: p.displayName, timeZone: DEMO_TIME_ZONE, specialty: p.specialty });
    await c.scheduling.setAvailability({
      providerId: p.providerId,
      // Dr. Elif Kaya's Thursdays are at the Moda branch (when the locations were set up).
      weeklyHours: p.hours.map((h) => (admin && p === DEMO_PROVIDERS[2] && h.dayOfWeek === DayOfWeek.THURSDAY ? { ...h, locationId: DEMO_BRANCH } : h)),
      breaks: p.breaks,
      slotDuration: durationFromMs(p.slotMinutes * 60_000),
      buffer: durationFromMs(0),
    });
  }
  await c.scheduling.createResource({ resourceId: "demo-oda-1", displayName: "Muayene Odası 1", kind: ResourceKind.ROOM, capabilities: ["exam"] });
  await c.scheduling.createResource({ resourceId: "demo-ekg", displayName: "EKG Cihazı", kind: ResourceKind.DEVICE, capabilities: ["ecg"] });
  if (admin) await seedVisitTypes(admin);
  await c.queue.createQueue({ queueId: DEMO_WALK_IN_QUEUE, displayName: "Danışma", prefix: "D", timeZone: DEMO_TIME_ZONE }).catch((err: unknown) => {
    // Seeded before: the queue is there.
    if (ConnectError.from(err).code !== Code.AlreadyExists) throw err;
  });

  const [ayse, , elif] = DEMO_PROVIDERS;
  // No patient records (no admin token to register them): no appointments either.
  if (!asAdmin) return { providers: DEMO_PROVIDERS.map((p) => p.providerId), appointments: [] };
  // Seeded before (the dev doctor has appointments ahead): book nothing more.
  const ahead = await c.scheduling.listAppointments({ providerId: ayse.providerId, startTime: timestampFromDate(now), pageSize: 1 });
  if (ahead.appointments.length > 0) return { providers: DEMO_PROVIDERS.map((p) => p.providerId), appointments: [] };
  // Appointments start at least 30 minutes from now, so they are bookable and can be checked in.
  const from = new Date(now.getTime() + 30 * 60_000);
  const day = now.toISOString().slice(0, 10);
  const ayseSlots = await firstFreeSlots(c, ayse.providerId, from, 5);
  const elifSlots = await firstFreeSlots(c, elif.providerId, new Date(from.getTime() + 7 * 86_400_000), 1);
  const bookings = [
    ...ayseSlots.map((start, i) => ({ providerId: ayse.providerId, patientId: DEMO_PATIENTS[i % DEMO_PATIENTS.length].patientId, start })),
    ...elifSlots.map((start) => ({ providerId: elif.providerId, patientId: DEV_SUBJECTS.patient, start })),
  ];
  const appointments: string[] = [];
  for (const [i, b] of bookings.entries()) {
    const res = await c.scheduling.bookAppointment({
      requestId: `demo-clinic-${day}-${i}`,
      providerId: b.providerId,
      patientId: b.patientId,
      startTime: timestampFromDate(b.start),
      reason: "Kontrol",
    });
    if (res.appointment) appointments.push(res.appointment.appointmentId);
  }
  return { providers: DEMO_PROVIDERS.map((p) => p.providerId), appointments };
}
