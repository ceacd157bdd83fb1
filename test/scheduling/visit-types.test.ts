// Visit types (issue 20, item 2): what is booked, validated field by field with reasons (never a
// silent change of what was sent), idempotent by requestId and by a client-chosen id, changed only
// in the fields an update mask names, listed by location and provider in sealed pages, and audited.
// The class against real Postgres.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import {
  CreateVisitTypeRequestSchema,
  GetVisitTypeRequestSchema,
  ListVisitTypesRequestSchema,
  SchedulingService,
  UpdateVisitTypeRequestSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { VisitTypeSchema, type VisitType } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure as failure, violatedFields } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

t.setTimeout(120_000);
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);
const clock = createFakeClock(new Date("2026-03-02T00:00:00Z"));
const svc = directSchedulingService(t, { db: database.db, clock });
let n = 0;
const rid = (what: string) => `${what}-${++n}`;
const s = (minutes: number) => ({ seconds: BigInt(minutes * 60) });

for (const p of ["p-ada", "p-grace"]) await createProviderIn(svc, ctx, { providerId: p });

/** createVt creates a visit type as an admin; `over` replaces fields of a valid one. */
const createVt = (over: Record<string, unknown> = {}, requestId = rid("vt")) =>
  svc.createVisitType(
    create(CreateVisitTypeRequestSchema, {
      requestId,
      visitType: { displayName: "Check-up", duration: s(30), providerIds: ["p-ada"], patientBookable: true, ...over } as never,
    }),
    ctx(m.createVisitType, "admin", "admin-1"),
  );

