// Issue 18, "anyone can exhaust the gateway", through streams: one display or patient token opening
// thousands of WatchQueue streams over a few HTTP/2 connections ran the cluster gateway (heap capped
// at 96 MB, as `npm run cluster` starts it) out of memory, and it died with SIGABRT. This test
// repeats the attack against the distributed gateway process and a queue service process, both with
// the cluster's heap cap and default limits, and tries to break: the gateway must stay up, streams
// past a caller's share or the server's total must be refused at once with RESOURCE_EXHAUSTED and
// ErrorInfo TOO_MANY_STREAMS, and meanwhile a unary call must be answered, a display board already
// watching must keep getting every change, a new board must still open while one token floods, the
// service role must still find a place, and once the attackers leave, their places and memory must
// come back, and a caller whose streams were closed opens them again. Then the queue service's own
// grpc-js server, called directly, holds the same bounds; without a token, per connection.
import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import http2 from "node:http2";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { memberNodeArgs } from "../../scripts/member-node-args.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { H2_MAX_CONCURRENT_STREAMS } from "../../services/runtime/server/connect-server.js";
import { freePort } from "../../services/runtime/server/free-port.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { createTestDatabase, type TeardownHost } from "../helpers/postgres.js";
import { TEST_SECRET } from "../helpers/system.js";
import { tally, WatchClient, type WatchEnd } from "../helpers/watches.js";
import { waitServing } from "../system/system-cluster.js";

t.setTimeout(900_000);

const WATCH_QUEUE = "/medschedule.queue.v1.QueueService/WatchQueue";
const HEALTH_WATCH = "/grpc.health.v1.Health/Watch";
const QUEUE = { queueId: "danisma" };

/** HANG_MS only guards against a hang (a gateway that died, an update that never comes); never a speed claim. */
const HANG_MS = 120_000;

