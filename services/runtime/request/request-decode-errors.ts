// Calls that end before the interceptors see them: their request never arrived whole, or did not
// decode. @connectrpc/connect reads and decodes requests inside its protocol handlers, before any
// interceptor runs, so neither the status, the details nor the log line were ours there:
// * A body that does not decode is the caller's mistake: INVALID_ARGUMENT (DESIGN.md section 3:
//   "never INTERNAL for a user's mistake"), with google.rpc.ErrorInfo (MALFORMED_REQUEST) and, where a
//   field can be named, google.rpc.BadRequest. connect answered INTERNAL "parse binary: ..." for binary
//   that does not decode (it ends early, invalid UTF-8 in a string), a compressed envelope without an
//   encoding and a body that does not decompress, without any detail. Those answers are rewritten, in
//   every protocol: gRPC (header or trailer), gRPC-web (the trailer envelope), Connect unary (HTTP
//   status and JSON body) and Connect streaming (the end-stream envelope); for binary, the request
//   bytes are read again strictly (request-binary.ts) to name the field.
// * A Connect GET whose `message` query parameter is not valid base64 (base64=1) threw from its base64
//   decoder and answered a bare "internal error" (HTTP 500); without base64, bytes that are not UTF-8
//   became U+FFFD on the way in. Both are refused here before connect sees the request.
// * A client that leaves mid-body (closes the socket, resets the stream), and a body that stalls until
//   the gateway gives up on it (GATEWAY_BODY_TIMEOUT), made connect's body reader throw a plain Node
//   error, answered and logged as INTERNAL and counted as a server error: anyone could page the
//   on-call. Such a call ends CANCELED: nothing the server did went wrong. The request's abort signal
//   is normalised the same way (connect-node gives an HTTP/2 reset by the client with INTERNAL_ERROR
//   the code INTERNAL, and a reset HTTP/1.1 socket ABORTED, which means contention here).
// * Every such call goes through the interceptors' `after` as an early call (RpcCall.early): logged,
//   counted in rpc_server_duration_seconds and charged to the rate limit like other tokenless calls.
//   It is reported with its answer's code, or CANCELED when the client had left: an HTTP/2 stream
//   reset mid-body (whose half-sent body also fails to decode) is settled when the stream closes. A
//   connection the client closes after its answer is not the call's failure.
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createContextKey, createHandlerContext } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFromJson, errorFromJson, errorToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { PUBLIC_SERVICES } from "../auth/role-table.js";
import { ACCEPT_COMPRESSION } from "../server/compression.js";
import { domainConnectError, ERROR_DOMAIN, errorReasonOf, MALFORMED_REQUEST, MalformedRequestError } from "../errors.js";
import { callReachedKey, type EarlyFailure } from "../server/interceptors.js";
import type { Logger } from "../observability/logger.js";
import { loggedError, REQUEST_ID_HEADER, saneRequestId } from "../observability/logging-interceptor.js";
import { codeName, rpcServerDuration } from "../observability/metrics.js";
import { binaryDecodeError } from "./request-binary.js";

/**
 * bodyTimedOutKey holds, in a request's context values, whether the server gave up waiting for the
 * request's body (the gateway's GATEWAY_BODY_TIMEOUT, connection-limiter.ts); serveConnect sets it.
 */
export const bodyTimedOutKey = createContextKey<() => boolean>(() => false, { description: "request body timed out" });

/** DECODE_ERROR matches the messages of connect's request decoding failures. */
const DECODE_ERROR = /^(parse binary: |received compressed envelope, but do not know how to decompress|decompression failed)/;

/** BINARY_BODY matches the content types whose request body is binary Protobuf. */
const BINARY_BODY = /^application\/(proto|connect\+proto|grpc(-web)?(\+proto)?)\s*(;|$)/i;
/** ENVELOPED matches the content types whose body is enveloped messages (gRPC, gRPC-web, Connect streaming). */
const ENVELOPED = /^application\/(grpc|connect\+)/i;

const GRPC_WEB_TRAILER_FLAG = 0x80;
const CONNECT_END_STREAM_FLAG = 0x02;

