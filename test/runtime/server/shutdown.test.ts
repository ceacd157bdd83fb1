// Graceful shutdown on SIGTERM, on both servers: health goes NOT_SERVING, a call in flight completes,
// new calls are refused, and the process exits 0.
import t from "tap";
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Health, HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as S } from "../../../gen/health/v1/health_pb.js";
import { AcquireRequestSchema, AcquireResponseSchema } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";

const FIXTURE = path.resolve("dist/test/fixtures/slow-server.js");

for (const kind of ["grpc", "connect"]) {
  t.test(`${kind} server drains on SIGTERM`, async (t) => {
    const child = spawn(process.execPath, [FIXTURE, kind], { env: { ...process.env, SLOW_MS: "1500" }, stdio: ["ignore", "pipe", "inherit"] });
    t.teardown(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const [line] = (await once(child.stdout, "data")) as [Buffer];
    const { port } = JSON.parse(line.toString()) as { port: number };
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    t.teardown(() => client.close());

    const statuses: S[] = [];
    const watch = client.makeServerStreamRequest(
      `/${Health.typeName}/Watch`,
      (m: unknown) => Buffer.from(toBinary(HealthCheckRequestSchema, m as never)),
      (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
      create(HealthCheckRequestSchema, {}),
    );
    watch.on("data", (m: { status: S }) => statuses.push(m.status));
    const watchEnded = new Promise<number>((resolve) => {
      watch.on("error", (e: grpc.ServiceError) => resolve(e.code));
      watch.on("end", () => resolve(0));
    });
    while (statuses.length === 0) await new Promise((r) => setTimeout(r, 20));
    t.same(statuses, [S.SERVING], "SERVING before the signal");

    const started = Date.now();
    const slow = new Promise<{ err: grpc.ServiceError | null; res: unknown }>((resolve) => {
      client.makeUnaryRequest(
        "/medschedule.lock.v1.LockService/Acquire",
        (m: unknown) => Buffer.from(toBinary(AcquireRequestSchema, m as never)),
        (b: Buffer) => fromBinary(AcquireResponseSchema, b),
        create(AcquireRequestSchema, { resource: "slow" }),
        (err, res) => resolve({ err, res }),
      );
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    const exit = once(child, "exit");

    const { err, res } = await slow;
    t.equal(err, null, "the call in flight at SIGTERM completes");
    t.equal((res as { lease?: { leaseId: string } })?.lease?.leaseId, "l-1", "with its answer");
    t.ok(Date.now() - started >= 1400, "after its full duration");
    t.ok(statuses.includes(S.NOT_SERVING), `health went NOT_SERVING during the drain (saw ${statuses.map((s) => S[s]).join(", ")})`);
    t.equal(await watchEnded, grpc.status.UNAVAILABLE, "the health stream ends with UNAVAILABLE so watchers reconnect elsewhere");
    const [code] = (await exit) as [number];
    t.equal(code, 0, "exit code 0");
  });
}
