// A request that does not decode is the caller's mistake: INVALID_ARGUMENT (DESIGN.md section 3:
// "never INTERNAL for a user's mistake"), and it is logged like every other call.
//
// @connectrpc/connect decodes requests inside its protocol handlers, before any interceptor runs, so
// neither the status nor the log line is ours there:
// * It answers INTERNAL for a binary body that does not decode ("parse binary: premature EOF",
//   "... illegal tag", invalid UTF-8 in a string field), for a compressed envelope without an
//   encoding, and for a compressed body that does not decompress, while it answers INVALID_ARGUMENT
//   for the same mistakes in JSON. Those statuses are corrected on the handlers' answers: gRPC
//   (header or trailer), gRPC-web (the trailer envelope), Connect unary (HTTP status and JSON body)
//   and Connect streaming (the end-stream envelope). Only errors carrying those messages are touched.
// * A Connect GET whose `message` query parameter is not valid base64 (base64=1) threw from its
//   base64 decoder and answered a bare "internal error" (HTTP 500); without base64, bytes that are not
//   UTF-8 became U+FFFD on the way in. Both are refused here before connect sees the request.
// * Whatever ends in an error before the interceptors saw the call (the logging interceptor marks
//   the ones it saw, rpcLoggedKey) gets its log line and its rpc_server_duration_seconds sample here.
import { randomUUID } from "node:crypto";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError } from "@connectrpc/connect";
import { codeFromString, codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { PUBLIC_SERVICES } from "./auth/role-table.js";
import { domainConnectError, InvalidArgumentError } from "./errors.js";
import type { Logger } from "./logger.js";
import { REQUEST_ID_HEADER, rpcLoggedKey } from "./logging.js";
import { codeName, rpcServerDuration } from "./metrics.js";

/** DECODE_ERROR matches the messages of connect's request decoding failures. */
const DECODE_ERROR = /^(parse binary: |received compressed envelope, but do not know how to decompress|decompression failed)/;

const GRPC_INVALID_ARGUMENT = "3";
const GRPC_INTERNAL = "13";
const GRPC_WEB_TRAILER_FLAG = 0x80;
const CONNECT_END_STREAM_FLAG = 0x02;

/** Outcome is how a call ended, as far as its answer says: its code and message. */
interface Outcome {
  code: Code;
  message: string;
}

type OnError = (o: Outcome) => void;

function decodeGrpcMessage(m: string): string {
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

/** fixGrpcStatus turns grpc-status 13 with a decode message into 3, in place, and reports an error status. */
function fixGrpcStatus(h: Headers | undefined, onError: OnError): void {
  const status = h?.get("grpc-status");
  if (!h || status === null || status === undefined) return;
  const message = decodeGrpcMessage(h.get("grpc-message") ?? "");
  if (status === GRPC_INTERNAL && DECODE_ERROR.test(message)) h.set("grpc-status", GRPC_INVALID_ARGUMENT);
  const code = Number(h.get("grpc-status"));
  if (code !== 0) onError({ code, message });
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** fixEnvelope rewrites a gRPC-web trailer or Connect end-stream envelope that reports a decode error, and reports an error. */
function fixEnvelope(chunk: Uint8Array, onError: OnError): Uint8Array {
  if (chunk.length < 5 || (chunk[0] !== GRPC_WEB_TRAILER_FLAG && chunk[0] !== CONNECT_END_STREAM_FLAG)) return chunk;
  const len = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
  if (chunk.length !== 5 + len) return chunk;
  const text = new TextDecoder().decode(chunk.subarray(5));
  if (chunk[0] === GRPC_WEB_TRAILER_FLAG) {
    const lines = text.split("\r\n");
    const statusAt = lines.findIndex((l) => /^grpc-status:/i.test(l));
    const messageLine = lines.find((l) => /^grpc-message:/i.test(l));
    const message = messageLine ? decodeGrpcMessage(messageLine.slice(messageLine.indexOf(":") + 1).trim()) : "";
    const status = statusAt < 0 ? 0 : Number(lines[statusAt].slice(lines[statusAt].indexOf(":") + 1).trim());
    if (status === 0) return chunk;
    if (status === Code.Internal && DECODE_ERROR.test(message)) {
      lines[statusAt] = `grpc-status: ${GRPC_INVALID_ARGUMENT}`;
      onError({ code: Code.InvalidArgument, message });
      return envelope(chunk[0], new TextEncoder().encode(lines.join("\r\n")));
    }
    onError({ code: status, message });
    return chunk;
  }
  try {
    const end = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (!end.error) return chunk;
    const message = end.error.message ?? "";
    if (end.error.code === "internal" && DECODE_ERROR.test(message)) {
      end.error.code = "invalid_argument";
      onError({ code: Code.InvalidArgument, message });
      return envelope(chunk[0], new TextEncoder().encode(JSON.stringify(end)));
    }
    onError({ code: codeFromString(end.error.code ?? "") ?? Code.Unknown, message });
  } catch {
    // not an end-stream message after all: pass it on
  }
  return chunk;
}

async function* fixBody(body: AsyncIterable<Uint8Array>, trailer: Headers | undefined, onError: OnError): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield fixEnvelope(chunk, onError);
  // gRPC sends its status in HTTP trailers, complete once the body is.
  fixGrpcStatus(trailer, onError);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of body) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function fixResponse(res: UniversalServerResponse, onError: OnError): Promise<UniversalServerResponse> {
  fixGrpcStatus(res.header, onError);
  // Connect unary errors: an HTTP error status with {"code": ..., "message": ...}.
  if (res.status !== 200 && res.body && (res.header?.get("content-type") ?? "").startsWith("application/json")) {
    const bytes = await collect(res.body);
    try {
      const err = JSON.parse(new TextDecoder().decode(bytes)) as { code?: string; message?: string };
      const message = err.message ?? "";
      if (err.code === "internal" && DECODE_ERROR.test(message)) {
        err.code = "invalid_argument";
        onError({ code: Code.InvalidArgument, message });
        const fixed = new TextEncoder().encode(JSON.stringify(err));
        const header = new Headers(res.header);
        header.set("content-length", String(fixed.byteLength));
        return { ...res, status: codeToHttpStatus(Code.InvalidArgument), header, body: once(fixed) };
      }
      onError({ code: codeFromString(err.code ?? "") ?? Code.Unknown, message });
    } catch {
      // not a Connect error body: pass it on unchanged
    }
    return { ...res, body: once(bytes) };
  }
  if (res.body) return { ...res, body: fixBody(res.body, res.trailer, onError) };
  return res;
}

/** percentDecode turns a raw query-string value into its bytes ('+' is a space, as in URLSearchParams). */
function percentDecode(raw: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "%" && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c === "+" ? " " : c, "utf8"));
    }
  }
  return Buffer.from(bytes);
}

