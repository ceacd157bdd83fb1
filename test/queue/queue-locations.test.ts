// A queue is at a location (issue 20): CreateQueue stores it (the default location when the request
// names none), confirms it with the scheduling service (the queue's own process and schema: GetLocation
// through the peers, in-process here as in `npm start`), answers NOT_FOUND for a location scheduling
// does not know and UNAVAILABLE when scheduling cannot be reached (never INTERNAL); a retry with the
// same id compares the location too; ListQueues filters by location, its page token bound to the filter.
import t from "tap";
import { sql } from "kysely";
import { Code, createClient } from "@connectrpc/connect";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { serveGrpc } from "../../services/runtime/server/grpc-server.js";
import { rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { startQueueRuntime } from "../helpers/queue-runtime.js";
import { systemDb } from "../helpers/scheduling.js";
import { startTestSystem, TEST_SECRET } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const sys = await startTestSystem(t);
const db = await systemDb(sys);
const admin = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, await sys.token(["admin"], "adm-1")));
const scheduling = createClient(SchedulingService, tokenGrpcTransport(sys.grpc.port, await sys.token(["admin"], "adm-1")));

// GetLocation is built on the locations branch; until it is merged here, scheduling answers
// UNIMPLEMENTED and what needs a location other than `default` is a TODO.
const getLocationBuilt = (await rpcErrorInfoOf(scheduling.getLocation({ locationId: "default" }))).code !== Code.Unimplemented;
const needsGetLocation = getLocationBuilt ? {} : { todo: "SchedulingService/GetLocation answers UNIMPLEMENTED until the locations branch is merged" };

await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at) values ('north', 'North Clinic', 'Europe/Istanbul', now())`.execute(db);

t.test("a queue created without a location is at the default location", async (t) => {
  const { queue } = await admin.createQueue({ displayName: "Front desk", prefix: "FD", timeZone: "UTC" });
  t.equal(queue?.locationId, "default", "CreateQueue answers the default location");
  const read = await admin.getQueue({ queueId: queue!.queueId });
  t.equal(read.queue?.locationId, "default", "GetQueue returns it");
  const explicit = await admin.createQueue({ displayName: "Lab", prefix: "LB", timeZone: "UTC", locationId: "default" });
  t.equal(explicit.queue?.locationId, "default", "naming the default location works without asking scheduling");
});

t.test("a location scheduling knows is stored and returned", needsGetLocation, async (t) => {
  const { queue } = await admin.createQueue({ queueId: "north-desk", displayName: "North desk", prefix: "ND", timeZone: "Europe/Istanbul", locationId: "north" });
  t.equal(queue?.locationId, "north");
  t.equal((await admin.getQueue({ queueId: "north-desk" })).queue?.locationId, "north", "GetQueue returns it");
  const retry = await admin.createQueue({ queueId: "north-desk", displayName: "North desk", prefix: "ND", timeZone: "Europe/Istanbul", locationId: "north" });
  t.equal(retry.queue?.locationId, "north", "a retry with the same details returns the queue");
});

t.test("a location scheduling does not know: NOT_FOUND LOCATION_NOT_FOUND, nothing created", needsGetLocation, async (t) => {
  const got = await rpcErrorInfoOf(admin.createQueue({ queueId: "nowhere-desk", displayName: "Nowhere", prefix: "NW", timeZone: "UTC", locationId: "nowhere" }));
  t.equal(got.code, Code.NotFound, got.message ?? "");
  t.equal(got.reason, "LOCATION_NOT_FOUND");
  t.equal(got.metadata?.locationId, "nowhere", "the location in metadata");
  t.notMatch(got.message ?? "", /nowhere|GetLocation/, "no ids or RPC names in the words");
  const rows = await sql`select 1 from queue.queues where queue_id = 'nowhere-desk'`.execute(db);
  t.equal(rows.rows.length, 0, "no queue was created");
});

t.test("a retry with the same id and another location is ALREADY_EXISTS", async (t) => {
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, location_id, created_at) values ('moved-desk', 'Moved desk', 'MD', 'UTC', 'north', now())`.execute(db);
  const got = await rpcErrorInfoOf(admin.createQueue({ queueId: "moved-desk", displayName: "Moved desk", prefix: "MD", timeZone: "UTC" }));
  t.equal(got.code, Code.AlreadyExists, got.message ?? "");
  t.equal(got.reason, "QUEUE_EXISTS");
});

