// Sockets that send nothing useful must not keep the clinic out (issue 18, defect 3). The gateway
// process runs with a low file limit (ulimit -n 256) while a client at 127.0.0.2 holds hundreds of
// sockets of every kind that costs the gateway a descriptor without a request: silent ones, a partial
// HTTP/2 preface, partial HTTP/1.1 headers, a preface and then silence, headers trickled a byte at a
// time, keep-alive connections left idle, and HTTP/2 streams whose body never comes. Meanwhile
// callers at 127.0.0.1 (new connections, over HTTP/1.1 and h2c) must be answered, a display board's
// quiet WatchQueue stream must stay open and live, and every one of the attacker's sockets must be
// closed by the gateway. No limit is per address: the attacker only loses its idle sockets.
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { freePort } from "../../services/runtime/server/free-port.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { TEST_SECRET } from "../helpers/system.js";
import { Attacker, connectJsonOnNewConnection, waitFor } from "../helpers/connections.js";

t.setTimeout(240_000);

const FILE_LIMIT = 256;
const ATTACK_SOCKETS = 420;

const port = await freePort();
const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-conn-"));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const env = {
  PATH: process.env.PATH ?? "",
  PORT: String(port),
  DATA_DIR: dataDir,
  DATABASE_URL: await createTestDatabase(t),
  AUTH_HS256_SECRET: TEST_SECRET,
  METRICS_PORT: "0",
  LOG_LEVEL: "warn",
  BACKUP_SCHEDULE_POSTGRES: "",
  RATE_LIMIT_PER_MINUTE: "0",
  // Short, so the test sees the gateway close the attacker's sockets; the defaults are 10 s, 30 s, 65 s.
  GATEWAY_HEADERS_TIMEOUT: "2s",
  GATEWAY_BODY_TIMEOUT: "3s",
  GATEWAY_IDLE_TIMEOUT: "4s",
};
// `npm start` (the services in the gateway process, on Postgres) with at most 256 open files.
const gateway = spawn("bash", ["-c", `ulimit -n ${FILE_LIMIT} && exec "${process.execPath}" dist/gateway/main.js`], { env, stdio: ["ignore", "ignore", "inherit"] });
t.teardown(() => {
  if (gateway.exitCode === null) gateway.kill("SIGKILL");
});
const url = `http://127.0.0.1:${port}`;
await waitFor(async () => (await fetch(`${url}/grpc.health.v1.Health/Check`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).ok, 60_000, "the gateway to answer");

const reception = { authorization: `Bearer ${await signToken(TEST_SECRET, "desk", ["receptionist"])}` };
const display = { authorization: `Bearer ${await signToken(TEST_SECRET, "board", ["display"])}` };

t.test("hundreds of idle and half-open sockets from 127.0.0.2; callers at 127.0.0.1 are still answered", async (t) => {
  const queues = createClient(QueueService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
  await queues.createQueue({ queueId: "conn", displayName: "Connections", prefix: "C", timeZone: "UTC" }, { headers: reception });

  // A display board: a WatchQueue stream over HTTP/1.1 (as the web app's), quiet through the attack.
  const board = new AbortController();
  t.teardown(() => board.abort());
  const watch = queues.watchQueue({ queueId: "conn" }, { headers: display, signal: board.signal })[Symbol.asyncIterator]();
  t.equal((await watch.next()).value?.snapshot, true, "the board has its snapshot");

  const attacker = new Attacker(port, "127.0.0.2");
  t.teardown(() => attacker.destroyAll());
  await attacker.openMix(ATTACK_SOCKETS);
  t.ok(attacker.opened() >= ATTACK_SOCKETS, `the attacker opened ${attacker.opened()} sockets`);

  // The attack goes on (20 more sockets every 100 ms) while the clinic works.
  const attacking = attacker.keepOpening(20, 100);
  const codes: string[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await connectJsonOnNewConnection(port, "/medschedule.queue.v1.QueueService/ListQueues", {}, reception);
    codes.push(res.status === 200 ? "ok" : `HTTP ${res.status}`);
  }
  t.same(codes, Array(20).fill("ok"), "Connect over HTTP/1.1, each on a new connection: all answered");
  const grpcCodes: string[] = [];
  for (let i = 0; i < 10; i++) {
    // A new grpc-js channel (a new h2c connection) per call.
    const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${port}`] });
    const ticket = await createClient(QueueService, transport)
      .issueTicket({ requestId: `conn-${i}`, queueId: "conn" }, { headers: reception, timeoutMs: 10_000 })
      .then(() => "ok", (e: unknown) => String(e));
    transport.close();
    grpcCodes.push(ticket);
  }
  t.same(grpcCodes, Array(10).fill("ok"), "gRPC over h2c, each on a new connection: all answered");
  await attacking.stop();

  // The board's stream stayed open (a stream in progress is never idle) and still delivers.
  let update = await watch.next();
  while (!update.done && !update.value.tickets.some((x) => x.number === "C-010")) update = await watch.next();
  t.notOk(update.done, "the board's quiet stream is still open and receives the calls' tickets");

  // Every attacker socket is closed by the gateway (headers 2 s, body 3 s, idle 4 s after the attack).
  await waitFor(() => attacker.open() === 0, 60_000, "the gateway to close the attacker's sockets");
  t.equal(attacker.open(), 0, `all ${attacker.opened()} attacker sockets closed by the gateway`);
  t.same(attacker.openByKind(), {}, "of every kind");
  t.ok(attacker.closedByKind()["h2-stream-no-body"] > 0, "including HTTP/2 connections whose stream never sent its body");
});

t.test("the gateway still answers afterwards and exits cleanly", async (t) => {
  const res = await connectJsonOnNewConnection(port, "/grpc.health.v1.Health/Check", {}, {});
  t.equal(res.status, 200);
  gateway.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => gateway.on("exit", r));
  t.equal(code, 0);
});

t.test("npm start as is (embedded PGlite, which holds ~150 files itself) under ulimit -n 256", async (t) => {
  const pglitePort = await freePort();
  const pgliteDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-conn-pglite-"));
  t.teardown(() => rm(pgliteDir, { recursive: true, force: true }));
  const child = spawn("bash", ["-c", `ulimit -n ${FILE_LIMIT} && exec "${process.execPath}" dist/gateway/main.js`], {
    env: { PATH: process.env.PATH ?? "", PORT: String(pglitePort), DATA_DIR: pgliteDir, METRICS_PORT: "0", LOG_LEVEL: "warn", BACKUP_SCHEDULE_POSTGRES: "", DEMO_CLINIC: "off" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const base = `http://127.0.0.1:${pglitePort}`;
  const serving = async () => {
    const r = await fetch(`${base}/grpc.health.v1.Health/Check`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    return ((await r.json()) as { status?: string }).status === "SERVING";
  };
  await waitFor(serving, 120_000, "npm start to serve");
  const tokens = JSON.parse(await readFile(path.join(pgliteDir, "dev-tokens.json"), "utf8")) as Record<string, string>;
  const desk = { authorization: `Bearer ${tokens.receptionist}` };
  const attacker = new Attacker(pglitePort, "127.0.0.2");
  t.teardown(() => attacker.destroyAll());
  await attacker.openMix(ATTACK_SOCKETS);
  const codes: string[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await connectJsonOnNewConnection(pglitePort, "/medschedule.queue.v1.QueueService/ListQueues", {}, desk);
    codes.push(res.status === 200 ? "ok" : `HTTP ${res.status} ${res.body}`);
  }
  t.same(codes, Array(10).fill("ok"), `with ${attacker.opened()} sockets from 127.0.0.2, calls from 127.0.0.1 are answered (the database too)`);
  child.kill("SIGTERM");
  t.equal(await new Promise<number | null>((r) => child.on("exit", r)), 0, "and it exits cleanly");
});