t.test("create, get, and a retry by requestId or by the client-chosen id", async (t) => {
  const req = { visitTypeId: "vt-echo", displayName: "Echo", duration: s(45), bufferBefore: s(10), bufferAfter: s(5), providerIds: ["p-ada", "p-grace"], requiredCapabilities: ["ultrasound", "ultrasound"], rules: { minNotice: s(60), horizon: s(60 * 24 * 30), patientCancelCutoff: s(24 * 60), maxPerPatientPerDay: 1 }, color: "#3366cc" };
  const first = (await createVt(req, "same-key")).visitType!;
  t.equal(first.visitTypeId, "vt-echo");
  t.equal(first.locationId, "default", "the default location when none is named");
  t.same(first.requiredCapabilities, ["ultrasound", "ultrasound"], "a capability twice: two rooms or devices, kept as sent");
  t.equal(first.rules?.minNotice?.seconds, 3600n);
  t.equal(first.color, "#3366cc");
  t.same((await createVt(req, "same-key")).visitType, first, "the same requestId answers as before");
  t.same((await createVt(req)).visitType, first, "the same id and details with a new requestId: the existing one");
  const other = await failure(createVt({ ...req, displayName: "Echo 2" }));
  t.equal(other.code, Code.AlreadyExists);
  t.equal(other.reason, "VISIT_TYPE_EXISTS");
  const reused = await failure(createVt({ ...req, displayName: "Echo 3" }, "same-key"));
  t.equal(reused.reason, "REQUEST_ID_REUSED");
  const got = await svc.getVisitType(create(GetVisitTypeRequestSchema, { visitTypeId: "vt-echo" }), ctx(m.getVisitType, "patient", "pat-1"));
  t.same(create(VisitTypeSchema, got.visitType), first);
  t.equal((await failure(svc.getVisitType(create(GetVisitTypeRequestSchema, { visitTypeId: "vt-none" }), ctx(m.getVisitType)))).reason, "VISIT_TYPE_NOT_FOUND");
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.audit_log where record_type = 'visit_type' and record_id = 'vt-echo' and action = 'CreateVisitType'`.execute(database.db);
  t.equal(Number(rows[0].n), 1, "audited once");
});

t.test("validation names every bad field with a reason", async (t) => {
  const bad = await failure(
    createVt({
      displayName: " ",
      duration: s(3),
      bufferBefore: { seconds: 7230n },
      bufferAfter: s(121),
      providerIds: ["p-ada", "p-ada", "bad id"],
      requiredCapabilities: ["Ultrasound", ""],
      rules: { minNotice: { seconds: 90n }, horizon: s(60 * 24 * 400), maxPerPatientPerDay: 101 },
      color: "red",
    }),
  );
  t.equal(bad.code, Code.InvalidArgument);
  const reasons = Object.fromEntries((bad as never as { violations: { field: string; reason: string }[] }).violations.map((v) => [v.field, v.reason]));
  t.same(reasons, {
    "visitType.displayName": "REQUIRED",
    "visitType.duration": "OUT_OF_RANGE",
    "visitType.bufferBefore": "NOT_A_MULTIPLE",
    "visitType.bufferAfter": "OUT_OF_RANGE",
    "visitType.providerIds[1]": "DUPLICATE",
    "visitType.providerIds[2]": "INVALID_ID",
    "visitType.requiredCapabilities[0]": "INVALID_CAPABILITY",
    "visitType.requiredCapabilities[1]": "INVALID_CAPABILITY",
    "visitType.rules.minNotice": "NOT_A_MULTIPLE",
    "visitType.rules.horizon": "OUT_OF_RANGE",
    "visitType.rules.maxPerPatientPerDay": "OUT_OF_RANGE",
    "visitType.color": "INVALID_COLOR",
  });
  t.same(await violatedFields(createVt({ providerIds: [] })), ["visitType.providerIds"], "at least one provider");
  t.same(await violatedFields(createVt({ duration: undefined })), ["visitType.duration"], "a duration is required");
  t.same(await violatedFields(createVt({ duration: s(481) })), ["visitType.duration"], "at most 8 hours");
  t.same(await violatedFields(createVt({ rules: { minNotice: s(120), horizon: s(60) } })), ["visitType.rules.horizon"], "a horizon within the notice leaves nothing bookable");
  t.same(await violatedFields(createVt({ displayName: "Check\u0000up" })), ["visitType.displayName"]);
  t.same(await violatedFields(createVt({ requiredCapabilities: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] })), ["visitType.requiredCapabilities"]);
  t.equal((await failure(createVt({ providerIds: ["p-nobody"] }))).reason, "PROVIDER_NOT_FOUND");
  t.equal((await failure(createVt({ locationId: "loc-nowhere" }))).reason, "LOCATION_NOT_FOUND");
  t.equal((await createVt({ duration: s(5), bufferBefore: s(120), rules: { horizon: s(365 * 24 * 60) } })).visitType?.duration?.seconds, 300n, "the bounds themselves are fine");
});

t.test("update changes only the masked fields; an empty or unknown path is refused", async (t) => {
  const vt = (await createVt({ displayName: "Cleaning", rules: { minNotice: s(60), maxPerPatientPerDay: 2 } })).visitType!;
  const update = (visitType: Partial<VisitType>, paths: string[], requestId = rid("u")) =>
    svc.updateVisitType(create(UpdateVisitTypeRequestSchema, { requestId, visitType: { visitTypeId: vt.visitTypeId, ...visitType } as never, updateMask: { paths } }), ctx(m.updateVisitType, "receptionist"));
  const changed = (await update({ color: "#AABBCC", displayName: "" }, ["color"], "upd-1")).visitType!;
  t.equal(changed.color, "#AABBCC", "as sent");
  t.equal(changed.displayName, "Cleaning", "the name, not in the mask, stays (its empty value is not validated)");
  t.same((await update({ color: "#AABBCC" }, ["color"], "upd-1")).visitType, changed, "replayed by requestId");
  const rules = (await update({ rules: { horizon: s(600) } as never }, ["rules.horizon"])).visitType!;
  t.equal(rules.rules?.minNotice?.seconds, 3600n, "rules.horizon alone keeps the minimum notice");
  t.equal(rules.rules?.horizon?.seconds, 36000n);
  t.equal(rules.rules?.maxPerPatientPerDay, 2);
  t.same(await violatedFields(update({ rules: { minNotice: s(700) } as never }, ["rules.min_notice"])), ["visitType.rules.horizon"], "checked against the stored horizon");
  const all = (await update({ rules: { maxPerPatientPerDay: 1 } as never }, ["rules"])).visitType!;
  t.same([all.rules?.minNotice?.seconds, all.rules?.horizon?.seconds, all.rules?.maxPerPatientPerDay], [0n, 0n, 1], "rules: all four as sent");
  t.same(await violatedFields(update({ color: "#000000" }, [])), ["updateMask"]);
  t.same(await violatedFields(update({ color: "#000000" }, ["colour"])), ["updateMask.paths[0]"]);
  t.same(await violatedFields(update({ locationId: "elsewhere" }, ["location_id"])), ["updateMask.paths[0]"], "a visit type does not move");
  t.same(await violatedFields(update({ color: "#000000", displayName: "x\u0000" }, ["color"])), ["visitType.displayName"], "a NUL outside the mask too");
  t.same(await violatedFields(update({ providerIds: [] }, ["provider_ids"])), ["visitType.providerIds"]);
  t.equal((await failure(update({ providerIds: ["p-nobody"] }, ["provider_ids"]))).reason, "PROVIDER_NOT_FOUND");
  t.equal((await failure(svc.updateVisitType(create(UpdateVisitTypeRequestSchema, { requestId: rid("u"), visitType: { visitTypeId: "vt-none", color: "" }, updateMask: { paths: ["color"] } }), ctx(m.updateVisitType)))).reason, "VISIT_TYPE_NOT_FOUND");
});

t.test("list by location and provider, paged by name with sealed tokens bound to the filters", async (t) => {
  for (const name of ["Zeta", "Alpha", "Mu"]) await createVt({ displayName: name, providerIds: ["p-grace"] });
  const list = (pageToken = "", providerId = "p-grace") => svc.listVisitTypes(create(ListVisitTypesRequestSchema, { providerId, pageSize: 2, pageToken }), ctx(m.listVisitTypes));
  const one = await list();
  t.same(one.visitTypes?.map((v) => v.displayName), ["Alpha", "Echo"]);
  const two = await list(one.nextPageToken);
  t.same(two.visitTypes?.map((v) => v.displayName), ["Mu", "Zeta"]);
  t.equal(two.nextPageToken, "", "the last page");
  t.same(await violatedFields(list(one.nextPageToken, "p-ada")), ["pageToken"], "a token of another filter is refused");
  const here = await svc.listVisitTypes(create(ListVisitTypesRequestSchema, { locationId: "elsewhere" }), ctx(m.listVisitTypes));
  t.equal(here.visitTypes?.length ?? 0, 0, "none at another location");
});
