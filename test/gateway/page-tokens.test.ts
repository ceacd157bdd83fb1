// Every List RPC, in both modes (`npm start`: the service classes in the gateway on PGlite; distributed:
// a forwarding gateway in front of two replicas of every service on Postgres), over Connect JSON and
// gRPC: paging works as before, also when consecutive pages come from different replicas; and a page
// token that the service did not hand out for this very query is INVALID_ARGUMENT on pageToken
// (INVALID_PAGE_TOKEN), never INTERNAL and never a value fed into SQL. Issue 18 defect 4: a token
// holding a NUL character answered INTERNAL on every List RPC, and tokens holding dates out of range
// did so in embedded mode. `npm start` keeps the secret in DATA_DIR, so tokens survive a restart; a
// service process without PAGE_TOKEN_SECRET warns that they will not.
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fromJson, toJson, type DescMethod, type DescService, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { Kysely } from "kysely";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { freePort } from "../../services/runtime/server/free-port.js";
import { createRuntime } from "../../services/runtime/host.js";
import { createInProcessTransport } from "../../services/runtime/clients/in-process-transport.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { ALL_DAYS } from "../helpers/scheduling.js";
import { ALL_MODULES, startTestSystem, TEST_SECRET } from "../helpers/system.js";

t.setTimeout(400_000);

const SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService];

/** ListCase is one List RPC: a request with its filters, the same with other filters (when it has any), and its items. */
interface ListCase {
  method: DescMethod;
  request: JsonObject;
  otherFilters?: JsonObject;
  items: string;
  /** id names an item (other values, such as a lock's age, change between pages). */
  id: (item: JsonObject) => unknown;
  /** allAtOnce is the page size that answers the whole list in one page (default 500; a search answers at most 20). */
  allAtOnce?: number;
}

/** SEARCH_FROM starts the 2 hours SearchSlots pages through: five days ahead, so that they stay bookable all test long. */
const SEARCH_FROM = Math.ceil((Date.now() + 5 * 86_400_000) / 86_400_000) * 86_400_000;
const searchRange = { startTime: new Date(SEARCH_FROM).toISOString(), endTime: new Date(SEARCH_FROM + 2 * 3_600_000).toISOString() };

const LISTS: ListCase[] = [
  { method: SchedulingService.method.listProviders, request: {}, items: "providers", id: (i) => i.providerId },
  { method: SchedulingService.method.listLocations, request: {}, items: "locations", id: (i) => i.locationId },
  { method: SchedulingService.method.listVisitTypes, request: { locationId: "default" }, otherFilters: { locationId: "loc-pages" }, items: "visitTypes", id: (i) => i.visitTypeId },
  {
    method: SchedulingService.method.searchSlots,
    request: { visitTypeId: "vt-pages-0", ...searchRange },
    otherFilters: { visitTypeId: "vt-pages-1", ...searchRange },
    items: "slots",
    id: (i) => `${i.startTime} ${i.providerId}`,
  },
  { method: SchedulingService.method.listResources, request: { kind: "RESOURCE_KIND_ROOM" }, otherFilters: { kind: "RESOURCE_KIND_DEVICE" }, items: "resources", id: (i) => i.resourceId },
  { method: SchedulingService.method.listAppointments, request: { patientId: "pat-pages" }, otherFilters: { patientId: "pat-other" }, items: "appointments", id: (i) => i.appointmentId },
  { method: QueueService.method.listQueues, request: {}, items: "queues", id: (i) => i.queueId },
  { method: QueueService.method.listTickets, request: { queueId: "pages" }, otherFilters: { queueId: "pages", statuses: ["TICKET_STATUS_WAITING"] }, items: "tickets", id: (i) => i.ticketId },
  { method: LockService.method.listLocks, request: { prefix: "pages:" }, otherFilters: { prefix: "pages:x" }, items: "locks", id: (i) => (i.lease as JsonObject).resource },
  { method: BackupService.method.listBackups, request: { target: "BACKUP_TARGET_REDIS" }, otherFilters: { target: "BACKUP_TARGET_POSTGRES" }, items: "backups", id: (i) => i.backupId },
  { method: PatientService.method.searchPatients, request: { query: "sayfaoglu" }, otherFilters: { query: "sayfaoglu", birthDate: "1980-01-01" }, items: "patients", id: (i) => i.patientId, allAtOnce: 20 },
];

