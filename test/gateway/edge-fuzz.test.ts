// Bad input at the edge (issue 9): every RPC of the five services, through the gateway process
// (`node dist/gateway/main.js`, the services mounted in it, on Postgres), over gRPC (raw HTTP/2
// frames) and Connect (HTTP/1.1): malformed Protobuf, broken gRPC framing, oversized messages,
// wrong content types, invalid UTF-8 in string fields, malformed JSON and random field values.
// The gateway must never crash, never answer INTERNAL or UNKNOWN (nor HTTP 500), and its memory
// must stay flat over a few thousand such requests.
import t from "tap";
import { spawn } from "node:child_process";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create, toBinary, ScalarType, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { TEST_SECRET } from "../helpers/system.js";
import { createRng, type Rng } from "../system/workload.js";
import { waitServing } from "../system/system-cluster.js";
import { freePort } from "../../services/runtime/server/free-port.js";

t.setTimeout(400_000);

const SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService];
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The codes a gateway may never answer to bad input (gRPC numbers and Connect names). */
const FORBIDDEN_GRPC = new Set([2, 13]); // UNKNOWN, INTERNAL
const FORBIDDEN_CONNECT = new Set(["unknown", "internal"]);

// ---- inputs ----------------------------------------------------------------------------------

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const randomBytes = (rng: Rng, n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));

const STRINGS = ["", "x", "A".repeat(5_000), "🙂💥\u0000\u001f", "\ud800", "../../etc/passwd", "' or 1=1 --", "2026-13-45", "25:61", "Mars/Olympus", "-1", "p-1", "é".repeat(300), "%00%ff", "\u202e"];
const INT32 = [0, 1, -1, 2_147_483_647, -2_147_483_648, 1_000_000];
const UINT32 = [0, 1, 4_294_967_295, 1_000_000];
const INT64 = [0n, 1n, -1n, 9_223_372_036_854_775_807n, -9_223_372_036_854_775_808n, 315_537_897_600n];
const UINT64 = [0n, 1n, 18_446_744_073_709_551_615n, 315_537_897_600n];
const DOUBLES = [0, -1, 1e308, -1e308, Number.NaN, Number.POSITIVE_INFINITY, 0.5];

function scalarValue(rng: Rng, t: ScalarType): unknown {
  switch (t) {
    case ScalarType.STRING:
      return pick(rng, STRINGS);
    case ScalarType.BOOL:
      return rng() < 0.5;
    case ScalarType.BYTES:
      return randomBytes(rng, Math.floor(rng() * 64));
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return pick(rng, DOUBLES);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick(rng, INT64);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick(rng, UINT64);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick(rng, UINT32);
    default:
      return pick(rng, INT32);
  }
}

function fieldValue(rng: Rng, f: { fieldKind: string; scalar?: ScalarType; enum?: { values: { number: number }[] }; message?: DescMessage }, depth: number): unknown {
  if (f.fieldKind === "scalar") return scalarValue(rng, f.scalar!);
  if (f.fieldKind === "enum") return rng() < 0.7 ? pick(rng, f.enum!.values).number : pick(rng, [-1, 99, 2_147_483_647]);
  if (f.fieldKind === "message") return randomInit(rng, f.message!, depth + 1);
  return undefined;
}

/** randomInit builds an init object for `desc` with random, often hostile, values. */
function randomInit(rng: Rng, desc: DescMessage, depth = 0): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (desc.typeName === "google.protobuf.Timestamp" || desc.typeName === "google.protobuf.Duration") {
    return { seconds: pick(rng, [0n, -1n, 1n, 1_800_000_000n, -62_135_596_801n, 253_402_300_800n, 9_223_372_036_854_775_807n]), nanos: pick(rng, [0, -1, 999_999_999, 1_000_000_000, -2_147_483_648]) };
  }
  if (depth > 3) return init;
  for (const f of desc.fields as DescField[]) {
    if (rng() < 0.3) continue;
    let value: unknown;
    if (f.fieldKind === "list") {
      const n = rng() < 0.1 ? 300 : Math.floor(rng() * 4);
      const item = f.listKind === "scalar" ? { fieldKind: "scalar", scalar: f.scalar } : f.listKind === "enum" ? { fieldKind: "enum", enum: f.enum } : { fieldKind: "message", message: f.message };
      value = Array.from({ length: n }, () => fieldValue(rng, item as never, depth));
    } else if (f.fieldKind === "map") {
      value = Object.fromEntries(Array.from({ length: Math.floor(rng() * 3) }, (_, i) => [String(i), f.mapKind === "scalar" ? scalarValue(rng, f.scalar) : f.mapKind === "enum" ? 1 : randomInit(rng, f.message!, depth + 1)]));
    } else {
      value = fieldValue(rng, f as never, depth);
    }
    if (f.oneof) init[f.oneof.localName] = { case: f.localName, value };
    else init[f.localName] = value;
  }
  return init;
}

