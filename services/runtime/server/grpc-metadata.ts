// grpc-js metadata and fetch Headers, both ways, and a ConnectError as a grpc-js status: what the
// grpc-js server (grpc-server.ts, grpc-call-context.ts) and client (grpc-transport.ts) translate
// between grpc-js and connect.
import * as grpc from "@grpc/grpc-js";
import type { ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

/** metadataToHeaders turns grpc-js metadata into fetch Headers (binary values as unpadded base64). */
export function metadataToHeaders(md: grpc.Metadata): Headers {
  const headers = new Headers();
  for (const [key, values] of Object.entries(md.getMap())) {
    if (key.startsWith(":")) continue;
    const all = md.get(key);
    for (const v of all.length > 0 ? all : [values]) {
      headers.append(key, typeof v === "string" ? v : Buffer.from(v).toString("base64").replace(/=+$/, ""));
    }
  }
  return headers;
}

/** headersToMetadata turns fetch Headers into grpc-js metadata (keys ending in -bin decoded from base64). */
export function headersToMetadata(headers: Headers, skip: (key: string) => boolean = () => false): grpc.Metadata {
  const md = new grpc.Metadata();
  headers.forEach((value, key) => {
    if (skip(key)) return;
    if (key.endsWith("-bin")) {
      for (const part of value.split(",")) md.add(key, Buffer.from(part.trim(), "base64"));
    } else {
      md.add(key, value);
    }
  });
  return md;
}

/** reservedTrailer tells the trailer keys grpc-js writes itself (status, message, content type). */
export const reservedTrailer = (key: string) => key === "grpc-status" || key === "grpc-message" || key === "content-type";

/** toGrpcStatus maps a ConnectError to the grpc-js status object, with google.rpc.Status details. */
export function toGrpcStatus(err: ConnectError): Partial<grpc.StatusObject> {
  const trailer = setTrailerStatus(new Headers(), err);
  return { code: err.code as number, details: err.rawMessage, metadata: headersToMetadata(trailer, reservedTrailer) };
}