const legacy = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

t.test("every List RPC of every service is covered", async (t) => {
  const covered = new Set(LISTS.map((l) => `${l.method.parent.typeName}/${l.method.name}`));
  for (const s of SERVICES) {
    for (const m of s.methods) {
      if (m.input.fields.some((f) => f.name === "page_token")) t.ok(covered.has(`${s.typeName}/${m.name}`), `${s.typeName}/${m.name}`);
    }
  }
});

/** call invokes a unary RPC with a JSON request and returns the JSON response, or the ConnectError. */
async function call(transport: Transport, method: DescMethod, json: JsonObject): Promise<JsonObject | ConnectError> {
  const client = createClient(method.parent, transport) as unknown as Record<string, (req: unknown) => Promise<never>>;
  try {
    return toJson(method.output, await client[method.localName](fromJson(method.input, json))) as JsonObject;
  } catch (err) {
    return ConnectError.from(err);
  }
}

/** seed makes at least three items for every list: providers, rooms, locations, visit types (and four free slots), appointments, queues, tickets, locks; backups go straight into the catalog. */
async function seed(transport: Transport, backupDb: Kysely<any>): Promise<void> {
  const scheduling = createClient(SchedulingService, transport);
  const queue = createClient(QueueService, transport);
  const lock = createClient(LockService, transport);
  const patients = createClient(PatientService, transport);
  for (const [i, given] of ["Ayşe", "Burak", "Cemile"].entries()) {
    await patients.createPatient({ requestId: `pages-patient-${i}`, givenName: given, familyName: "Sayfaoğlu", birthDate: `198${i}-01-01` });
  }
  for (const n of ["Dr. Page A", "Dr. Page B", "Dr. Page C"]) await scheduling.createProvider({ displayName: n, timeZone: "UTC" });
  for (const [n, kind] of [["Room 1", ResourceKind.ROOM], ["Room 2", ResourceKind.ROOM], ["Room 3", ResourceKind.ROOM], ["Scanner", ResourceKind.DEVICE]] as const) {
    await scheduling.createResource({ displayName: n, kind });
  }
  const { provider } = await scheduling.createProvider({ displayName: "Dr. Booked", timeZone: "UTC", providerId: "p-pages" });
  await scheduling.setAvailability({
    providerId: provider!.providerId,
    weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "00:00", endTime: "24:00" })),
    slotDuration: { seconds: 1800n },
  });
  const first = Math.ceil((Date.now() + 2 * 86_400_000) / 3_600_000) * 3_600_000;
  for (let i = 0; i < 3; i++) {
    await scheduling.bookAppointment({ requestId: `pages-${i}`, providerId: "p-pages", patientId: "pat-pages", startTime: timestampFromMs(first + i * 3_600_000) });
  }
  for (const n of ["A", "B"]) await scheduling.createLocation({ requestId: `pages-loc-${n}`, locationId: `loc-pages${n === "A" ? "" : "-b"}`, displayName: `Branch ${n}`, timeZone: "UTC" });
  for (let i = 0; i < 3; i++) {
    await scheduling.createVisitType({
      requestId: `pages-vt-${i}`,
      visitType: { visitTypeId: `vt-pages-${i}`, locationId: "default", displayName: `Visit ${i}`, duration: { seconds: 1800n }, providerIds: ["p-pages"] },
    });
  }
  await queue.createQueue({ queueId: "pages", displayName: "Pages", prefix: "P", timeZone: "UTC" });
  for (const n of ["Queue A", "Queue B"]) await queue.createQueue({ displayName: n, prefix: `Q${n.slice(-1)}`, timeZone: "UTC" });
  for (let i = 0; i < 3; i++) await queue.issueTicket({ requestId: `pages-${i}`, queueId: "pages" });
  for (let i = 0; i < 3; i++) await lock.acquire({ resource: `pages:${i}`, ttl: { seconds: 120n } });
  for (let i = 0; i < 3; i++) {
    await backupDb
      .insertInto("backup.backups")
      .values({ backup_id: `b-redis-pages-${i}`, target: "REDIS", state: "FAILED", started_at: new Date(Date.now() - i * 60_000), finished_at: new Date(), error: "seeded by the test" })
      .execute();
  }
}

