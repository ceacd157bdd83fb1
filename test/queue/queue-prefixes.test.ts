// "Every automatic provider queue uses the prefix A" (issue 18, defect 13) as a class: a queue created
// by hand could still take a prefix another queue uses, and both would call D-001. A ticket prefix
// belongs to one queue: CreateQueue refuses a prefix in use (FAILED_PRECONDITION PREFIX_IN_USE, naming
// the queue that has it), distinguishable from ALREADY_EXISTS QUEUE_EXISTS (that id holds another
// queue), guaranteed by Postgres even when creators race on two replicas. Queues that shared a prefix
// before keep working, numbers unchanged, but their prefix is not given to a new queue.
import t from "tap";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { createQueueDatabase, startQueueReplicas, startQueueServers } from "../helpers/queue.js";
import { rpcErrorInfoOf as outcome } from "../helpers/call-outcome.js";
import { insertOutcome } from "../helpers/postgres.js";

t.setTimeout(120_000);
const { database, a, b, serviceToken, clientAs } = await startQueueReplicas(t);
const admin = await clientAs("adm-1", ["admin"]);

async function count(where: ReturnType<typeof sql>): Promise<number> {
  const r = await sql<{ n: string }>`select count(*) as n from queue.queues where ${where}`.execute(database.db);
  return Number(r.rows[0].n);
}

t.test("a prefix in use is refused, naming the queue that has it; a retry and QUEUE_EXISTS stay as they were", async (t) => {
  await admin.createQueue({ queueId: "danisma", displayName: "Danışma", prefix: "D", timeZone: "Europe/Istanbul" });
  // The defect as found: a queue without an id, with Danışma's prefix.
  const dup = await outcome(admin.createQueue({ displayName: "Q", prefix: "D", timeZone: "UTC" }));
  t.equal(dup.code, Code.FailedPrecondition, `FAILED_PRECONDITION (${dup.message})`);
  t.equal(dup.reason, "PREFIX_IN_USE");
  t.strictSame(dup.metadata, { prefix: "D", queueId: "danisma", queueName: "Danışma" }, "names the prefix and the queue that has it");
  t.match(dup.message, /"D" is already used by Danışma: two queues with one prefix would both call D-001; choose another prefix/);
  const withId = await outcome(admin.createQueue({ queueId: "dermatoloji", displayName: "Dermatoloji", prefix: "D", timeZone: "UTC" }));
  t.equal(withId.reason, "PREFIX_IN_USE", "with a client-chosen id too");
  t.equal(await count(sql`prefix = 'D'`), 1, "nothing was created");

  const retry = await admin.createQueue({ queueId: "danisma", displayName: "Danışma", prefix: "D", timeZone: "Europe/Istanbul" });
  t.equal(retry.queue?.queueId, "danisma", "a retry of the queue that owns it returns it");
  const other = await outcome(admin.createQueue({ queueId: "danisma", displayName: "Danışma", prefix: "DA", timeZone: "Europe/Istanbul" }));
  t.equal(other.code, Code.AlreadyExists, "an existing id with other details stays ALREADY_EXISTS");
  t.equal(other.reason, "QUEUE_EXISTS", "told apart from a prefix in use by its reason (and code)");
  const lab = await admin.createQueue({ displayName: "Q", prefix: "DA", timeZone: "UTC" });
  t.equal(lab.queue?.prefix, "DA", "a prefix that starts like another is another prefix");
});

