// A request body that is not a valid encoding of the request message is the caller's mistake:
// INVALID_ARGUMENT (DESIGN.md §3: "never INTERNAL for a user's mistake"). @connectrpc/connect answers
// INTERNAL for it in the binary format ("parse binary: premature EOF", "... illegal tag", invalid
// UTF-8 in a string field) and for a compressed envelope without an encoding, while it answers
// INVALID_ARGUMENT for the same mistake in JSON. The parse runs inside its protocol handlers, before
// any interceptor, so the status is corrected on the handlers' answers: gRPC (header or trailer),
// gRPC-web (the trailer envelope), Connect unary (HTTP status and JSON body) and Connect streaming
// (the end-stream envelope). Only errors carrying those messages are touched.
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

/** DECODE_ERROR matches the messages of connect's request decoding failures. */
const DECODE_ERROR = /^(parse binary: |received compressed envelope, but do not know how to decompress)/;

const GRPC_INVALID_ARGUMENT = "3";
const GRPC_INTERNAL = "13";
const GRPC_WEB_TRAILER_FLAG = 0x80;
const CONNECT_END_STREAM_FLAG = 0x02;

function decodeGrpcMessage(m: string): string {
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

/** fixGrpcStatus turns grpc-status 13 with a decode message into 3, in place. */
function fixGrpcStatus(h: Headers | undefined): void {
  if (h?.get("grpc-status") === GRPC_INTERNAL && DECODE_ERROR.test(decodeGrpcMessage(h.get("grpc-message") ?? ""))) h.set("grpc-status", GRPC_INVALID_ARGUMENT);
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** fixEnvelope rewrites a gRPC-web trailer or Connect end-stream envelope that reports a decode error. */
function fixEnvelope(chunk: Uint8Array): Uint8Array {
  if (chunk.length < 5) return chunk;
  const len = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
  if (chunk.length !== 5 + len) return chunk;
  const text = new TextDecoder().decode(chunk.subarray(5));
  if (chunk[0] === GRPC_WEB_TRAILER_FLAG) {
    const lines = text.split("\r\n");
    const status = lines.findIndex((l) => /^grpc-status:\s*13\s*$/i.test(l));
    const message = lines.find((l) => /^grpc-message:/i.test(l));
    if (status < 0 || !message || !DECODE_ERROR.test(decodeGrpcMessage(message.slice(message.indexOf(":") + 1).trim()))) return chunk;
    lines[status] = `grpc-status: ${GRPC_INVALID_ARGUMENT}`;
    return envelope(chunk[0], new TextEncoder().encode(lines.join("\r\n")));
  }
  if (chunk[0] === CONNECT_END_STREAM_FLAG) {
    try {
      const end = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (end.error?.code !== "internal" || !DECODE_ERROR.test(end.error.message ?? "")) return chunk;
      end.error.code = "invalid_argument";
      return envelope(chunk[0], new TextEncoder().encode(JSON.stringify(end)));
    } catch {
      return chunk;
    }
  }
  return chunk;
}

async function* fixBody(body: AsyncIterable<Uint8Array>, trailer: Headers | undefined): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield fixEnvelope(chunk);
  // gRPC sends its status in HTTP trailers, complete once the body is.
  fixGrpcStatus(trailer);
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

async function fixResponse(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  fixGrpcStatus(res.header);
  // Connect unary errors: HTTP 500 with {"code": "internal", "message": ...}.
  if (res.status === 500 && res.body && (res.header?.get("content-type") ?? "").startsWith("application/json")) {
    const bytes = await collect(res.body);
    try {
      const err = JSON.parse(new TextDecoder().decode(bytes)) as { code?: string; message?: string };
      if (err.code === "internal" && DECODE_ERROR.test(err.message ?? "")) {
        err.code = "invalid_argument";
        const fixed = new TextEncoder().encode(JSON.stringify(err));
        const header = new Headers(res.header);
        header.delete("content-length");
        return { ...res, status: 400, header, body: (async function* () { yield fixed; })() };
      }
    } catch {
      // not a Connect error body: pass it on unchanged
    }
    return { ...res, body: (async function* () { yield bytes; })() };
  }
  if (res.body) return { ...res, body: fixBody(res.body, res.trailer) };
  return res;
}

/** withDecodeErrorsAsInvalidArgument wraps a connect UniversalHandler (keeping its properties) so request decoding failures answer INVALID_ARGUMENT. */
export function withDecodeErrorsAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const wrapped = (req: Parameters<UniversalHandler>[0]) => handler(req).then(fixResponse);
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