/** bounded rejects if `p` has not settled within HANG_MS: a hang guard, not a timed assertion. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${what}`)), HANG_MS)));
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** startMember runs a cluster member as `npm run cluster` does (its heap cap), keeping the tail of its output. */
function startMember(t: TeardownHost, script: string, env: Record<string, string>, extraArgs: string[] = []) {
  const child: ChildProcess = spawn(process.execPath, [...memberNodeArgs({}), ...extraArgs, script], {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", METRICS_PORT: "0", AUTH_HS256_SECRET: TEST_SECRET, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8_000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exit: string | undefined;
  child.on("exit", (code, signal) => (exit = `exit ${code ?? signal}`));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { child, output: () => output, exit: () => exit };
}

/** json calls a unary RPC with Connect JSON and returns the parsed answer (throws on an error status). */
async function json(base: string, procedure: string, token: string, body: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${procedure}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${procedure}: HTTP ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** carries tells whether a WatchQueue message carries the ticket. */
const carries = (ticketId: string) => (m: Record<string, unknown>) => ((m.tickets as { ticketId: string }[] | undefined) ?? []).some((x) => x.ticketId === ticketId);

/** refusal is a refused first answer's shape, for comparison. */
const refusal = (f: "message" | WatchEnd) => (f === "message" ? "message" : `${f.code} ${f.reason} ${f.metadata.scope}`);

/** heapAfterGc reads the process's live heap right after a full garbage collection (gc-on-signal). */
async function heapAfterGc(pid: number, base: string): Promise<number> {
  process.kill(pid, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 500));
  process.kill(pid, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 500));
  const metrics = await (await fetch(`${base}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN);
}

t.test("a flood of watch streams against the cluster gateway: refused past the limits, the gateway and the boards carry on", async (t) => {
  const databaseUrl = await createTestDatabase(t);
  const queuePort = await freePort();
  const gatewayPort = await freePort();
  const addr = `127.0.0.1:${queuePort}`;
  const queue = startMember(t, "dist/services/queue/main.js", { PORT: String(queuePort), DATABASE_URL: databaseUrl });
  const gcOnSignal = pathToFileURL(fileURLToPath(new URL("../helpers/gc-on-signal.js", import.meta.url))).href;
  // Only the queue service runs; the other upstreams point at it (they answer UNIMPLEMENTED).
  const gateway = startMember(
    t,
    "dist/gateway/main.js",
    { PORT: String(gatewayPort), SCHEDULING_ADDR: addr, QUEUE_ADDR: addr, LOCK_ADDR: addr, BACKUP_ADDR: addr, PATIENT_ADDR: addr },
    ["--expose-gc", "--import", gcOnSignal],
  );
  const alive = () => gateway.exit() === undefined && queue.exit() === undefined;
  t.ok(await waitServing(`127.0.0.1:${gatewayPort}`, HANG_MS, alive), "the gateway serves", { output: gateway.output() });
  const base = `http://127.0.0.1:${gatewayPort}`;
  const desk = await signToken(TEST_SECRET, "desk-1", ["receptionist"]);
  const display = (board: string) => signToken(TEST_SECRET, board, ["display"]);

  // A queue with 30 people waiting: every snapshot carries them, as a clinic's would.
  for (let i = 0; ; i++) {
    const ok = await json(base, "/medschedule.queue.v1.QueueService/CreateQueue", desk, { ...QUEUE, displayName: "Danışma", prefix: "D", timeZone: "Europe/Istanbul" }).then(
      () => true,
      (err: Error) => (i < 240 && /HTTP 503/.test(err.message) ? false : Promise.reject(err)),
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250)); // the queue service still migrating
  }
  for (let i = 0; i < 30; i++) await json(base, "/medschedule.queue.v1.QueueService/IssueTicket", desk, { ...QUEUE, requestId: `walk-in-${i}`, priority: "TICKET_PRIORITY_ROUTINE" });
  const issue = async (label: string) => ((await json(base, "/medschedule.queue.v1.QueueService/IssueTicket", desk, { ...QUEUE, requestId: label, priority: "TICKET_PRIORITY_ROUTINE" })).ticket as { ticketId: string }).ticketId;

  const h2 = http2.connect(base);
  t.teardown(() => h2.destroy());
  const settings = await bounded(new Promise<http2.Settings>((resolve) => h2.once("remoteSettings", resolve)), "the gateway's HTTP/2 settings");
  t.equal(settings.maxConcurrentStreams, H2_MAX_CONCURRENT_STREAMS, `the gateway allows ${H2_MAX_CONCURRENT_STREAMS} streams per HTTP/2 connection, not Node's unlimited default`);
  h2.destroy();

  const boards = new WatchClient(base);
  t.teardown(() => boards.close());
  const lobby = boards.open(WATCH_QUEUE, QUEUE, await display("board-lobby"));
  t.equal(await bounded(lobby.first, "the lobby board's snapshot"), "message", "the lobby board watches the queue");
  const heapBefore = await heapAfterGc(gateway.child.pid!, base);

  // 1. One display token (leaked, or a misbehaving client) opens 500 streams over 5 connections.
  const leaked = new WatchClient(base);
  t.teardown(() => leaked.close());
  const one = await bounded(leaked.openMany(500, WATCH_QUEUE, QUEUE, await display("board-leaked")), "500 streams of one token");
  t.same(tally(one.firsts), { message: 16, "resource_exhausted TOO_MANY_STREAMS caller": 484 }, "16 open (GATEWAY_MAX_STREAMS_PER_CLIENT), the rest refused at once", { output: gateway.output() });
  const refused = one.firsts.find((f) => f !== "message") as WatchEnd | undefined;
  t.match(refused?.message ?? "", /at most 16 at once.*close another screen/, "and the refusal says what to do");
  const second = boards.open(WATCH_QUEUE, QUEUE, await display("board-2"));
  t.equal(await bounded(second.first, "a second board's snapshot"), "message", "a board signed in otherwise still opens its watch");
  const first = await bounded(issue("during-one-token"), "IssueTicket during the flood of one token");
  await bounded(Promise.all([lobby.waitFor(carries(first)), second.waitFor(carries(first))]), "both boards see the new ticket");
  t.pass("a unary call is answered and both boards see its change");

  // 2. Fifty patient tokens, 60 streams each: 3,000 streams at once over 30 connections, past the
  // server's total; most of them arrive while thousands of others are still being answered.
  const crowd = new WatchClient(base);
  t.teardown(() => crowd.close());
  const patients = await Promise.all(Array.from({ length: 50 }, (_, i) => signToken(TEST_SECRET, `patient-${i}`, ["patient"])));
  const many = await bounded(Promise.all(patients.map((p) => crowd.openMany(60, WATCH_QUEUE, QUEUE, p))), "3,000 streams of 50 tokens");
  const firsts = many.flatMap((m) => m.firsts);
  const counts = tally(firsts);
  t.equal(gateway.exit(), undefined, "the gateway is still running", { output: gateway.output() });
  const kinds = ["message", "resource_exhausted AT_CAPACITY", "resource_exhausted TOO_MANY_STREAMS caller", "resource_exhausted TOO_MANY_STREAMS server"];
  t.same(
    Object.keys(counts).filter((k) => !kinds.includes(k)),
    [],
    "every stream opened, or was refused at once: past its caller's share or the server's total (TOO_MANY_STREAMS), or while the gateway had as many calls in progress as it takes (AT_CAPACITY)",
    { counts },
  );
  // The attackers keep trying, 500 at a time, until the server is full.
  let opened = counts.message ?? 0;
  let full: WatchEnd | undefined;
  for (let wave = 0; wave < 20 && !full; wave++) {
    const more = (await bounded(Promise.all(patients.map((p) => crowd.openMany(10, WATCH_QUEUE, QUEUE, p))), "another wave")).flatMap((m) => m.firsts);
    opened += more.filter((f) => f === "message").length;
    full = more.find((f): f is WatchEnd => f !== "message" && f.metadata.scope === "server");
  }
  t.ok(full, "the server's total was reached");
  const userShare = Number(full?.metadata.limit);
  t.equal(opened + 16 + 2, userShare, `the users' streams stop at the total less the service role's share (${userShare})`);
  t.match(full?.message ?? "", /retry in a minute/);
  t.equal(crowd.openCount(), opened, "and all of them are still open");
  t.equal(gateway.exit(), undefined, "the gateway is still running", { output: gateway.output() });

  const during = await bounded(issue("during-crowd"), "IssueTicket while the server is full");
  await bounded(Promise.all([lobby.waitFor(carries(during)), second.waitFor(carries(during))]), "the boards see the change while the server is full");
  t.pass("a unary call is answered and both boards still see every change while the server is full");
  const tickets = await bounded(json(base, "/medschedule.queue.v1.QueueService/ListTickets", desk, QUEUE), "ListTickets while full");
  t.ok(Array.isArray(tickets.tickets), "a read is answered too");
  const service = boards.open(WATCH_QUEUE, QUEUE, await signToken(TEST_SECRET, "medschedule-notifier", ["service"]));
  t.equal(await bounded(service.first, "the service role's watch"), "message", "the service role still finds a place");
  const late = boards.open(WATCH_QUEUE, QUEUE, await display("board-late"));
  t.equal(refusal(await bounded(late.first, "a new board while full")), "resource_exhausted TOO_MANY_STREAMS server", "a new board is refused at once, not queued");

  // 3. The attackers leave: their places and the memory their streams held come back.
  leaked.close();
  crowd.close();
  let again: "message" | WatchEnd = "message";
  for (let i = 0; i < 600; i++) {
    const w = boards.open(WATCH_QUEUE, QUEUE, await display("board-late"));
    again = await bounded(w.first, "a board after the attack");
    if (again === "message") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(again, "message", "once the attackers left, a new board opens its watch");
  // The gateway frees a place once it sees the reset, which may come after the board's first answer.
  let reopened: Record<string, number> = {};
  for (let i = 0; i < 600; i++) {
    const r = await bounded(boards.openMany(16, WATCH_QUEUE, QUEUE, await display("board-leaked")), "the leaked token's streams again");
    r.watches.forEach((w) => w.close());
    reopened = tally(r.firsts);
    if (reopened.message === 16) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.same(reopened, { message: 16 }, "the token whose 16 streams were closed opens 16 again: closing freed its places");
  const heapAfter = await heapAfterGc(gateway.child.pid!, base);
  t.comment(`gateway heap after a full GC: ${(heapBefore / 2 ** 20).toFixed(1)} MiB before the attacks, ${(heapAfter / 2 ** 20).toFixed(1)} MiB after they left`);
  t.ok(heapAfter - heapBefore < 16 * 2 ** 20, `the closed streams' memory is released (heap grew by ${((heapAfter - heapBefore) / 2 ** 20).toFixed(1)} MiB; < 16 MiB)`);
  const last = await bounded(issue("after"), "IssueTicket after the attack");
  await bounded(lobby.waitFor(carries(last)), "the lobby board after the attack");
  t.equal(gateway.exit(), undefined, "the gateway never died", { output: gateway.output() });
  t.notMatch(gateway.output(), /heap out of memory|FATAL ERROR/);

  // 4. The queue service's own grpc-js server holds the same bounds for what reaches it directly.
  const direct = createGrpcJsTransport({ addresses: [addr] });
  t.teardown(() => direct.close());
  const client = createClient(QueueService, direct);
  const patient = await signToken(TEST_SECRET, "patient-direct", ["patient"]);
  const closers: AbortController[] = [];
  t.teardown(() => closers.forEach((c) => c.abort()));
  const openDirect = async (open: (signal: AbortSignal) => AsyncIterable<unknown>) => {
    const ac = new AbortController();
    closers.push(ac);
    const it = open(ac.signal)[Symbol.asyncIterator]();
    return it.next().then(
      () => "message",
      (err: unknown) => {
        const e = ConnectError.from(err);
        return `${Code[e.code]} ${e.findDetails(ErrorInfoSchema)[0]?.reason}`;
      },
    );
  };
  const directFirsts = await bounded(
    Promise.all(Array.from({ length: 20 }, () => openDirect((signal) => client.watchQueue(QUEUE, { signal, headers: { authorization: `Bearer ${patient}` } })))),
    "20 direct streams",
  );
  const count = (xs: string[]) => xs.reduce<Record<string, number>>((out, x) => ({ ...out, [x]: (out[x] ?? 0) + 1 }), {});
  t.same(count(directFirsts), { message: 16, "ResourceExhausted TOO_MANY_STREAMS": 4 }, "the service refuses one token's 17th stream too");
  // Health Watch needs no token: counted per connection, not per address (a clinic behind one NAT address).
  const healthFirsts = await bounded(
    Promise.all(Array.from({ length: 20 }, () => openDirect((signal) => createClient(Health, direct).watch({ service: "" }, { signal })))),
    "20 tokenless health watches on one connection",
  );
  t.same(count(healthFirsts), { message: 16, "ResourceExhausted TOO_MANY_STREAMS": 4 }, "16 tokenless health watches on one connection, the rest refused");
  const ownFirsts = await bounded(
    Promise.all(
      Array.from({ length: 20 }, () => {
        const own = createGrpcJsTransport({ addresses: [addr], channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
        t.teardown(() => own.close());
        return openDirect((signal) => createClient(Health, own).watch({ service: "" }, { signal }));
      }),
    ),
    "20 tokenless health watches over connections of their own",
  );
  t.same(count(ownFirsts), { message: 20 }, "from the same address over 20 connections, all 20 open");
  t.equal(queue.exit(), undefined, "the queue service never died", { output: queue.output() });
});
