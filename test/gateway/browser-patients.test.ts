/// <reference lib="dom" />
// Patients in the web app, in a real browser against the real services (issue 21): reception
// registers a patient whose name has Turkish letters, finds them again by typing it in ASCII, picks
// them and books for them, and then sees their name in the day's list (a doctor too); an old id
// without a record is shown as the id and breaks nothing. A national id whose check digits do not
// add up is refused by the service and said in words next to that field. The display board never
// asks the patient service anything (every request the page makes is recorded). A patient sees their
// own record and changes their phone (a change made meanwhile elsewhere is not overwritten: they are
// told to reload). A Turkish browser gets the new screens in Turkish. A phone fits them. Staff of
// another location open a record only with a reason typed for that record (break-the-glass); the
// staff view shows phones as dialled, notes and related persons; a stored language other than
// Turkish or English is shown as itself and kept; no error shows the server's raw message.
import t from "tap";
import pg from "pg";
import type { Page, Request } from "playwright-core";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { ContactChannel, Gender, Relationship } from "../../gen/medschedule/patient/v1/patient_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { book, createOpenProvider, focused, LOCAL_TZ, overflow, PHONE, shot, startWebSystem } from "../helpers/browser.js";
import { TEST_SECRET } from "../helpers/system.js";

const sys = await startWebSystem(t);
const providerId = await createOpenProvider(sys, "Dr. Deniz Aksoy", LOCAL_TZ, 60);
const desk = await sys.token(["receptionist"], "desk-1");

/** patientRows counts the patient records in the database. */
async function patientRows(): Promise<number> {
  const db = new pg.Client({ connectionString: sys.databaseUrl });
  await db.connect();
  try {
    return Number((await db.query("SELECT count(*) AS n FROM patient.patients")).rows[0].n);
  } finally {
    await db.end();
  }
}

/** patientRequests records the PatientService calls a page makes (every request, filtered by path). */
function patientRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on("request", (r: Request) => {
    if (r.url().includes("medschedule.patient.v1.PatientService/")) seen.push(new URL(r.url()).pathname);
  });
  return seen;
}

/** fillRegistration fills the open registration form and saves it. */
async function fillRegistration(page: Page, f: { given: string; family: string; birth: string; phone?: string; email?: string; nationalId?: string }): Promise<void> {
  const form = page.locator('[data-testid="register-patient"]');
  await form.waitFor();
  await form.getByLabel("Given name", { exact: true }).fill(f.given);
  await form.getByLabel("Family name", { exact: true }).fill(f.family);
  await form.getByLabel("Date of birth", { exact: true }).fill(f.birth);
  await form.getByLabel("Gender", { exact: true }).selectOption({ label: "Male" });
  if (f.phone) await form.getByLabel("Phone", { exact: true }).fill(f.phone);
  if (f.email) await form.getByLabel("Email", { exact: true }).fill(f.email);
  await form.getByLabel("Preferred language", { exact: true }).selectOption("tr");
  await form.getByLabel("Agrees to text messages", { exact: true }).check();
  if (f.nationalId) await form.getByLabel(/T\.C\. Kimlik No/).fill(f.nationalId);
  await form.getByRole("button", { name: "Save" }).click();
}

/** sukru is the patient reception registers in the first test and finds in the second. */
let sukru = "";