t.test("creators racing on two replicas: one queue per prefix", async (t) => {
  const PREFIXES = ["RA", "RB", "RC", "RD", "RE", "RF", "RG", "RH"];
  const RACERS = 6;
  const adminB = await clientAs("adm-1", ["admin"], b.port);
  const outcomes = await Promise.all(
    PREFIXES.flatMap((prefix) =>
      Array.from({ length: RACERS }, (_, racer) => {
        const client = racer % 2 === 0 ? admin : adminB;
        // Half of them retry one client-chosen id (same details: all may succeed), half bring their own.
        const queueId = racer < RACERS / 2 ? `race-${prefix}` : `race-${prefix}-${racer}`;
        return outcome(client.createQueue({ queueId, displayName: `Race ${prefix}`, prefix, timeZone: "UTC" })).then((o) => ({ prefix, queueId, ...o }));
      }),
    ),
  );
  const unexpected = outcomes.filter((o) => o.code !== "OK" && o.reason !== "PREFIX_IN_USE");
  t.strictSame(unexpected, [], "every creator gets the queue or PREFIX_IN_USE");
  for (const prefix of PREFIXES) {
    const winners = new Set(outcomes.filter((o) => o.prefix === prefix && o.code === "OK").map((o) => o.queueId));
    t.equal(winners.size, 1, `${prefix}: one queue won`);
    const losers = outcomes.filter((o) => o.prefix === prefix && o.code !== "OK");
    t.ok(losers.every((o) => o.metadata?.queueId === [...winners][0]), `${prefix}: the losers are told which queue has it`);
  }
  const rows = await sql<{ prefix: string; n: string }>`select prefix, count(*) as n from queue.queues where prefix like 'R_' group by prefix`.execute(database.db);
  t.equal(rows.rows.length, PREFIXES.length);
  t.ok(rows.rows.every((r) => Number(r.n) === 1), "one queue per prefix in the database");
});

t.test("Postgres refuses a second owner of a prefix", async (t) => {
  const insert = (id: string, prefix: string) =>
    insertOutcome(sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values (${id}, ${id}, ${prefix}, 'UTC', now())`.execute(database.db));
  t.equal(await insert("db-1", "DB"), "inserted");
  t.equal(await insert("db-2", "DB"), "23505 queues_one_owner_per_prefix", "a new queue owns its prefix by default: a second one is a unique violation");
});

t.test("queues that shared a prefix before keep working; their prefix is not given again", async (t) => {
  const migration = await import("../../services/queue/migrations/2026-12-05T1300-unique-queue-prefixes.js");
  const old = await createQueueDatabase(t);
  await migration.down(old.db);
  // Before: every automatic provider queue used "A"; two hand-made queues shared "B".
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 8, minute));
  for (const [id, prefix, minute] of [["prov-2", "A", 2], ["prov-1", "A", 1], ["prov-3", "A", 3], ["front", "B", 5], ["back", "B", 4], ["lab", "L", 6]] as const) {
    await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values (${id}, ${`Queue ${id}`}, ${prefix}, 'UTC', ${at(minute)})`.execute(old.db);
  }
  await migration.up(old.db);
  const owners = await sql<{ queue_id: string; owns_prefix: boolean }>`select queue_id, owns_prefix from queue.queues order by queue_id`.execute(old.db);
  t.strictSame(
    owners.rows.map((r) => [r.queue_id, r.owns_prefix]),
    [["back", true], ["front", false], ["lab", true], ["prov-1", true], ["prov-2", false], ["prov-3", false]],
    "of the queues sharing a prefix, the first created owns it",
  );
  await migration.up(old.db);
  t.pass("running it again changes nothing and does not fail");

  const dataDir = await startQueueServers(t, old.databaseUrl, 1, serviceToken);
  const q = dataDir[0].client;
  const refused = await outcome(q.createQueue({ displayName: "New", prefix: "A", timeZone: "UTC" }));
  t.equal(refused.reason, "PREFIX_IN_USE", "an old shared prefix is not given to a new queue");
  t.equal(refused.metadata?.queueId, "prov-1", "naming the queue that owns it");
  t.equal((await outcome(q.createQueue({ displayName: "New", prefix: "B", timeZone: "UTC" }))).reason, "PREFIX_IN_USE");
  for (const queueId of ["prov-1", "prov-2", "prov-3"]) {
    const ticket = await q.issueTicket({ requestId: `old-${queueId}`, queueId });
    t.equal(ticket.ticket?.number, "A-001", `${queueId} still numbers its tickets as before`);
  }
  const retry = await q.createQueue({ queueId: "prov-2", displayName: "Queue prov-2", prefix: "A", timeZone: "UTC" });
  t.equal(retry.queue?.queueId, "prov-2", "a retry of an old unowned queue still returns it");
  const listed = await q.listQueues({ pageSize: 100 });
  t.equal(listed.queues.length, 6, "ListQueues shows every queue and its prefix, so a picker can avoid them all");
});
