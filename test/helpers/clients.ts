// Three independent ways to call an RPC (the generated Connect client, a plain @grpc/grpc-js client,
// `buf curl` through server reflection), each answering the same Outcome so tests can compare them.
import { execFile } from "node:child_process";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type DescService, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";

/** Outcome is an RPC's result in a form every client can produce and tests can compare. */
export interface Outcome {
  /** code is 0 for OK, else the gRPC status code. */
  code: number;
  /** message is the error message ("" on success). */
  message: string;
  /** violations are the google.rpc.BadRequest field violations of the error details. */
  violations: { field: string; description: string }[];
  /** response is the (first) response message in proto3 JSON, on success. */
  response?: JsonValue;
}

const ok = (response: JsonValue): Outcome => ({ code: 0, message: "", violations: [], response });

/** callConnect calls an RPC with the generated Connect client over `transport`. */
export async function callConnect(transport: Transport, service: DescService, method: DescMethod, json: JsonObject, headers: Record<string, string>): Promise<Outcome> {
  const client = createClient(service, transport) as unknown as Record<string, (req: unknown, opts: unknown) => unknown>;
  const input = fromJson(method.input, json);
  try {
    if (method.methodKind === "unary") {
      const res = await (client[method.localName](input, { headers, timeoutMs: 15_000 }) as Promise<never>);
      return ok(toJson(method.output, res));
    }
    const abort = new AbortController();
    try {
      for await (const msg of client[method.localName](input, { headers, signal: abort.signal, timeoutMs: 15_000 }) as AsyncIterable<never>) {
        return ok(toJson(method.output, msg));
      }
      return ok(null);
    } finally {
      abort.abort();
    }
  } catch (err) {
    const ce = ConnectError.from(err);
    return {
      code: ce.code,
      message: ce.rawMessage,
      violations: ce.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description }))),
    };
  }
}

function grpcErrorOutcome(err: grpc.ServiceError): Outcome {
  const violations: Outcome["violations"] = [];
  const bin = err.metadata?.get("grpc-status-details-bin")[0];
  if (bin) {
    const status = fromBinary(StatusSchema, bin as Buffer);
    for (const any of status.details) {
      if (any.typeUrl.endsWith("/google.rpc.BadRequest")) {
        for (const v of fromBinary(BadRequestSchema, any.value).fieldViolations) violations.push({ field: v.field, description: v.description });
      }
    }
  }
  return { code: err.code, message: err.details, violations };
}

/** callGrpcJs calls an RPC with a plain @grpc/grpc-js client (protobuf-es serializers) at `address` (host:port). */
export function callGrpcJs(address: string, service: DescService, method: DescMethod, json: JsonObject, headers: Record<string, string>): Promise<Outcome> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const path = `/${service.typeName}/${method.name}`;
  const serialize = (m: unknown) => Buffer.from(toBinary(method.input, m as never));
  const deserialize = (b: Buffer) => fromBinary(method.output, b);
  const input = fromJson(method.input, json);
  const deadline = Date.now() + 15_000;
  return new Promise<Outcome>((resolve) => {
    const done = (o: Outcome) => {
      client.close();
      resolve(o);
    };
    if (method.methodKind === "unary") {
      client.makeUnaryRequest(path, serialize, deserialize, input, md, { deadline }, (err, res) => {
        done(err ? grpcErrorOutcome(err) : ok(toJson(method.output, res as never)));
      });
      return;
    }
    const call = client.makeServerStreamRequest(path, serialize, deserialize, input, md, { deadline });
    let settled = false;
    call.on("data", (msg) => {
      if (settled) return;
      settled = true;
      call.cancel();
      done(ok(toJson(method.output, msg as never)));
    });
    call.on("error", (err: grpc.ServiceError) => {
      if (settled) return;
      settled = true;
      done(grpcErrorOutcome(err));
    });
    call.on("end", () => {
      if (settled) return;
      settled = true;
      done(ok(null));
    });
  });
}

const BUF = path.resolve("node_modules/.bin/buf");

function codeFromName(name: string): number {
  const pascal = name.split("_").map((p) => p[0].toUpperCase() + p.slice(1)).join("");
  const c = (Code as unknown as Record<string, number>)[pascal === "Cancelled" ? "Canceled" : pascal];
  return c ?? Code.Unknown;
}

/** callBufCurl calls an RPC with `buf curl`, which learns the schema through server reflection. */
export function callBufCurl(baseUrl: string, procedure: string, json: JsonObject, headers: Record<string, string>, protocol: "grpc" | "connect" | "grpcweb" = "grpc"): Promise<Outcome> {
  const args = ["curl", "--http2-prior-knowledge", "--protocol", protocol, "--timeout", "20s", "-d", JSON.stringify(json)];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push(`${baseUrl}/${procedure}`);
  return new Promise((resolve, reject) => {
    execFile(BUF, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) {
        resolve(ok(stdout.trim() === "" ? null : (JSON.parse(stdout) as JsonValue)));
        return;
      }
      try {
        const e = JSON.parse(stderr) as { code: string; message?: string; details?: { type: string; value?: string; debug?: { fieldViolations?: { field: string; description: string }[] } }[] };
        resolve({
          code: codeFromName(e.code),
          message: e.message ?? "",
          violations: (e.details ?? [])
            .filter((d) => d.type === "google.rpc.BadRequest")
            // buf curl decodes details into "debug" in the Connect protocol only; else decode "value".
            .flatMap((d) => (d.debug?.fieldViolations ?? (d.value ? fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations : [])))
            .map((v) => ({ field: v.field, description: v.description })),
        });
      } catch {
        reject(new Error(`buf curl ${procedure} failed: ${stderr || (err as Error).message}`));
      }
    });
  });
}