/** clientGone is how a call whose client left, or whose body the server stopped waiting for, ends. */
function clientGone(timedOut: boolean, cause?: unknown): ConnectError {
  const message = timedOut
    ? "the request body did not arrive in time (GATEWAY_BODY_TIMEOUT): the server closed the request"
    : "the client closed the request before the call ended";
  return new ConnectError(message, Code.Canceled, undefined, undefined, cause);
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of body) parts.push(p);
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
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

/** Fixer turns an error answer into the one to send (undefined: as it is) and reports how the call ended. */
interface Fixer {
  fix(err: ConnectError): Promise<ConnectError | undefined>;
  ended(err: ConnectError): void;
}

/** fixHeaders rewrites a gRPC status in headers or trailers in place. */
async function fixHeaders(h: Headers | undefined, fixer: Fixer): Promise<void> {
  if (!h?.get("grpc-status") || h.get("grpc-status") === "0") return;
  const err = findTrailerError(h);
  if (!err) return;
  const fixed = await fixer.fix(err);
  if (fixed) {
    for (const k of ["grpc-status", "grpc-message", "grpc-status-details-bin"]) h.delete(k);
    setTrailerStatus(h, fixed);
  }
  fixer.ended(fixed ?? err);
}

/** fixEnvelope rewrites a gRPC-web trailer or Connect end-stream envelope that reports an error. */
async function fixEnvelope(chunk: Uint8Array, fixer: Fixer): Promise<Uint8Array> {
  if (chunk.length < 5 || (chunk[0] !== GRPC_WEB_TRAILER_FLAG && chunk[0] !== CONNECT_END_STREAM_FLAG)) return chunk;
  const len = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
  if (chunk.length !== 5 + len) return chunk;
  const data = chunk.subarray(5);
  if (chunk[0] === GRPC_WEB_TRAILER_FLAG) {
    const trailer = trailerParse(data);
    const before = trailer.get("grpc-status-details-bin") + String(trailer.get("grpc-status"));
    await fixHeaders(trailer, fixer);
    const after = trailer.get("grpc-status-details-bin") + String(trailer.get("grpc-status"));
    return before === after ? chunk : envelope(chunk[0], trailerSerialize(trailer));
  }
  let end: ReturnType<typeof endStreamFromJson>;
  try {
    end = endStreamFromJson(data);
  } catch {
    return chunk; // not an end-stream message after all: pass it on
  }
  if (!end.error) return chunk;
  const fixed = await fixer.fix(end.error);
  fixer.ended(fixed ?? end.error);
  if (!fixed) return chunk;
  const metadata: Record<string, string[]> = {};
  end.metadata.forEach((v, k) => (metadata[k] = [v]));
  return envelope(chunk[0], new TextEncoder().encode(JSON.stringify({ error: errorToJson(fixed, {}), metadata })));
}

async function* fixBody(body: AsyncIterable<Uint8Array>, trailer: Headers | undefined, fixer: Fixer): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield await fixEnvelope(chunk, fixer);
  // gRPC sends its status in HTTP trailers, complete once the body is.
  await fixHeaders(trailer, fixer);
}

async function fixResponse(res: UniversalServerResponse, fixer: Fixer): Promise<UniversalServerResponse> {
  await fixHeaders(res.header, fixer);
  // Connect unary errors: an HTTP error status with {"code": ..., "message": ..., "details": [...]}.
  if (res.status !== 200 && res.body && (res.header?.get("content-type") ?? "").startsWith("application/json")) {
    const bytes = await collect(res.body);
    let err: ConnectError;
    try {
      err = errorFromJson(JSON.parse(new TextDecoder().decode(bytes)) as never, res.header ?? new Headers(), new ConnectError("", Code.Unknown));
    } catch {
      return { ...res, body: once(bytes) }; // not a Connect error body: pass it on unchanged
    }
    const fixed = await fixer.fix(err);
    fixer.ended(fixed ?? err);
    if (!fixed) return { ...res, body: once(bytes) };
    const body = errorToJsonBytes(fixed, {});
    const header = new Headers(res.header);
    header.set("content-length", String(body.byteLength));
    return { ...res, status: codeToHttpStatus(fixed.code), header, body: once(body) };
  }
  if (res.body) return { ...res, body: fixBody(res.body, res.trailer, fixer) };
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

/** decompress undoes a named request compression, or gives undefined. */
async function decompress(bytes: Uint8Array, encoding: string | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!encoding || encoding === "identity") return bytes;
  const c = ACCEPT_COMPRESSION.find((x) => x.name === encoding);
  return c ? c.decompress(bytes, maxBytes).catch(() => undefined) : undefined;
}