/**
 * getQueryError checks a Connect GET request's `message` parameter the way connect will read it:
 * base64 when base64=1, else UTF-8 text. It returns what is wrong, or undefined.
 */
export function getQueryError(url: string): string | undefined {
  const query = url.indexOf("?") < 0 ? "" : url.slice(url.indexOf("?") + 1);
  let raw: string | undefined;
  let base64 = false;
  for (const pair of query.split("&")) {
    const at = pair.indexOf("=");
    const key = decodeURIComponent(at < 0 ? pair : pair.slice(0, at)) as string | undefined;
    const value = at < 0 ? "" : pair.slice(at + 1);
    // URLSearchParams keeps the first value of a repeated parameter for get().
    if (key === "message" && raw === undefined) raw = value;
    if (key === "base64" && value === "1") base64 = true;
  }
  if (raw === undefined) return undefined;
  const bytes = percentDecode(raw);
  if (base64) {
    try {
      base64Decode(bytes.toString("utf8"));
    } catch {
      return 'the query parameter "message" is not valid base64 (base64=1 says it is)';
    }
    return undefined;
  }
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return 'the query parameter "message" is not valid UTF-8; send JSON as UTF-8, or binary with base64=1';
  }
  return undefined;
}

function safeQueryError(url: string): string | undefined {
  try {
    return getQueryError(url);
  } catch {
    // A key that is not percent-encoding (URIError): connect ignores what it cannot read.
    return undefined;
  }
}