async function checkLists(t: Test, transports: [string, Transport][]): Promise<void> {
  // One real token per RPC, to replay into the others.
  const tokens = new Map<ListCase, string>();
  for (const [protocol, transport] of transports) {
    for (const list of LISTS) {
      const name = `${list.method.name} over ${protocol}`;
      const all = await call(transport, list.method, { ...list.request, pageSize: list.allAtOnce ?? 500 });
      if (all instanceof ConnectError) {
        t.fail(`${name}: the whole list (${all.message})`);
        continue;
      }
      const expected = (all[list.items] as JsonObject[] | undefined) ?? [];
      t.ok(expected.length >= 2, `${name}: ${expected.length} items to page through`);
      const paged: JsonObject[] = [];
      let pageToken = "";
      for (let page = 0; page < 20; page++) {
        const res = await call(transport, list.method, { ...list.request, pageSize: 1, pageToken });
        if (res instanceof ConnectError) {
          t.fail(`${name}: page ${page + 1} (${res.code} ${res.message})`);
          break;
        }
        paged.push(...((res[list.items] as JsonObject[] | undefined) ?? []));
        pageToken = (res.nextPageToken as string | undefined) ?? "";
        if (page === 0) tokens.set(list, pageToken);
        if (pageToken === "") break;
      }
      t.same(paged.map(list.id), expected.map(list.id), `${name}: one item per page, the same list as in one page`);
    }
    for (const [i, list] of LISTS.entries()) {
      const real = tokens.get(list) ?? "";
      const other = tokens.get(LISTS[(i + 1) % LISTS.length]) ?? "";
      const bad: [string, JsonObject][] = [
        ["hand-written, holding NUL characters", { ...list.request, pageToken: legacy({ n: "\u0000", i: "\u0000", s: "\u0000", o: 0, startedAt: "\u0000", backupId: "\u0000" }) }],
        ["hand-written, holding year 275760", { ...list.request, pageToken: legacy({ n: "a", i: "b", s: "+275760-09-13T00:00:00.000Z", startedAt: "+275760-09-13T00:00:00.000Z", backupId: "b", o: 1 }) }],
        ["hand-written, holding year 0", { ...list.request, pageToken: legacy({ n: "a", i: "b", s: "0000-01-01T00:00:00.000Z", startedAt: "0000-01-01T00:00:00.000Z", backupId: "b", o: 1 }) }],
        ["hand-written, holding a huge offset", { ...list.request, pageToken: legacy({ n: "a", i: "b", o: 1e300 }) }],
        ["with a NUL character", { ...list.request, pageToken: `${real.slice(0, 8)}\u0000${real.slice(8)}` }],
        ["altered", { ...list.request, pageToken: real.slice(0, 20) + (real[20] === "A" ? "B" : "A") + real.slice(21) }],
        ["of another List RPC", { ...list.request, pageToken: other }],
      ];
      if (list.otherFilters) bad.push(["of the same RPC with other filters", { ...list.otherFilters, pageToken: real }]);
      for (const [label, request] of bad) {
        const res = await call(transport, list.method, request);
        const name = `${list.method.name} over ${protocol}, a page token ${label}`;
        if (!(res instanceof ConnectError)) {
          t.fail(`${name}: answered`);
          continue;
        }
        t.equal(res.code, Code.InvalidArgument, `${name}: INVALID_ARGUMENT (${res.message})`);
        const violations = res.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => [v.field, v.reason]));
        t.same(violations, [["pageToken", "INVALID_PAGE_TOKEN"]], `${name}: names pageToken`);
      }
    }
  }
}