/** randomBinary encodes a random message of `desc` (undefined when protobuf-es refuses the values). */
function randomBinary(rng: Rng, desc: DescMessage): Uint8Array | undefined {
  try {
    return toBinary(desc, create(desc, randomInit(rng, desc) as never));
  } catch {
    return undefined;
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** invalidUtf8 sets every top-level string field to bytes that are not UTF-8. */
function invalidUtf8(desc: DescMessage): Uint8Array | undefined {
  const bad = [0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80];
  const out: number[] = [];
  for (const f of desc.fields) {
    if ((f.fieldKind === "scalar" || (f.fieldKind === "list" && f.listKind === "scalar")) && f.scalar === ScalarType.STRING) out.push(...varint((f.number << 3) | 2), bad.length, ...bad);
  }
  return out.length ? Uint8Array.from(out) : undefined;
}

/** malformedPayloads are bodies that are not a valid encoding of any message. */
function malformedPayloads(rng: Rng, desc: DescMessage): { name: string; body: Uint8Array }[] {
  const valid = randomBinary(rng, desc) ?? new Uint8Array();
  const cases = [
    { name: "random bytes", body: randomBytes(rng, 1 + Math.floor(rng() * 200)) },
    { name: "invalid wire type", body: Uint8Array.from([0x0f, 0x01]) },
    { name: "varint overflow", body: Uint8Array.from([0x08, ...Array(11).fill(0xff)]) },
    { name: "length past the end", body: Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x41]) },
    { name: "unterminated group", body: Uint8Array.from([0x0b, 0x08, 0x01]) },
    { name: "field number 0", body: Uint8Array.from([0x00, 0x01]) },
    { name: "truncated message", body: valid.subarray(0, Math.floor(valid.length / 2)) },
  ];
  const utf8 = invalidUtf8(desc);
  if (utf8) cases.push({ name: "invalid UTF-8 in strings", body: utf8 });
  return cases;
}

// ---- transports ------------------------------------------------------------------------------

interface Answer {
  /** http status. */
  status: number;
  /** grpc-status (gRPC) or the error code name (Connect); undefined on success or a plain HTTP error. */
  code?: number | string;
  message: string;
}

function frame(payload: Uint8Array, flags = 0, declaredLength = payload.length): Buffer {
  const h = Buffer.alloc(5);
  h[0] = flags;
  h.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([h, payload]);
}

/** grpcCall sends raw bytes as a gRPC request over one HTTP/2 session and reads status and message. */
/** Sessions hands out an HTTP/2 session, a new one once the server has closed the last (Node's
 * server ends a session with GOAWAY after many refused streams: flood protection, not a failure). */
class Sessions {
  private current: http2.ClientHttp2Session | undefined;
  private retired = 0;
  constructor(private readonly base: string) {}
  get(): http2.ClientHttp2Session {
    const s = this.current;
    if (s && !s.closed && !s.destroyed && !(s as { goneAway?: boolean }).goneAway) return s;
    if (s) this.retired++;
    const next = http2.connect(this.base);
    next.on("error", () => undefined);
    next.on("goaway", () => ((next as { goneAway?: boolean }).goneAway = true));
    this.current = next;
    return next;
  }
  /** replaced counts the sessions the server closed. */
  get replaced(): number {
    return this.retired;
  }
  close(): void {
    this.current?.close();
  }
}

function grpcCall(sessions: Sessions, p: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = sessions.get().request({ ":method": "POST", ":path": p, te: "trailers", "grpc-timeout": "5S", ...headers });
    } catch {
      // The session went away between the check and the request: once more on a new one.
      req = sessions.get().request({ ":method": "POST", ":path": p, te: "trailers", "grpc-timeout": "5S", ...headers });
    }
    let status = 0;
    let code: number | undefined;
    let message = "";
    let settled = false;
    const done = (a: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      done({ status: -1, message: "no answer within 20 s" });
    }, 20_000);
    const grab = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) code = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    req.on("response", (h) => {
      status = Number(h[":status"]);
      grab(h);
    });
    req.on("trailers", grab);
    req.on("data", () => undefined);
    req.on("end", () => done({ status, code, message }));
    req.on("error", (err) => done({ status, code, message: `stream error: ${err.message}` }));
    req.end(body);
  });
}

