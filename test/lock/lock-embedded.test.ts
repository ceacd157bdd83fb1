// The embedded mode (`npm start`): PGlite, no REDIS_URL, so the Postgres lock backend, served over the
// network like every service. The LockService and withLock()/checkFence() through a gRPC client.
import t from "tap";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { sql } from "kysely";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { LockBackend as LockBackendEnum } from "../../gen/medschedule/lock/v1/lock_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import { checkFence, fenceTokensTableSql, FencingRejectedError, withLock } from "../../services/runtime/clients/with-lock.js";
import { rpcCodeOf as codeOf } from "../helpers/call-outcome.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const sys = await startTestSystem(t, { embedded: true });
const database = await sys.runtime.ready;
t.equal(database.kind, "pglite", "embedded database");
const token = await sys.token(["service"], "svc-embedded");
const client = createClient(LockService, tokenGrpcTransport(sys.grpc.port, token));

t.test("lock_backend shows postgres", async (t) => {
  const data = await metricsRegistry.getSingleMetric("lock_backend")!.get();
  t.same(data.values.filter((v) => v.value === 1).map((v) => v.labels.backend), ["postgres"]);
});

t.test("50 concurrent try-acquires over gRPC: exactly one lease; the next token is larger", async (t) => {
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.acquire({ resource: "emb:a", ttl: durationFromMs(5_000) })));
  const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.lease!] : []));
  t.equal(won.length, 1, "one winner");
  t.ok(
    results.every((r) => r.status === "fulfilled" || ConnectError.from(r.reason).code === Code.Aborted),
    "the others are ABORTED",
  );
  t.equal(won[0].backend, LockBackendEnum.POSTGRES);
  t.equal(won[0].owner, "svc-embedded", "owner defaults to the caller");
  t.equal((await client.release({ resource: "emb:a", leaseId: won[0].leaseId })).released, true);
  const next = (await client.acquire({ resource: "emb:a", ttl: durationFromMs(5_000) })).lease!;
  t.ok(next.fencingToken > won[0].fencingToken);
  t.equal((await client.release({ resource: "emb:a", leaseId: "p_wrong" })).released, false, "wrong leaseId: false");
  t.equal((await client.release({ resource: "emb:a", leaseId: next.leaseId })).released, true, "and the lease was untouched");
  t.equal(await codeOf(client.extend({ resource: "emb:a", leaseId: next.leaseId, ttl: durationFromMs(1_000) })), Code.FailedPrecondition, "extend of a lost lease");
});

t.test("bad input: INVALID_ARGUMENT with field violations", async (t) => {
  const err = await client.acquire({ resource: "", ttl: durationFromMs(-1), waitTimeout: durationFromMs(-5) }).then(() => undefined, (e: unknown) => ConnectError.from(e));
  t.equal(err?.code, Code.InvalidArgument);
  t.same(err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field).sort(), ["resource", "ttl", "waitTimeout"]);
});

t.test("withLock and checkFence over gRPC on PGlite", async (t) => {
  const db = database.db;
  await sql`create schema if not exists store`.execute(db);
  await fenceTokensTableSql("store").execute(db);
  await sql`create table store.bookings (slot text primary key, who text not null)`.execute(db);
  const book = (who: string, tokenValue: bigint) =>
    db.transaction().execute(async (trx) => {
      await checkFence(trx, "emb:slot", tokenValue, { schema: "store" });
      await sql`insert into store.bookings values ('s1', ${who}) on conflict (slot) do update set who = excluded.who`.execute(trx);
    });
  // A holds, pauses past its TTL; B takes over and books; A's late write is rejected.
  const a = (await client.acquire({ resource: "emb:slot", ttl: durationFromMs(100) })).lease!;
  await new Promise((r) => setTimeout(r, 200));
  const booked = await withLock(client, "emb:slot", async (lease) => {
    await book("B", lease.fencingToken);
    return lease.fencingToken;
  }, { ttlMs: 2_000, waitTimeoutMs: 1_000 });
  t.ok(booked > a.fencingToken);
  const late = await book("A", a.fencingToken).then(() => undefined, (e: unknown) => e);
  t.ok(late instanceof FencingRejectedError, "the paused holder's write is rejected");
  const { rows } = await sql<{ who: string }>`select who from store.bookings where slot = 's1'`.execute(db);
  t.equal(rows[0]?.who, "B");
});
