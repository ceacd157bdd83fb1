// Raw RPC calls for tests that send bytes no generated client would: a request body as given, in
// each protocol the gateway speaks (Connect POST and GET over HTTP/1.1, gRPC-web over HTTP/1.1, gRPC
// over cleartext HTTP/2), and the answer read back as code, message and field violations.
import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";

/** RawProtocol is how a raw call is sent. */
export type RawProtocol = "connect" | "connect-get" | "grpc-web" | "grpc";

/** RawOutcome is what came back: the code (0 OK), the message, the field violations (field and reason), the HTTP status. */
export interface RawOutcome {
  /** code is the RPC status code, 0 for OK. */
  code: Code | 0;
  /** message is the error message. */
  message: string;
  /** violations are google.rpc.BadRequest's, as [field, reason]. */
  violations: [string, string][];
  /** httpStatus is the HTTP status of the answer. */
  httpStatus: number;
  /** errorInfo is google.rpc.ErrorInfo's domain and reason, when the error carries one. */
  errorInfo?: { domain: string; reason: string };
}

function errorInfoOf(details: { type: string; value: Uint8Array }[]): { domain: string; reason: string } | undefined {
  const d = details.find((x) => x.type === "google.rpc.ErrorInfo");
  if (!d) return undefined;
  const info = fromBinary(ErrorInfoSchema, d.value);
  return { domain: info.domain, reason: info.reason };
}

function detailsOfStatus(bin: string | null | undefined): { type: string; value: Uint8Array }[] {
  if (!bin) return [];
  return fromBinary(StatusSchema, Buffer.from(bin, "base64")).details.map((a) => ({ type: a.typeUrl.slice(a.typeUrl.lastIndexOf("/") + 1), value: a.value }));
}

function violationsOfStatus(bin: string | null | undefined): [string, string][] {
  if (!bin) return [];
  const status = fromBinary(StatusSchema, Buffer.from(bin, "base64"));
  return status.details
    .filter((a) => a.typeUrl.endsWith("/google.rpc.BadRequest"))
    .flatMap((a) => fromBinary(BadRequestSchema, a.value).fieldViolations.map((v): [string, string] => [v.field, v.reason]));
}

function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  Buffer.from(data).copy(out, 5);
  return out;
}

/** trailerOf reads the gRPC-web trailer envelope (flag 0x80) of a response body. */
function grpcWebTrailer(body: Buffer): Record<string, string> {
  let at = 0;
  while (at + 5 <= body.length) {
    const flags = body[at];
    const len = body.readUInt32BE(at + 1);
    const data = body.subarray(at + 5, at + 5 + len);
    at += 5 + len;
    if (flags & 0x80) {
      const out: Record<string, string> = {};
      for (const line of data.toString("utf8").split("\r\n")) {
        const i = line.indexOf(":");
        if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      return out;
    }
  }
  return {};
}

/**
 * rawCall sends `body` (the serialized request message: JSON text or binary Protobuf, per `binary`)
 * to `procedure` ("/pkg.Service/Method") at `baseUrl` ("http://127.0.0.1:port").
 */
export async function rawCall(
  baseUrl: string,
  protocol: RawProtocol,
  procedure: string,
  body: Uint8Array,
  opts: { headers?: Record<string, string>; binary?: boolean; query?: string } = {},
): Promise<RawOutcome> {
  const headers = opts.headers ?? {};
  const codec = opts.binary ? "proto" : "json";
  if (protocol === "connect" || protocol === "connect-get") {
    const res =
      protocol === "connect"
        ? await fetch(baseUrl + procedure, { method: "POST", headers: { ...headers, "content-type": `application/${codec}`, "connect-protocol-version": "1" }, body: Buffer.from(body) as unknown as BodyInit })
        : await fetch(`${baseUrl}${procedure}?${opts.query ?? `encoding=${codec}&connect=v1&message=${encodeURIComponent(Buffer.from(body).toString("utf8"))}`}`, { headers });
    const text = await res.text();
    if (res.status === 200) return { code: 0, message: "", violations: [], httpStatus: 200 };
    const err = JSON.parse(text) as { code: string; message?: string; details?: { type: string; value: string }[] };
    const violations = (err.details ?? [])
      .filter((d) => d.type === "google.rpc.BadRequest")
      .flatMap((d) => fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations.map((v): [string, string] => [v.field, v.reason]));
    const errorInfo = errorInfoOf((err.details ?? []).map((d) => ({ type: d.type, value: Buffer.from(d.value, "base64") })));
    return { code: codeFromString(err.code) ?? Code.Unknown, message: err.message ?? "", violations, httpStatus: res.status, errorInfo };
  }
  if (protocol === "grpc-web") {
    const res = await fetch(baseUrl + procedure, { method: "POST", headers: { ...headers, "content-type": `application/grpc-web+${codec}`, "x-grpc-web": "1" }, body: envelope(0, body) as unknown as BodyInit });
    const bytes = Buffer.from(await res.arrayBuffer());
    const trailer = { ...Object.fromEntries(res.headers), ...grpcWebTrailer(bytes) };
    return {
      code: Number(trailer["grpc-status"] ?? Code.Unknown) as Code,
      message: decodeURIComponent(trailer["grpc-message"] ?? ""),
      violations: violationsOfStatus(trailer["grpc-status-details-bin"]),
      httpStatus: res.status,
      errorInfo: errorInfoOf(detailsOfStatus(trailer["grpc-status-details-bin"])),
    };
  }
  return new Promise<RawOutcome>((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": procedure, "content-type": `application/grpc+${codec}`, te: "trailers", ...headers });
    let head: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (head = h));
    stream.on("data", () => undefined);
    stream.on("trailers", (trailers) => (head = { ...head, ...trailers }));
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve({
        code: Number(head["grpc-status"] ?? Code.Unknown) as Code,
        message: decodeURIComponent(String(head["grpc-message"] ?? "")),
        violations: violationsOfStatus(head["grpc-status-details-bin"] as string | undefined),
        httpStatus: Number(head[":status"] ?? 0),
        errorInfo: errorInfoOf(detailsOfStatus(head["grpc-status-details-bin"] as string | undefined)),
      });
    });
    stream.end(envelope(0, body));
  });
}