/** httpPost posts over HTTP/1.1 with node:http, which reports an early answer (413/429 before the
 * whole body is sent) at once, as a browser does; undici's fetch may wait on the upload instead. */
function httpPost(url: string, headers: Record<string, string>, body: Uint8Array | string): Promise<{ status: number; contentType: string; body: Buffer } | { error: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { status: number; contentType: string; body: Buffer } | { error: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const data = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const req = http.request(url, { method: "POST", headers: { ...headers, "content-length": String(data.length) }, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => done({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(parts) }));
      res.on("error", (err) => done({ error: err.message }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ error: "no answer within 20 s" });
    }, 20_000);
    // A server that answers early may close before the upload ends: only the answer matters.
    req.on("error", (err) => setTimeout(() => done({ error: err.message }), 2_000));
    req.end(data);
  });
}

/** connectCall sends a Connect request over HTTP/1.1 and reads the status and the error code. */
async function connectCall(base: string, p: string, body: Uint8Array | string, contentType: string, headers: Record<string, string>): Promise<Answer> {
  const res = await httpPost(`${base}${p}`, { "content-type": contentType, "connect-timeout-ms": "5000", "connect-protocol-version": "1", ...headers }, body);
  if ("error" in res) return { status: -1, message: `request failed: ${res.error}` };
  const buf = res.body;
  const ct = res.contentType;
  if (ct.startsWith("application/grpc-web")) {
    // gRPC-web: the status is in the trailer envelope (flag 0x80) at the end of the body.
    for (let i = 0; i + 5 <= buf.length; ) {
      const len = buf.readUInt32BE(i + 1);
      if (buf[i] & 0x80) {
        const text = buf.subarray(i + 5, i + 5 + len).toString("utf8");
        const code = /grpc-status:\s*(\d+)/i.exec(text)?.[1];
        const message = /grpc-message:\s*(.*)/i.exec(text)?.[1] ?? "";
        return { status: res.status, code: code === undefined ? undefined : Number(code), message: decodeURIComponent(message.trim()) };
      }
      i += 5 + len;
    }
    return { status: res.status, message: "" };
  }
  if (ct.startsWith("application/connect+")) {
    // A streaming answer: envelopes; the end-of-stream one (flag 2) carries the error, if any.
    for (let i = 0; i + 5 <= buf.length; ) {
      const len = buf.readUInt32BE(i + 1);
      if (buf[i] & 2) {
        try {
          const end = JSON.parse(buf.subarray(i + 5, i + 5 + len).toString("utf8")) as { error?: { code: string; message?: string } };
          return { status: res.status, code: end.error?.code, message: end.error?.message ?? "" };
        } catch {
          return { status: res.status, code: "unparseable end-stream", message: "" };
        }
      }
      i += 5 + len;
    }
    return { status: res.status, message: "" };
  }
  if (res.status !== 200 && ct.includes("json")) {
    try {
      const e = JSON.parse(buf.toString("utf8")) as { code?: string; message?: string };
      return { status: res.status, code: e.code, message: e.message ?? "" };
    } catch {
      return { status: res.status, message: buf.toString("utf8").slice(0, 200) };
    }
  }
  return { status: res.status, message: res.status === 200 ? "" : buf.toString("utf8").slice(0, 200) };
}

// ---- the test --------------------------------------------------------------------------------

/** memory reads the gateway's RSS and live heap right after a full garbage collection (gc-on-signal). */
async function memory(pid: number, base: string): Promise<{ rss: number; heap: number }> {
  process.kill(pid, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 500));
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  return { rss, heap };
}

