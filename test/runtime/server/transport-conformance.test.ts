// For every RPC of every service: the same requests through serveGrpc() (grpc-js) and serveConnect()
// (connect-node), with three independent clients (the generated Connect client in each protocol, a
// plain @grpc/grpc-js client, and `buf curl` through server reflection): identical outcomes.
import t from "tap";
import type { DescMethod, DescService, JsonObject } from "@bufbuild/protobuf";
import { Code, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { Health } from "../../../gen/health/v1/health_pb.js";
import { fixtureFor, INVALID_REQUESTS, VALID_REQUESTS } from "../../fixtures/valid-requests.js";
import { callBufCurl, callConnect, callGrpcJs, type Outcome } from "../../helpers/clients.js";
import { startTestSystem } from "../../helpers/system.js";
import { createGrpcJsTransport } from "../../../services/runtime/clients/grpc-transport.js";

const SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService, Health];
// About 350 buf curl runs (each does its own reflection) on a 2-core machine.
t.setTimeout(600_000);

const sys = await startTestSystem(t);
const headers = { authorization: `Bearer ${await sys.token(["admin", "service"], "conformance")}` };
const grpcUrl = `http://127.0.0.1:${sys.grpc.port}`;
const connectUrl = `http://127.0.0.1:${sys.connect.port}`;

const connectClients: [string, Transport][] = [
  ["grpc-js server, Connect client (gRPC)", createGrpcTransport({ baseUrl: grpcUrl })],
  ["connect server, Connect client (Connect JSON, HTTP/1.1)", createConnectTransport({ baseUrl: connectUrl, httpVersion: "1.1" })],
  ["connect server, Connect client (Connect binary, HTTP/2)", createConnectTransport({ baseUrl: connectUrl, httpVersion: "2", useBinaryFormat: true })],
  ["connect server, Connect client (gRPC-web, HTTP/1.1)", createGrpcWebTransport({ baseUrl: connectUrl, httpVersion: "1.1" })],
  ["connect server, Connect client (gRPC)", createGrpcTransport({ baseUrl: connectUrl })],
  ["grpc-js server, Connect client over the runtime's grpc-js transport", createGrpcJsTransport({ addresses: [`127.0.0.1:${sys.grpc.port}`] })],
  ["connect server, Connect client over the runtime's grpc-js transport", createGrpcJsTransport({ addresses: [`127.0.0.1:${sys.connect.port}`] })],
];

/**
 * comparable is what must be identical across servers and clients: the code, the message, the field
 * violations, and for answers the shape of the response (which fields, of which types). Values are
 * not compared, since the calls really run one after another against live services: a list grows,
 * a create makes a new id. The services' own tests check the values.
 */
function comparable(o: Outcome): unknown {
  const shape = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, shape(x)]));
    return typeof v;
  };
  return { code: o.code, message: o.message, violations: o.violations, response: o.code === 0 ? shape(o.response) : undefined };
}

/** A small pool so the buf curl processes do not all start at once. */
function limit(concurrency: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
const pool = limit(6);

async function outcomes(service: DescService, method: DescMethod, make: () => JsonObject): Promise<Record<string, Outcome>> {
  const procedure = `${service.typeName}/${method.name}`;
  const result: Record<string, Outcome> = {};
  for (const [name, transport] of connectClients) result[name] = await callConnect(transport, service, method, make(), headers);
  result["grpc-js server, grpc-js client"] = await callGrpcJs(`127.0.0.1:${sys.grpc.port}`, service, method, make(), headers);
  result["connect server, grpc-js client"] = await callGrpcJs(`127.0.0.1:${sys.connect.port}`, service, method, make(), headers);
  // Health/Watch streams until cancelled; buf curl would wait for its timeout.
  if (!(service === Health && method.name === "Watch")) {
    const [a, b, c] = await Promise.all([
      pool(() => callBufCurl(grpcUrl, procedure, make(), headers, "grpc")),
      pool(() => callBufCurl(connectUrl, procedure, make(), headers, "grpc")),
      pool(() => callBufCurl(connectUrl, procedure, make(), headers, "connect")),
    ]);
    result["grpc-js server, buf curl (gRPC)"] = a;
    result["connect server, buf curl (gRPC)"] = b;
    result["connect server, buf curl (Connect)"] = c;
  }
  return result;
}

t.test("every RPC has a fixture", async (t) => {
  for (const s of SERVICES) {
    for (const m of s.methods) t.ok(VALID_REQUESTS[`${s.typeName}/${m.name}`], `fixture for ${s.typeName}/${m.name}`);
  }
});

for (const service of SERVICES) {
  t.test(service.typeName, async (t) => {
    await Promise.all(
      service.methods.map(async (method) => {
        const procedure = `${service.typeName}/${method.name}`;
        const variants: [string, () => JsonObject][] = [
          ["well-formed", () => fixtureFor(procedure)],
          ["empty", () => ({})],
        ];
        const invalid = INVALID_REQUESTS[procedure];
        if (invalid) variants.push(["invalid", () => invalid]);
        for (const [label, make] of variants) {
          const got = await outcomes(service, method, make);
          const [first, ...rest] = Object.entries(got);
          for (const [name, outcome] of rest) {
            t.same(comparable(outcome), comparable(first[1]), `${method.name} ${label}: ${name} = ${first[0]}`);
          }
          t.not(first[1].code, Code.Internal, `${method.name} ${label} is never INTERNAL`);
          t.not(first[1].code, Code.Unknown, `${method.name} ${label} is never UNKNOWN`);
          if (label === "well-formed") {
            t.not(first[1].code, Code.InvalidArgument, `${method.name} fixture is valid: ${first[1].message}`);
            t.not(first[1].code, Code.PermissionDenied, `${method.name} allowed for admin+service`);
          }
          if (label === "invalid") {
            t.equal(first[1].code, Code.InvalidArgument, `${method.name} invalid request is INVALID_ARGUMENT`);
            t.ok(first[1].violations.length >= 2, `${method.name} names every bad field: ${JSON.stringify(first[1].violations)}`);
          }
        }
      }),
    );
  });
}

t.test("health answers SERVING on both servers, without a token", async (t) => {
  for (const [name, transport] of connectClients) {
    const o = await callConnect(transport, Health, Health.method.check, {}, {});
    t.same(o.response, { status: "SERVING" }, name);
  }
  const unknown = await callGrpcJs(`127.0.0.1:${sys.grpc.port}`, Health, Health.method.check, { service: "no.such.Service" }, {});
  t.equal(unknown.code, Code.NotFound, "unknown service is NOT_FOUND");
});