/** connectUnaryError is a Connect unary error answer. */
function connectUnaryError(err: ConnectError): UniversalServerResponse {
  const body = errorToJsonBytes(err, {});
  return {
    status: codeToHttpStatus(err.code),
    header: new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) }),
    body: once(body),
  };
}

/** UnloggedFailure is a call that ended before the interceptors saw it (its request did not decode). */
export interface UnloggedFailure {
  /** service is the called service's full name. */
  service: string;
  /** method is the method's name. */
  method: string;
  /** protocol is "connect", "grpc-web" or "grpc". */
  protocol: string;
  /** code is how it ended. */
  code: Code;
  /** message says what was wrong. */
  message: string;
  /** startedAt is process.hrtime.bigint() when the call came in. */
  startedAt: bigint;
  /** requestId is the caller's x-request-id, if any. */
  requestId?: string | null;
}

/**
 * reportUnloggedFailure gives a call that ended before the interceptors saw it what the logging and
 * metrics interceptors give every other call: one log line and an rpc_server_duration_seconds sample.
 */
export function reportUnloggedFailure(f: UnloggedFailure, logger: Logger | undefined): void {
  const ms = Number(process.hrtime.bigint() - f.startedAt) / 1e6;
  rpcServerDuration.labels({ service: f.service, method: f.method, code: codeName(f.code) }).observe(ms / 1000);
  if (!logger) return;
  const line = {
    procedure: `/${f.service}/${f.method}`,
    protocol: f.protocol,
    code: codeName(f.code),
    ms: Math.round(ms * 1000) / 1000,
    requestId: f.requestId && /^[A-Za-z0-9._:-]{1,128}$/.test(f.requestId) ? f.requestId : randomUUID(),
    error: f.message,
  };
  if (PUBLIC_SERVICES.has(f.service)) logger.debug(line, "rpc");
  else logger.info(line, "rpc");
}

function protocolOf(req: UniversalServerRequest): string {
  const type = req.header.get("content-type") ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * withDecodeErrorsAsInvalidArgument wraps a connect UniversalHandler (keeping its properties) so
 * request decoding failures answer INVALID_ARGUMENT, a Connect GET's `message` that is neither valid
 * base64 (base64=1) nor UTF-8 is refused, and calls that end in an error before the interceptors saw
 * them are logged (to `logger`) and counted.
 */
export function withDecodeErrorsAsInvalidArgument(handler: UniversalHandler, logger?: Logger): UniversalHandler {
  const service = handler.service.typeName;
  const method = handler.method.name;
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const startedAt = process.hrtime.bigint();
    let reported = false;
    const onError: OnError = (o) => {
      if (reported || req.contextValues?.get(rpcLoggedKey)) return;
      reported = true;
      const requestId = req.header.get(REQUEST_ID_HEADER);
      reportUnloggedFailure({ service, method, protocol: protocolOf(req), code: o.code, message: o.message, startedAt, requestId }, logger);
    };
    const queryError = req.method === "GET" && handler.allowedMethods.includes("GET") ? safeQueryError(req.url) : undefined;
    if (queryError) {
      const err = domainConnectError(new InvalidArgumentError([], queryError));
      onError({ code: err.code, message: err.rawMessage });
      return connectUnaryError(err);
    }
    return fixResponse(await handler(req), onError);
  };
  const props: Omit<UniversalHandler, never> = handler;
  return Object.assign(wrapped, {
    service: props.service,
    method: props.method,
    requestPath: props.requestPath,
    protocolNames: props.protocolNames,
    allowedMethods: props.allowedMethods,
    supportedContentType: props.supportedContentType,
  });
}