t.test("bad input at the edge: never a crash, never INTERNAL, memory flat", async (t) => {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-fuzz-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const gcOnSignal = fileURLToPath(new URL("../helpers/gc-on-signal.js", import.meta.url));
  const gateway = spawn(process.execPath, ["--expose-gc", "--import", pathToFileURL(gcOnSignal).href, "dist/gateway/main.js"], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      METRICS_PORT: "0",
      DATABASE_URL: await createTestDatabase(t),
      AUTH_HS256_SECRET: TEST_SECRET,
      DATA_DIR: dataDir,
      LOG_LEVEL: "error",
      RATE_LIMIT_PER_MINUTE: "0",
      BACKUP_SCHEDULE_POSTGRES: "",
      BACKUP_SCHEDULE_REDIS: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  gateway.stdout.on("data", keep);
  gateway.stderr.on("data", keep);
  let exit: string | undefined;
  gateway.on("exit", (code, signal) => (exit = `exit ${code ?? signal}`));
  t.teardown(() => {
    if (gateway.exitCode === null) gateway.kill("SIGKILL");
  });
  t.ok(await waitServing(`127.0.0.1:${port}`, 60_000, () => exit === undefined), "the gateway is serving", { output });

  const base = `http://127.0.0.1:${port}`;
  const token = await signToken(TEST_SECRET, "fuzz-admin", ["admin"]);
  const auth = { authorization: `Bearer ${token}` };
  const sessions = new Sessions(base);
  t.teardown(() => sessions.close());

  // Failures grouped by protocol, kind of input and answer, with the count and the first RPC seen.
  const bad = new Map<string, { n: number; first: string }>();
  let sent = 0;
  const judge = (protocol: string, rpc: string, kind: string, a: Answer) => {
    sent++;
    const internal = typeof a.code === "number" ? FORBIDDEN_GRPC.has(a.code) : a.code !== undefined && FORBIDDEN_CONNECT.has(a.code);
    // Over HTTP/1.1 a server may refuse an oversized upload by answering early and closing the
    // connection; the client, still writing, then sees EPIPE or ECONNRESET instead of the answer.
    const cutUpload = kind === "oversized message" && protocol.startsWith("Connect") && /EPIPE|ECONNRESET/.test(a.message);
    if (cutUpload) {
      sent++;
      return;
    }
    if (a.status === 500 || a.status < 0 || internal) {
      const key = `${protocol} ${kind}: HTTP ${a.status} code ${a.code} ${a.message.replace(/\d+/g, "N").slice(0, 120)}`;
      const seen = bad.get(key);
      if (seen) seen.n++;
      else bad.set(key, { n: 1, first: rpc });
    }
  };

  /** round sends every kind of bad input to every RPC once; `seed` varies the random parts. */
  const round = async (seed: number, oversized: boolean) => {
    for (const service of SERVICES) {
      for (const method of service.methods as DescMethod[]) {
        const rng = createRng(seed, `${service.typeName}/${method.name}`);
        const p = `/${service.typeName}/${method.name}`;
        const streaming = method.methodKind === "server_streaming";
        const grpc = (name: string, body: Buffer, headers: Record<string, string> = {}) =>
          grpcCall(sessions, p, body, { "content-type": "application/grpc+proto", ...auth, ...headers }).then((a) => judge("gRPC", p, name, a));
        const connect = (name: string, body: Uint8Array | string, ct: string, headers: Record<string, string> = auth) => {
          // Server streams take enveloped messages with the connect+ content types.
          const streamCt = streaming && (ct === "application/proto" || ct === "application/json") ? ct.replace("application/", "application/connect+") : ct;
          const payload = streaming && streamCt.startsWith("application/connect+") ? frame(typeof body === "string" ? Buffer.from(body) : body) : body;
          return connectCall(base, p, payload, streamCt, headers).then((a) => judge(`Connect (${streamCt})`, p, name, a));
        };
        const jobs: Promise<void>[] = [];
        for (const m of malformedPayloads(rng, method.input)) {
          jobs.push(grpc(m.name, frame(m.body)));
          jobs.push(connect(m.name, m.body, "application/proto"));
          jobs.push(connect(m.name, frame(m.body), "application/grpc-web+proto", { ...auth, "x-grpc-web": "1" }));
        }
        for (let i = 0; i < 3; i++) {
          const body = randomBinary(rng, method.input);
          if (body) {
            jobs.push(grpc(`random values #${i}`, frame(body)));
            jobs.push(connect(`random values #${i}`, body, "application/proto"));
          }
        }
        // gRPC framing.
        const some = randomBinary(rng, method.input) ?? new Uint8Array();
        jobs.push(grpc("declared length past the body", frame(some.subarray(0, 3), 0, 1_000)));
        jobs.push(grpc("declared length over the limit", frame(randomBytes(rng, 16), 0, 0xfffffff0)));
        jobs.push(grpc("compressed flag without an encoding", frame(some, 1)));
        jobs.push(grpc("garbage gzip", frame(randomBytes(rng, 40), 1), { "grpc-encoding": "gzip" }));
        jobs.push(grpc("unknown encoding", frame(some, 1), { "grpc-encoding": "lz77" }));
        jobs.push(grpc("two messages", Buffer.concat([frame(some), frame(some)])));
        jobs.push(grpc("no message", Buffer.alloc(0)));
        jobs.push(grpc("half a header", Buffer.from([0, 0, 0])));
        // Wrong content types.
        for (const ct of ["text/plain", "application/xml", "application/grpc+xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
          jobs.push(grpc(`content-type ${ct}`, frame(some), { "content-type": ct }));
          jobs.push(connect(`content-type ${ct}`, some, ct));
        }
        jobs.push(connect("gRPC-web, broken frame", Buffer.from([0, 0, 0, 9, 9, 1]), "application/grpc-web+proto"));
        // JSON: malformed, wrong types, invalid UTF-8.
        jobs.push(connect("malformed JSON", "{\"a\": [", "application/json"));
        jobs.push(connect("JSON of the wrong shape", "[1, 2, 3]", "application/json"));
        const wrongTypes = Object.fromEntries(method.input.fields.map((f) => [f.jsonName, pick(rng, [123, "x", true, null, [], {}, -1.5, "2026-99-99T99:99:99Z", "-5s", "18446744073709551616"])]));
        jobs.push(connect("JSON with wrong field types", JSON.stringify(wrongTypes), "application/json"));
        jobs.push(connect("JSON, invalid UTF-8", Buffer.concat([Buffer.from('{"'), Buffer.from(method.input.fields[0]?.jsonName ?? "x"), Buffer.from('":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]), "application/json"));
        jobs.push(connect("JSON, unknown field", '{"noSuchField": 1}', "application/json"));
        // No token: UNAUTHENTICATED, never INTERNAL.
        jobs.push(connect("random bytes, no token", randomBytes(rng, 30), "application/proto", {}));
        if (oversized) {
          const big = Buffer.alloc(MAX_MESSAGE_BYTES + 1024, 0x41);
          jobs.push(grpc("oversized message", frame(big)));
          jobs.push(connect("oversized message", big, "application/proto"));
        }
        await Promise.all(jobs);
        t.equal(exit, undefined, `the gateway is still running after ${p}`, { output: exit ? output : undefined });
        if (exit) return;
      }
    }
  };

  const started = Date.now();
  // Two rounds to warm up (allocator arenas, HTTP/2 buffers and V8's heap settle at their working
  // size), then two measured: a leak grows on, a working set does not.
  for (let seed = 1; seed <= 2 && exit === undefined; seed++) await round(seed, true);
  await new Promise((r) => setTimeout(r, 1_000));
  const warm = await memory(gateway.pid!, base);
  const sentWarm = sent;
  for (let seed = 3; seed <= 4 && exit === undefined; seed++) await round(seed, true);
  await new Promise((r) => setTimeout(r, 1_000));
  const after = await memory(gateway.pid!, base);
  t.comment(`${sessions.replaced} HTTP/2 sessions closed by the server (GOAWAY) along the way`);
  t.comment(`${sent} bad requests in ${Date.now() - started} ms; after the first ${sentWarm}: rss ${(warm.rss / 2 ** 20).toFixed(1)} MiB, heap ${(warm.heap / 2 ** 20).toFixed(1)} MiB; at the end: rss ${(after.rss / 2 ** 20).toFixed(1)} MiB, heap ${(after.heap / 2 ** 20).toFixed(1)} MiB`);
  t.ok(sent >= 2_000, `a few thousand requests were sent (${sent})`);
  t.same([...bad].map(([k, v]) => `${k} (×${v.n}, first ${v.first})`), [], "no INTERNAL, UNKNOWN, HTTP 500 or unanswered request");
  t.equal(exit, undefined, "the gateway never crashed", { output: exit ? output : undefined });
  t.ok(await waitServing(`127.0.0.1:${port}`, 10_000), "and it still serves");
  // Generous bounds: a leak of a few KiB per request over these thousands of requests would exceed them.
  t.ok(after.rss - warm.rss < 96 * 2 ** 20, `RSS grew by ${((after.rss - warm.rss) / 2 ** 20).toFixed(1)} MiB (< 96 MiB)`);
  t.ok(after.heap - warm.heap < 48 * 2 ** 20, `heap grew by ${((after.heap - warm.heap) / 2 ** 20).toFixed(1)} MiB (< 48 MiB)`);
});