t.test("ListQueues filters by location; its page token continues only that filter", async (t) => {
  for (const [id, name, prefix, loc] of [
    ["f-n1", "F north 1", "FNA", "north"],
    ["f-n2", "F north 2", "FNB", "north"],
    ["f-n3", "F north 3", "FNC", "north"],
  ]) {
    await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, location_id, created_at) values (${id}, ${name}, ${prefix}, 'UTC', ${loc}, now())`.execute(db);
  }
  const north: string[] = [];
  let pageToken = "";
  let first = "";
  do {
    const page = await admin.listQueues({ locationId: "north", pageSize: 2, pageToken });
    for (const q of page.queues) t.equal(q.locationId, "north", `${q.displayName} is at north`);
    north.push(...page.queues.map((q) => q.queueId));
    pageToken = page.nextPageToken;
    if (!first) first = pageToken;
  } while (pageToken);
  t.ok(["f-n1", "f-n2", "f-n3", "moved-desk"].every((id) => north.includes(id)), "every queue at north, over pages");
  const all = await admin.listQueues({ pageSize: 500 });
  t.ok(all.queues.some((q) => q.locationId === "default") && all.queues.some((q) => q.locationId === "north"), "without a filter: every location");
  const defaults = await admin.listQueues({ locationId: "default", pageSize: 500 });
  t.ok(defaults.queues.length > 0 && defaults.queues.every((q) => q.locationId === "default"), "the default location's queues only");
  const misuse = await rpcErrorInfoOf(admin.listQueues({ locationId: "default", pageSize: 2, pageToken: first }));
  t.equal(misuse.code, Code.InvalidArgument, "a north page token does not continue another location's list");
  const bad = await rpcErrorInfoOf(admin.listQueues({ locationId: "not a location!" }));
  t.equal(bad.code, Code.InvalidArgument, "a malformed location id is a field violation");
});

t.test("scheduling cannot be reached: UNAVAILABLE SCHEDULING_UNAVAILABLE, never INTERNAL; the default location still works", async (t) => {
  // The queue alone, without SCHEDULING_ADDR: a queue process whose scheduling peer is unreachable.
  const runtime = await startQueueRuntime(t, { name: "queue", env: { AUTH_HS256_SECRET: TEST_SECRET, SERVICE_TOKEN: await signToken(TEST_SECRET, "medschedule-queue", ["service"]) } });
  const grpc = await serveGrpc({ port: 0, host: "127.0.0.1", services: runtime.registrations });
  t.teardown(() => grpc.close(200));
  await runtime.ready;
  const alone = createClient(QueueService, tokenGrpcTransport(grpc.port, await signToken(TEST_SECRET, "adm-1", ["admin"])));
  const got = await rpcErrorInfoOf(alone.createQueue({ displayName: "Far desk", prefix: "FA", timeZone: "UTC", locationId: "north" }));
  t.equal(got.code, Code.Unavailable, got.message ?? "");
  t.equal(got.reason, "SCHEDULING_UNAVAILABLE");
  const listed = await alone.listQueues({});
  t.equal(listed.queues.length, 0, "nothing was created");
  const ok = await alone.createQueue({ displayName: "Near desk", prefix: "NE", timeZone: "UTC" });
  t.equal(ok.queue?.locationId, "default");
});

t.test("an unknown location reaches no INTERNAL even while scheduling refuses the call", async (t) => {
  const got = await rpcErrorInfoOf(admin.createQueue({ displayName: "X desk", prefix: "XD", timeZone: "UTC", locationId: "elsewhere" }));
  t.not(got.code, Code.Internal, got.message ?? "");
  t.ok([Code.NotFound, Code.Unavailable].includes(got.code as Code), "NOT_FOUND (or UNAVAILABLE while scheduling cannot answer)");
});