/**
 * requestMessage is the request message's bytes as connect read them: the Connect unary body or GET
 * `message`, or the first envelope of gRPC, gRPC-web and Connect streaming, decompressed; undefined
 * when they are not at hand.
 */
async function requestMessage(req: UniversalServerRequest, body: Uint8Array | undefined, maxBytes: number): Promise<Uint8Array | undefined> {
  const type = req.header.get("content-type") ?? "";
  if (req.method === "GET") {
    const q = new URL(req.url).searchParams;
    const m = q.get("message") ?? "";
    try {
      return decompress(q.get("base64") === "1" ? base64Decode(m) : new TextEncoder().encode(m), q.get("compression"), maxBytes);
    } catch {
      return undefined;
    }
  }
  if (!body) return undefined;
  if (!ENVELOPED.test(type)) return decompress(body, req.header.get("content-encoding"), maxBytes);
  if (body.length < 5) return undefined;
  const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  const data = body.subarray(5, 5 + len);
  const encoding = type.startsWith("application/connect+") ? req.header.get("connect-content-encoding") : req.header.get("grpc-encoding");
  return body[0] & 1 ? decompress(data, encoding, maxBytes) : data;
}

/** UnloggedFailure is a call that ended before the interceptors saw it, on a server whose services have no interceptors to report it to. */
export interface UnloggedFailure {
  /** service is the called service's full name. */
  service: string;
  /** method is the method's name. */
  method: string;
  /** protocol is "connect", "grpc-web" or "grpc". */
  protocol: string;
  /** error is how it ended. */
  error: ConnectError;
  /** startedAt is process.hrtime.bigint() when the call came in. */
  startedAt: bigint;
  /** requestId is the caller's x-request-id, if any. */
  requestId?: string | null;
}

/**
 * reportUnloggedFailure gives a call that ended before the interceptors saw it, on services not
 * wrapped by wrapService (no EarlyFailure to report to), what the logging and metrics interceptors
 * give every other call: one log line and an rpc_server_duration_seconds sample.
 */
