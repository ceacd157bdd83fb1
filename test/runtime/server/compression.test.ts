// serveConnect's response compression (services/runtime/server/compression.ts): gzip at level 1 and Brotli
// at a fast quality, negotiated from the client's Accept-Encoding; compressed requests are accepted.
import t from "tap";
import http from "node:http";
import zlib from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ListAvailableSlotsRequestSchema, ListAvailableSlotsResponseSchema, SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { serveConnect } from "../../../services/runtime/server/connect-server.js";
import type { ServiceRegistration } from "../../../services/runtime/server/grpc-server.js";

const start = Date.UTC(2026, 11, 7, 8);
const slots = Array.from({ length: 500 }, (_, i) => ({ startTime: timestampFromMs(start + i * 900_000), endTime: timestampFromMs(start + (i + 1) * 900_000), providerId: "prov-1" }));
let asked: string | undefined;
const impl: Partial<ServiceImpl<typeof SchedulingService>> = {
  listAvailableSlots: async (req) => {
    asked = req.providerId;
    return { slots };
  },
};
const server = await serveConnect({
  port: 0,
  host: "127.0.0.1",
  services: [{ service: SchedulingService, impl: impl as unknown as ServiceRegistration["impl"] }],
});
t.teardown(() => server.close(0));
const raw = toBinary(ListAvailableSlotsResponseSchema, create(ListAvailableSlotsResponseSchema, { slots }));

function post(headers: Record<string, string>, body: Uint8Array): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: server.port, method: "POST", path: `/${SchedulingService.typeName}/ListAvailableSlots`, headers: { "content-type": "application/proto", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const request = toBinary(ListAvailableSlotsRequestSchema, create(ListAvailableSlotsRequestSchema, { providerId: "prov-1" }));

t.test("gzip at level 1 for a client that accepts gzip first", async (t) => {
  const res = await post({ "accept-encoding": "gzip, deflate, br" }, request);
  t.equal(res.status, 200);
  t.equal(res.headers["content-encoding"], "gzip");
  // Byte 8 of a gzip member (XFL) is 4 when zlib compressed with the fastest level, 0 at the default.
  t.equal(res.body[8], 4, "compressed at level 1");
  t.ok(res.body.length < raw.length / 3, `${raw.length} bytes sent as ${res.body.length}`);
  t.equal(fromBinary(ListAvailableSlotsResponseSchema, zlib.gunzipSync(res.body)).slots.length, 500);
});

t.test("Brotli for a client that prefers it, at a quality that costs about what gzip does", async (t) => {
  const res = await post({ "accept-encoding": "br, gzip" }, request);
  t.equal(res.headers["content-encoding"], "br");
  const maxQuality = zlib.brotliCompressSync(raw).length;
  t.ok(res.body.length > maxQuality, `not Brotli's maximum quality (${res.body.length} bytes, quality 11 makes ${maxQuality})`);
  t.equal(fromBinary(ListAvailableSlotsResponseSchema, zlib.brotliDecompressSync(res.body)).slots.length, 500);
});

t.test("uncompressed without Accept-Encoding; compressed requests are read", async (t) => {
  const plain = await post({}, request);
  t.equal(plain.headers["content-encoding"], undefined);
  t.equal(plain.body.length, raw.length);
  asked = undefined;
  const gz = await post({ "content-encoding": "gzip" }, zlib.gzipSync(request));
  t.equal(gz.status, 200);
  t.equal(asked, "prov-1", "the gzip request body was decoded");
});