t.test("reception registers Şükrü Işıkoğlu, books for him, and sees his name in the day's lists (the doctor too)", async (t) => {
  const { ctx, page } = await sys.open(desk, "/booking");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000); // a hang guard: a missing element fails with its name

  await page.locator("#patient-new").click();
  await fillRegistration(page, { given: "Şükrü", family: "Işıkoğlu", birth: "1985-03-07", phone: "0532 123 45 67", email: "sukru.isikoglu@example.com", nationalId: "10000000146" });
  const picked = page.locator('[data-testid="patient-picked"]');
  await picked.waitFor();
  t.match(await picked.innerText(), /Şükrü Işıkoğlu/, "the new patient is chosen, by name");
  const patientId = (await picked.getAttribute("data-patient"))!;
  sukru = patientId;
  t.match(patientId, /^\S+$/, "and carries the record's id");
  t.equal(await page.locator("#patient").inputValue(), patientId, "the patient id field holds the new record's id");
  t.equal((await focused(page)).id, "patient-change", "the keyboard's focus is on Change");
  const stored = (await sys.patient.getPatient({ patientId }, sys.admin)).patient!;
  t.equal(stored.givenName, "Şükrü");
  t.equal(stored.familyName, "Işıkoğlu");
  t.equal(stored.birthDate, "1985-03-07");
  t.equal(stored.gender, Gender.MALE);
  t.same(stored.phones, ["+905321234567"], "the phone is stored as E.164");
  t.equal(stored.preferredLanguage, "tr");
  t.equal(stored.locationId, "default", "registered at the desk's location");
  t.ok(stored.consents.some((c) => c.channel === ContactChannel.SMS && c.granted), "SMS consent recorded");
  t.notOk(stored.consents.some((c) => c.channel === ContactChannel.EMAIL && c.granted), "email consent not given");

  // Book the first free slot for him.
  const slot = page.locator(".slot").first();
  const start = new Date((await slot.getAttribute("data-start"))!);
  await slot.click();
  await page.locator("#confirm").click();
  await page.getByText(/^Booked /).waitFor();
  const mine = await sys.scheduling.listAppointments(
    { patientId, startTime: { seconds: BigInt(Math.floor(Date.now() / 1000) - 3600) }, endTime: { seconds: BigInt(Math.floor(Date.now() / 1000) + 14 * 86_400) } },
    sys.admin,
  );
  const booked = mine.appointments.find((a) => a.status === AppointmentStatus.BOOKED);
  t.ok(booked, "booked for the picked patient");
  t.equal(booked?.startTime?.seconds, BigInt(start.getTime() / 1000), "at the slot chosen");
  const upcoming = page.locator(`[data-testid="appointments"] [data-appointment="${booked?.appointmentId}"]`);
  await upcoming.getByText("Şükrü Işıkoğlu").waitFor();
  t.pass("the upcoming list names him");

  // An appointment of an old id without a record: shown as the id, the list stands.
  const old = await book(sys, providerId, "pat-004");
  for (const [who, token] of [
    ["reception", desk],
    ["the doctor", await sys.token(["doctor"], providerId)],
  ] as const) {
    const r = await sys.open(token, "/reception");
    t.teardown(() => r.ctx.close());
    const mineRow = r.page.locator(`[data-appointment="${booked!.appointmentId}"]`);
    await mineRow.getByText("Şükrü Işıkoğlu").waitFor({ timeout: 30_000 });
    t.pass(`${who}: the day's list names the patient`);
    const oldRow = r.page.locator(`[data-appointment="${old.appointmentId}"]`);
    await oldRow.getByText("patient pat-004").waitFor({ timeout: 30_000 });
    t.pass(`${who}: an id without a record is shown as the id`);
  }
});