export function reportUnloggedFailure(f: UnloggedFailure, logger: Logger | undefined): void {
  const ms = Number(process.hrtime.bigint() - f.startedAt) / 1e6;
  rpcServerDuration.labels({ service: f.service, method: f.method, code: codeName(f.error.code) }).observe(ms / 1000);
  if (!logger) return;
  const line = {
    procedure: `/${f.service}/${f.method}`,
    protocol: f.protocol,
    code: codeName(f.error.code),
    ms: Math.round(ms * 1000) / 1000,
    requestId: saneRequestId(f.requestId),
    ...loggedError(f.error),
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

/** withMalformedReason gives a connect-made INVALID_ARGUMENT without our ErrorInfo the reason MALFORMED_REQUEST. */
function withMalformedReason(err: ConnectError): ConnectError {
  const out = new ConnectError(err.rawMessage, err.code, err.metadata, [{ desc: ErrorInfoSchema, value: { domain: ERROR_DOMAIN, reason: MALFORMED_REQUEST } }], err);
  out.details.unshift(...err.details);
  return out;
}

/** EarlyFailureOptions configures withEarlyFailures. */
export interface EarlyFailureOptions {
  /** early reports a call that ended before the interceptors saw it to its service's interceptors (earlyFailureOf). */
  early?: EarlyFailure;
  /** logger logs such calls when there is no `early` (services not wrapped by wrapService). */
  logger?: Logger;
  /** maxBytes is the server's request size limit (readMaxBytes). */
  maxBytes: number;
}

/**
 * withEarlyFailures wraps a connect UniversalHandler (keeping its properties) for the calls that end
 * before the interceptors see them (see the header of this file): decoding failures answer
 * INVALID_ARGUMENT with ErrorInfo and, where a field can be named, BadRequest; a Connect GET's
 * `message` that is neither valid base64 (base64=1) nor UTF-8 is refused; a client that leaves
 * mid-body, or a body the server stopped waiting for, ends CANCELED; and each such call is reported
 * to the interceptors' `after` (or logged and counted, without `early`).
 */
export function withEarlyFailures(handler: UniversalHandler, opts: EarlyFailureOptions): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const startedAt = process.hrtime.bigint();
    const timedOut = req.contextValues?.get(bodyTimedOutKey) ?? (() => false);

    // The request's abort signal says the client left (or its body timed out): CANCELED, whatever
    // code connect-node gave the reset. connect-node aborts it at the end of every call too: then
    // without a reason of its own (a DOMException AbortError), while a reset HTTP/2 stream or an
    // errored HTTP/1.1 request gives a ConnectError.
    const clientLeft = () => timedOut() || req.signal.reason instanceof ConnectError;
    const aborted = new AbortController();
    const onAbort = () => aborted.abort(clientGone(timedOut(), req.signal.reason));
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener("abort", onAbort, { once: true });

    // The body: read errors are the client leaving; binary bodies are kept for naming a broken field.
    const kept: Uint8Array[] | undefined = BINARY_BODY.test(req.header.get("content-type") ?? "") ? [] : undefined;
    let keptBytes = 0;
    let body = req.body;
    if (body && typeof body === "object" && Symbol.asyncIterator in body) {
      const source = body as AsyncIterable<Uint8Array>;
      body = (async function* () {
        try {
          for await (const chunk of source) {
            if (kept && keptBytes <= opts.maxBytes + 5) {
              kept.push(chunk);
              keptBytes += chunk.byteLength;
            }
            yield chunk;
          }
        } catch (err) {
          throw clientGone(timedOut(), err);
        }
        // A reset stream may end its body quietly: what arrived is not the request.
        if (req.signal.aborted && clientLeft()) throw clientGone(timedOut(), req.signal.reason);
      })();
    }
    const request: UniversalServerRequest = { ...req, body, signal: aborted.signal };

    // How the call ended, once known; reported when the request has closed (see the file's header).
    let outcome: ConnectError | undefined;
    const seen = () => req.contextValues?.get(callReachedKey) === true;
    const report = () => {
      if (!outcome) return;
      const error = req.signal.aborted && clientLeft() ? clientGone(timedOut(), req.signal.reason) : outcome;
      outcome = undefined;
      if (opts.early) {
        const ctx = createHandlerContext({
          service: handler.service,
          method: handler.method,
          protocolName: protocolOf(req),
          requestMethod: req.method,
          url: req.url,
          requestHeader: req.header,
          contextValues: req.contextValues,
        });
        opts.early(handler.method, ctx, error, startedAt);
      } else {
        reportUnloggedFailure({ service: handler.service.typeName, method: handler.method.name, protocol: protocolOf(req), error, startedAt, requestId: req.header.get(REQUEST_ID_HEADER) }, opts.logger);
      }
    };
    const fixer: Fixer = {
      async fix(err) {
        if (seen()) return undefined;
        if (err.code === Code.Internal && DECODE_ERROR.test(err.rawMessage)) {
          if (err.rawMessage.startsWith("parse binary: ")) {
            return binaryDecodeError(handler.method.input, kept && keptBytes <= opts.maxBytes + 5 ? await requestMessage(req, concat(kept), opts.maxBytes) : await requestMessage(req, undefined, opts.maxBytes));
          }
          return domainConnectError(new MalformedRequestError("the request body is compressed, but not with an encoding it names that this server reads (gzip, br); send it uncompressed or name its encoding"));
        }
        if (err.code === Code.InvalidArgument && errorReasonOf(err) === undefined) return withMalformedReason(err);
        return undefined;
      },
      ended(err) {
        if (outcome || seen()) return;
        outcome = err;
        // An HTTP/2 stream the client reset mid-body ends its body quietly and says it was reset
        // only when it closes: settled then (a stream that ends well closes without a reset code).
        // HTTP/1.1 has no reset: a client that left made the body fail already, and a connection
        // closed after the answer is not the call's failure.
        if (req.signal.aborted || !req.httpVersion.startsWith("2")) report();
        else {
          req.signal.addEventListener("abort", report, { once: true });
          // In case the stream never says it closed: do not lose the call.
          setTimeout(report, 2_000).unref();
        }
      },
    };

    const queryError = req.method === "GET" && handler.allowedMethods.includes("GET") ? safeQueryError(req.url) : undefined;
    if (queryError) {
      const err = domainConnectError(new MalformedRequestError(queryError));
      fixer.ended(err);
      return connectUnaryError(err);
    }
    return fixResponse(await handler(request), fixer);
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
