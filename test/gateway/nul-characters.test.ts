// Postgres text cannot hold U+0000: a string that reached SQL with a NUL character answered INTERNAL
// (issue 18 defect 4). For every RPC of the five services and every string field of its request
// (nested and repeated ones too; a covered set checks none is missed), a well-formed request with a
// NUL added to that one field is INVALID_ARGUMENT naming the field, in both modes (the npm start
// gateway on PGlite, a forwarding gateway in front of the services on Postgres), over Connect JSON
// and gRPC.
import t, { type Test } from "tap";
import { fromJson, ScalarType, type DescMessage, type DescMethod, type DescService, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { fixtureFor } from "../fixtures/valid-requests.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { ALL_MODULES, startTestSystem, TEST_SECRET } from "../helpers/system.js";

t.setTimeout(400_000);

const SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService];

/** StringField is one string field of a request: its path in proto3 JSON names and how to put a NUL into a copy of the fixture. */
interface StringField {
  path: string;
  withNul(fixture: JsonObject): JsonObject;
}

const isString = (f: DescMessage["fields"][number]) => (f.fieldKind === "scalar" || f.fieldKind === "list") && f.scalar === ScalarType.STRING;

/** declaredPaths lists every string field path of a message, lists as [0] (what a request can carry). */
function declaredPaths(desc: DescMessage, prefix = ""): string[] {
  return desc.fields.flatMap((f) => {
    const p = `${prefix}${f.jsonName}${f.fieldKind === "list" ? "[0]" : ""}`;
    if (isString(f)) return [p];
    if (f.message && !f.message.typeName.startsWith("google.protobuf.")) return declaredPaths(f.message, `${p}.`);
    return [];
  });
}

/** stringFields finds the string fields of `desc` and a setter for each, filling in nested messages and lists the fixture leaves out. */
function stringFields(desc: DescMessage, prefix = "", at: (root: JsonObject) => JsonObject = (r) => r): StringField[] {
  const out: StringField[] = [];
  for (const f of desc.fields) {
    const name = f.jsonName;
    if (isString(f)) {
      const list = f.fieldKind === "list";
      out.push({
        path: `${prefix}${name}${list ? "[0]" : ""}`,
        withNul(fixture) {
          const copy = structuredClone(fixture);
          const target = at(copy);
          if (list) {
            const items = (target[name] as string[] | undefined) ?? [];
            target[name] = [`${items[0] || "a"}\u0000`, ...items.slice(1)];
          } else {
            target[name] = `${(target[name] as string | undefined) || "a"}\u0000`;
          }
          return copy;
        },
      });
    } else if (f.message && !f.message.typeName.startsWith("google.protobuf.")) {
      const list = f.fieldKind === "list";
      const child = (root: JsonObject): JsonObject => {
        const parent = at(root);
        if (list) {
          const items = ((parent[name] as JsonValue[] | undefined) ??= []);
          if (items.length === 0) items.push({});
          return items[0] as JsonObject;
        }
        return ((parent[name] as JsonObject | undefined) ??= {});
      };
      out.push(...stringFields(f.message, `${prefix}${name}${list ? "[0]" : ""}.`, child));
    }
  }
  return out;
}

async function outcome(transport: Transport, method: DescMethod, json: JsonObject): Promise<{ code: Code | 0; fields: string[]; message: string }> {
  const client = createClient(method.parent, transport) as unknown as Record<string, (req: unknown, opts: unknown) => unknown>;
  const abort = new AbortController();
  try {
    const input = fromJson(method.input, json);
    if (method.methodKind === "unary") await (client[method.localName](input, { timeoutMs: 15_000 }) as Promise<unknown>);
    else for await (const _ of client[method.localName](input, { signal: abort.signal, timeoutMs: 15_000 }) as AsyncIterable<unknown>) break;
    return { code: 0, fields: [], message: "" };
  } catch (err) {
    const ce = ConnectError.from(err);
    return { code: ce.code, fields: ce.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field)), message: ce.rawMessage };
  } finally {
    abort.abort();
  }
}

const modes: [string, (t: Test) => Promise<string>][] = [
  ["npm start (in-process, PGlite)", async (t) => `http://127.0.0.1:${(await startTestSystem(t, { embedded: true })).connect.port}`],
  [
    "distributed (forwarding gateway, Postgres)",
    async (t) => (await startTestGateway(t, [(await startUpstream(t, ALL_MODULES, await createTestDatabase(t))).address])).url,
  ],
];

for (const [mode, start] of modes) {
  t.test(mode, async (t) => {
    const baseUrl = await start(t);
    const token = await signToken(TEST_SECRET, "nul-admin", ["admin", "service"]);
    const auth: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    const transports: [string, Transport][] = [
      ["Connect JSON", createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth] })],
      ["gRPC", createGrpcTransport({ baseUrl, interceptors: [auth] })],
    ];
    const covered = new Set<string>();
    for (const service of SERVICES) {
      for (const method of service.methods) {
        const procedure = `${service.typeName}/${method.name}`;
        for (const field of stringFields(method.input)) {
          covered.add(`${procedure} ${field.path}`);
          const request = field.withNul(fixtureFor(procedure));
          for (const [protocol, transport] of transports) {
            const o = await outcome(transport, method, request);
            t.equal(o.code, Code.InvalidArgument, `${method.name} ${field.path} over ${protocol}: INVALID_ARGUMENT (${o.message})`);
            t.ok(o.fields.includes(field.path), `${method.name} ${field.path} over ${protocol}: names the field`, { fields: o.fields });
          }
        }
      }
    }
    const declared = SERVICES.flatMap((s) => s.methods.flatMap((m) => declaredPaths(m.input).map((p) => `${s.typeName}/${m.name} ${p}`)));
    t.same(declared.filter((d) => !covered.has(d)), [], "every string field of every request is covered");
    t.ok(covered.size >= 80, `${covered.size} string fields`);
  });
}