t.test("reception finds Şükrü by typing 'sukru', sees only names, date of birth and record number, and picks him by keyboard", async (t) => {
  t.ok(sukru, "registered by the test before");
  const { ctx, page } = await sys.open(desk, "/booking");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000);
  await page.locator("#patient-search").fill("sukru");
  await page.locator("#patient-search").press("Enter");
  const results = page.getByRole("list", { name: "Search results" });
  await results.waitFor();
  t.equal(await page.locator('[data-testid="patient-search-status"]').getAttribute("data-kind"), "name", "the input is read as a name");
  const hit = results.getByRole("button", { name: /Şükrü Işıkoğlu/ });
  t.equal(await hit.count(), 1, "'sukru' finds Şükrü Işıkoğlu");
  t.equal(await hit.getAttribute("data-patient"), sukru, "the record registered");
  const row = await hit.innerText();
  t.match(row, /7 Mar 1985/, "with the date of birth");
  t.notOk(row.includes("0532") || row.includes("+90") || row.includes("10000000146") || row.includes("example.com"), "and nothing more than names, date of birth and record number");
  t.ok((await results.getByRole("button").count()) <= 20, "at most 20 results");
  await shot(page, "patients-search-1280");
  await hit.focus();
  await page.keyboard.press("Enter");
  const picked = page.locator('[data-testid="patient-picked"]');
  await picked.waitFor();
  t.equal(await picked.getAttribute("data-patient"), sukru, "picked by keyboard");
  t.equal(await page.locator("#patient").inputValue(), sukru, "for the booking");

  // By date of birth, and by the national id, from the Patients screen.
  const dir = await sys.open(desk, "/patients", PHONE);
  t.teardown(() => dir.ctx.close());
  for (const q of ["07.03.1985", "10000000146", "0532 123 45 67"]) {
    await dir.page.locator("#directory-search").fill(q);
    await dir.page.locator("#directory-search").press("Enter");
    await dir.page.getByRole("list", { name: "Search results" }).getByRole("button", { name: /Şükrü Işıkoğlu/ }).waitFor();
    t.pass(`found by ${q}`);
  }
  await dir.page.getByRole("list", { name: "Search results" }).getByRole("button", { name: /Şükrü Işıkoğlu/ }).click();
  await dir.page.locator('[data-testid="picked-patient"]').waitFor();
  t.notOk((await overflow(dir.page)).scrollsX, `the directory fits a phone ${(await overflow(dir.page)).wide}`);
  await shot(dir.page, "patients-picked-390x844");
  await dir.page.locator("#book-for").click();
  await dir.page.waitForURL(/\/booking\?patient=/);
  t.equal(await dir.page.locator("#patient").inputValue(), sukru, "Book an appointment opens booking for him");
});

t.test("a national id whose check digits do not add up is said in words next to its field", async (t) => {
  const { ctx, page } = await sys.open(desk, "/patients");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000);
  const before = await patientRows();
  await page.locator("#directory-new").click();
  await fillRegistration(page, { given: "Gülşen", family: "Yıldırım", birth: "1990-11-23", nationalId: "10000000147" });
  const error = page.locator('[data-testid="register-patient"] [data-testid$="-nationalId-error"]');
  await error.waitFor();
  const words = await error.innerText();
  t.match(words, /T\.C\. Kimlik No|check digit/i, `in words: ${words}`);
  t.notMatch(words, /[A-Z]{3,}_[A-Z]/, "no reason code");
  const input = page.locator('[data-testid="register-patient"]').getByLabel(/T\.C\. Kimlik No/);
  t.equal(await input.getAttribute("aria-invalid"), "true", "the input is marked invalid");
  t.equal(await input.getAttribute("aria-describedby"), await error.getAttribute("id"), "and points at its error");
  t.equal(await patientRows(), before, "nothing was registered");
  await shot(page, "patients-register-error-1280");
});

t.test("the display board never asks the patient service (reception's screen does)", async (t) => {
  const created = await sys.patient.createPatient(
    { requestId: "board-pat", givenName: "Ayşe", familyName: "Boardtest", birthDate: "1970-01-02", gender: Gender.FEMALE, locationId: "default" },
    sys.admin,
  );
  const queue = (await sys.queue.createQueue({ displayName: "Bekleme", prefix: "B", timeZone: LOCAL_TZ }, sys.admin)).queue!;
  await sys.queue.issueTicket({ requestId: "board-ticket", queueId: queue.queueId, patientId: created.patient!.patientId }, sys.admin);

  const board = await sys.open(await sys.token(["display"], "board-1"), `/display?queue=${queue.queueId}`);
  t.teardown(() => board.ctx.close());
  const boardCalls = patientRequests(board.page);
  await board.page.reload();
  await board.page.locator('[data-testid="waiting"] li').first().waitFor();
  await board.page.getByText("Live").waitFor();
  t.same(boardCalls, [], "no request of the board went to PatientService");
  t.notOk((await board.page.locator("body").innerText()).includes("Boardtest"), "no name on the board");

  // The recorder does see patient calls: reception's queue list asks for the ticket's name.
  const r = await sys.open(desk, "/reception", undefined, { "medschedule.queue": queue.queueId });
  t.teardown(() => r.ctx.close());
  const deskCalls = patientRequests(r.page);
  await r.page.reload();
  await r.page.locator('[data-testid="queue-tickets"]').getByText("Ayşe Boardtest").waitFor({ timeout: 30_000 });
  t.ok(deskCalls.some((p) => p.endsWith("/GetPatient")), "reception's screen asked for the name");
});