async function transportsFor(baseUrl: string): Promise<[string, Transport][]> {
  const token = await signToken(TEST_SECRET, "pages-admin", ["admin", "receptionist", "service"]);
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return [
    ["Connect JSON", createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth] })],
    ["gRPC", createGrpcTransport({ baseUrl, interceptors: [auth] })],
  ];
}

t.test("npm start (in-process, PGlite)", async (t) => {
  const sys = await startTestSystem(t, { embedded: true });
  const transports = await transportsFor(`http://127.0.0.1:${sys.connect.port}`);
  await seed(transports[0][1], (await sys.runtime.ready).db);
  await checkLists(t, transports);
});

t.test("distributed (a gateway in front of two replicas of every service, Postgres)", async (t) => {
  const databaseUrl = await createTestDatabase(t);
  const a = await startUpstream(t, ALL_MODULES, databaseUrl);
  const b = await startUpstream(t, ALL_MODULES, databaseUrl);
  const gateway = await startTestGateway(t, [a.address, b.address]);
  const transports = await transportsFor(gateway.url);
  await seed(transports[0][1], (await a.runtime.ready).db);
  await checkLists(t, transports);
  const listed = (u: typeof a) => u.seen.filter((s) => s.procedure.includes("/List")).length;
  t.ok(listed(a) > 0 && listed(b) > 0, `both replicas served pages (${listed(a)} and ${listed(b)})`);
});

t.test("npm start keeps the secret in DATA_DIR: page tokens survive a restart", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-page-secret-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env = { AUTH_HS256_SECRET: TEST_SECRET, LOG_LEVEL: "silent", METRICS_PORT: "0", DATA_DIR: dataDir };
  const token = await signToken(TEST_SECRET, "adm-1", ["admin"]);
  const start = async () => {
    const runtime = await createRuntime({ name: "restart", modules: [queueModule], defaultPort: 0, env, keepSecretsInDataDir: true });
    await runtime.ready;
    const reg = runtime.registrations.find((r) => r.service.typeName === QueueService.typeName)!;
    return { runtime, queue: createClient(QueueService, createInProcessTransport(reg, () => ({ authorization: `Bearer ${token}` }))) };
  };
  const first = await start();
  for (const n of ["Restart A", "Restart B"]) await first.queue.createQueue({ displayName: n, prefix: `R${n.slice(-1)}`, timeZone: "UTC" });
  const page = await first.queue.listQueues({ pageSize: 1 });
  t.ok(page.nextPageToken, "a next page");
  const kept = (await readFile(path.join(dataDir, "page-token-secret"), "utf8")).trim();
  t.ok(kept.length >= 32, "the secret is kept in DATA_DIR");
  await first.runtime.close();
  const second = await start();
  t.teardown(() => second.runtime.close());
  const next = await second.queue.listQueues({ pageSize: 1, pageToken: page.nextPageToken });
  t.same(next.queues.map((q) => q.displayName), ["Restart B"], "the restarted process opens the token");
  t.equal((await readFile(path.join(dataDir, "page-token-secret"), "utf8")).trim(), kept, "and kept the same secret");
});

t.test("a service process without PAGE_TOKEN_SECRET warns once that its tokens die with it", async (t) => {
  const run = (extra: Record<string, string>) =>
    new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ["dist/services/lock/main.js"], {
        env: { PATH: process.env.PATH ?? "", AUTH_HS256_SECRET: TEST_SECRET, PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "warn", ...extra },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.on("exit", () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
  // An unreachable database ends the process right after start-up: enough to see its first lines.
  const unreachable = `postgres://medschedule:medschedule@127.0.0.1:${await freePort()}/medschedule`;
  const without = await run({ DATABASE_URL: unreachable });
  t.equal(without.split("\n").filter((l) => l.includes("PAGE_TOKEN_SECRET is not set")).length, 1, "one warning");
  const withSecret = await run({ DATABASE_URL: unreachable, PAGE_TOKEN_SECRET: "s".repeat(40) });
  t.notMatch(withSecret, /PAGE_TOKEN_SECRET/, "none when it is set");
});