t.test("a patient sees their own details and changes their phone; a stale change is not saved", async (t) => {
  const created = (
    await sys.patient.createPatient(
      { requestId: "me-pat", givenName: "İlknur", familyName: "Çağlar", birthDate: "1992-06-15", gender: Gender.FEMALE, phones: ["0555 111 22 33"], email: "ilknur@example.com", preferredLanguage: "tr", locationId: "default" },
      sys.admin,
    )
  ).patient!;
  const token = await sys.token(["patient"], created.patientId);
  const { ctx, page } = await sys.open(token, "/me");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000);
  const calls = patientRequests(page);
  await page.locator('[data-testid="my-name"]').waitFor();
  t.equal(await page.locator('[data-testid="my-name"]').innerText(), "İlknur Çağlar", "their own name");
  t.equal(await page.locator("#my-phone-0").inputValue(), "+905551112233", "their phone");
  t.equal(await page.locator("#my-email").inputValue(), "ilknur@example.com");
  await page.locator("#my-phone-0").fill("0532 765 43 21");
  await page.locator("#my-save").click();
  await page.locator('[data-testid="my-saved"]').waitFor();
  const after = (await sys.patient.getPatient({ patientId: created.patientId }, sys.admin)).patient!;
  t.same(after.phones, ["+905327654321"], "the phone changed");
  t.equal(after.email, "ilknur@example.com", "the email did not");
  t.equal(after.givenName, "İlknur", "nor the name");
  t.ok(calls.every((c) => c.endsWith("/GetPatient") || c.endsWith("/UpdatePatient")), `only their own record was read and written: ${calls.join(", ")}`);

  // Reception changes the email meanwhile: the patient's next save is refused and they are told to reload.
  await sys.patient.updatePatient(
    { requestId: "desk-change", patient: { patientId: created.patientId, version: after.version, email: "ilknur.caglar@example.com" }, updateMask: { paths: ["email"] } },
    sys.admin,
  );
  await page.locator("#my-phone-0").fill("0532 000 00 01");
  await page.locator("#my-save").click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  t.equal(await alert.getAttribute("data-reason"), "VERSION_MISMATCH");
  t.match(await alert.innerText(), /Reload/);
  t.same((await sys.patient.getPatient({ patientId: created.patientId }, sys.admin)).patient!.phones, ["+905327654321"], "the stale change was not saved");
  await page.locator("#my-reload").click();
  await page.waitForFunction(() => (document.querySelector<HTMLInputElement>("#my-email")?.value ?? "") === "ilknur.caglar@example.com");
  t.pass("reload shows the record as it is now");

  // Another patient's id is not theirs to read: the API refuses it (the screen never asks).
  const other = await sys.patient.createPatient({ requestId: "other-pat", givenName: "Başka", familyName: "Hasta", birthDate: "1980-01-01", gender: Gender.OTHER, locationId: "default" }, sys.admin);
  const refused = await page.evaluate(async ([id, tk]) => {
    const res = await fetch("/medschedule.patient.v1.PatientService/GetPatient", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tk}` }, body: JSON.stringify({ patientId: id }) });
    return res.status;
  }, [other.patient!.patientId, token] as const);
  t.not(refused, 200, "another patient's record is refused");

  const small = await sys.open(token, "/me", PHONE);
  t.teardown(() => small.ctx.close());
  await small.page.locator('[data-testid="my-name"]').waitFor();
  t.notOk((await overflow(small.page)).scrollsX, `My details fits a phone ${(await overflow(small.page)).wide}`);
  await shot(small.page, "my-details-390x844");
});

t.test("a Turkish browser gets the patient screens in Turkish; they fit a phone", async (t) => {
  const { ctx, page } = await sys.open(desk, "/patients", PHONE, {}, "tr-TR");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000);
  await page.getByRole("heading", { name: "Hasta ara", level: 1 }).waitFor();
  t.ok(await page.getByRole("navigation", { name: "Screens" }).getByRole("link", { name: "Hastalar" }).count(), "the navigation says Hastalar");
  t.equal(await page.getByLabel("Hasta ara").count(), 1, "the search box is labelled");
  await page.getByRole("button", { name: "Yeni hasta kaydı" }).click();
  const form = page.locator('[data-testid="register-patient"]');
  await form.getByRole("heading", { name: "Yeni hasta kaydı" }).waitFor();
  for (const label of ["Ad", "Soyad", "Doğum tarihi", "Cinsiyet", "Telefon", "E-posta", "Tercih edilen dil", "T.C. Kimlik No (isteğe bağlı)", "Dosya numarası (isteğe bağlı)"]) {
    t.equal(await form.getByLabel(label, { exact: true }).count(), 1, `labelled “${label}”`);
  }
  t.equal(await form.getByRole("button", { name: "Kaydet" }).count(), 1, "Kaydet");
  t.notOk((await overflow(page)).scrollsX, `fits a phone ${(await overflow(page)).wide}`);
  await shot(page, "patients-register-tr-390x844");

  // A refused registration is said in Turkish, next to its field.
  await form.getByLabel("Ad", { exact: true }).fill("Işıl");
  await form.getByLabel("Soyad", { exact: true }).fill("Öztürk");
  await form.getByLabel("Doğum tarihi", { exact: true }).fill("2001-02-03");
  await form.getByLabel("T.C. Kimlik No (isteğe bağlı)", { exact: true }).fill("12345678901");
  await form.getByRole("button", { name: "Kaydet" }).click();
  const error = form.locator('[data-testid$="-nationalId-error"]');
  await error.waitFor();
  t.match(await error.innerText(), /[ğışİçöü]/, `in Turkish: ${await error.innerText()}`);

  // The search reads the shape of what is typed, in Turkish.
  await page.getByLabel("Hasta ara").fill("07.03.1985");
  await page.getByLabel("Hasta ara").press("Enter");
  await page.getByText("Doğum tarihine göre aranıyor").waitFor();
  t.pass("a date is searched as a date of birth, and said so in Turkish");
});

/** bodiesOf records the JSON bodies a page sends to one PatientService method. */
function bodiesOf(page: Page, method: string): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = [];
  page.on("request", (r: Request) => {
    if (r.url().endsWith(`/medschedule.patient.v1.PatientService/${method}`)) seen.push(JSON.parse(r.postData() ?? "{}"));
  });
  return seen;
}

t.test("staff of another location open a record only with a reason typed for it; the record shows phones as dialled, notes and related persons", async (t) => {
  const mk = async (requestId: string, givenName: string, extra: object = {}) =>
    (await sys.patient.createPatient({ requestId, givenName, familyName: "Camcıoğlu", birthDate: "1979-04-05", gender: Gender.FEMALE, locationId: "default", ...extra }, sys.admin)).patient!;
  const nurcan = await mk("glass-1", "Nurcan", {
    phones: ["+905320000001", "+4930901820"],
    notes: "Prefers morning appointments.",
    relatedPersons: [{ relationship: Relationship.EMERGENCY_CONTACT, givenName: "Kemal", familyName: "Camcıoğlu", phone: "+905330000002" }],
  });
  const nermin = await mk("glass-2", "Nermin");
  // A receptionist of another branch: the records are registered at "default", outside their locations.
  const away = await signToken(TEST_SECRET, "desk-moda", ["receptionist"], { locations: ["loc-moda"] });
  const { ctx, page } = await sys.open(away, "/patients");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000);
  const searches = bodiesOf(page, "SearchPatients");
  const reads = bodiesOf(page, "GetPatient");

  await page.locator("#directory-search").fill("Camcıoğlu");
  await page.locator("#directory-search").press("Enter");
  await page.locator('[data-testid="directory-no-matches"]').waitFor();
  t.pass("their own locations hold no such patient");
  await page.getByRole("button", { name: "Search all locations" }).click();
  const searchReason = page.getByLabel("Reason for access");
  await searchReason.fill("too short");
  await page.locator('[data-testid="directory-search-access-reason"]').getByRole("button", { name: "Search all locations" }).click();
  await page.getByText("Write the reason in at least 10 characters.").waitFor();
  t.equal(await searchReason.getAttribute("aria-invalid"), "true", "a reason under 10 characters is refused before sending");
  t.notOk(searches.some((b) => b.accessReason), "and nothing was sent with it");
  await searchReason.fill("Patient called from the Moda branch about a referral");
  await page.locator('[data-testid="directory-search-access-reason"]').getByRole("button", { name: "Search all locations" }).click();
  const results = page.getByRole("list", { name: "Search results" });
  await results.getByRole("button", { name: /Nurcan Camcıoğlu/ }).waitFor();
  t.equal(searches.at(-1)?.accessReason, "Patient called from the Moda branch about a referral", "the search of every location carries the reason");

  // Opening one of them is a deliberate act of its own: asked, explained, nothing sent unasked.
  const readsBefore = reads.length;
  await results.getByRole("button", { name: /Nurcan Camcıoğlu/ }).click();
  const alert = page.locator('[data-testid="picked-patient"]').getByRole("alert");
  await alert.waitFor();
  t.equal(await alert.getAttribute("data-reason"), "ACCESS_REASON_REQUIRED");
  const said = await alert.innerText();
  t.match(said, /registered at another location/, `explained: ${said}`);
  t.match(said, /recorded/, "and that access is recorded");
  t.notMatch(said, /ACCESS_REASON_REQUIRED|PermissionDenied|Technical details|your own locations only/, "no code, no raw message, no dead end");
  t.equal(await alert.locator("details").count(), 0, "no technical details for staff");
  t.notOk(reads.slice(readsBefore).some((b) => b.accessReason), "the first read sent no reason");
  const recordReason = alert.getByLabel("Reason for access");
  t.equal(await recordReason.inputValue(), "Patient called from the Moda branch about a referral", "the search's reason is offered, not sent");
  await recordReason.fill("Referral from the Moda branch, checking contact details");
  await alert.getByRole("button", { name: "Open with this reason" }).click();
  const facts = page.locator('[data-testid="patient-facts"]');
  await facts.waitFor();
  t.equal(reads.at(-1)?.patientId, nurcan.patientId);
  t.equal(reads.at(-1)?.accessReason, "Referral from the Moda branch, checking contact details", "the read is retried with the reason");
  const phones = page.locator('[data-testid="patient-phones"]');
  await phones.filter({ hasText: "0532 000 00 01" }).waitFor(); // the formatter's chunk is loaded on demand
  t.equal(await phones.innerText(), "0532 000 00 01, +49 30 901820", "a Turkish number as dialled here, a foreign one internationally");
  t.match(await page.locator('[data-testid="patient-notes"]').innerText(), /Prefers morning appointments\./, "the notes for staff");
  t.match(await page.locator('[data-testid="patient-related"]').innerText(), /Emergency contact: Kemal Camcıoğlu · 0533 000 00 02/, "the related persons");

  // The next patient is asked for again: the reason of the one before is not reused.
  const readsBeforeSecond = reads.length;
  await results.getByRole("button", { name: /Nermin Camcıoğlu/ }).click();
  await page.locator('[data-testid="picked-patient"][data-patient="' + nermin.patientId + '"]').getByRole("alert").waitFor();
  const second = reads.slice(readsBeforeSecond).filter((b) => b.patientId === nermin.patientId);
  t.ok(second.length >= 1, "Nermin's record was asked for");
  t.notOk(second.some((b) => b.accessReason), "without the reason given for Nurcan");
  await shot(page, "patients-break-glass-1280");

  // In Turkish, the same offer.
  const trDir = await sys.open(away, "/patients", PHONE, {}, "tr-TR");
  t.teardown(() => trDir.ctx.close());
  await trDir.page.getByLabel("Hasta ara").fill("Nurcan");
  await trDir.page.getByLabel("Hasta ara").press("Enter");
  await trDir.page.getByRole("button", { name: "Tüm şubelerde ara" }).click({ timeout: 30_000 });
  await trDir.page.getByLabel("Erişim gerekçesi").fill("Moda şubesinden sevk edilen hasta");
  await trDir.page.locator('[data-testid="directory-search-access-reason"]').getByRole("button", { name: "Tüm şubelerde ara" }).click();
  await trDir.page.getByRole("list", { name: "Arama sonuçları" }).getByRole("button", { name: /Nurcan Camcıoğlu/ }).click({ timeout: 30_000 });
  const trAlert = trDir.page.locator('[data-testid="picked-patient"]').getByRole("alert");
  await trAlert.waitFor({ timeout: 30_000 });
  t.match(await trAlert.innerText(), /Bu hasta başka bir şubeye kayıtlı\./, "explained in Turkish");
  t.match(await trAlert.innerText(), /Erişim gerekçesi kaydedilir\./);
  t.equal(await trAlert.getByRole("button", { name: "Gerekçeyle aç" }).count(), 1, "and offered in Turkish");
  t.notOk((await overflow(trDir.page)).scrollsX, "fits a phone");
});

t.test("a patient whose stored language is neither Turkish nor English sees it as it is, and it is kept", async (t) => {
  const created = (
    await sys.patient.createPatient(
      { requestId: "lang-de", givenName: "Jonas", familyName: "Weber", birthDate: "1988-08-08", gender: Gender.MALE, phones: ["+4915112345678"], preferredLanguage: "de", notes: "Staff only: hard of hearing.", locationId: "default" },
      sys.admin,
    )
  ).patient!;
  t.equal(created.preferredLanguage, "de", "the record says German");
  const token = await sys.token(["patient"], created.patientId);
  const { ctx, page } = await sys.open(token, "/me");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(30_000);
  await page.locator('[data-testid="my-name"]').waitFor();
  const select = page.getByLabel("Preferred language", { exact: true });
  t.equal(await select.inputValue(), "de", "the select holds the stored language");
  t.equal(await select.locator("option:checked").innerText(), "German", "named as itself, not as Turkish");
  t.notOk((await page.locator("body").innerText()).includes("hard of hearing"), "the patient never sees the notes for staff");
  await page.locator("#my-phone-0").fill("+49 151 12345679");
  await page.locator("#my-save").click();
  await page.locator('[data-testid="my-saved"]').waitFor();
  const after = (await sys.patient.getPatient({ patientId: created.patientId }, sys.admin)).patient!;
  t.same(after.phones, ["+4915112345679"], "the phone changed");
  t.equal(after.preferredLanguage, "de", "the language did not");
  await page.waitForFunction(() => document.querySelector<HTMLSelectElement>("#my-language")?.value === "de");
  await select.selectOption("en");
  await page.locator("#my-save").click();
  await page.locator('[data-testid="my-saved"]').waitFor();
  t.equal((await sys.patient.getPatient({ patientId: created.patientId }, sys.admin)).patient!.preferredLanguage, "en", "a language the patient picks is saved");
});
