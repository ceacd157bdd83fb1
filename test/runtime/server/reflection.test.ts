// Server reflection (v1 and v1alpha) on both servers, without a token: buf curl lists the services,
// and the descriptors carry the proto comments.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as v1 from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { startTestSystem } from "../../helpers/system.js";

const run = promisify(execFile);
const BUF = path.resolve("node_modules/.bin/buf");
const sys = await startTestSystem(t);

const EXPECTED_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "medschedule.backup.v1.BackupService",
  "medschedule.lock.v1.LockService",
  "medschedule.patient.v1.PatientService",
  "medschedule.queue.v1.QueueService",
  "medschedule.scheduling.v1.SchedulingService",
];

for (const [name, port] of [["grpc-js server", sys.grpc.port], ["connect server", sys.connect.port]] as const) {
  t.test(`${name}: buf curl --list-services`, async (t) => {
    const { stdout } = await run(BUF, ["curl", "--http2-prior-knowledge", "--protocol", "grpc", "--list-services", `http://127.0.0.1:${port}`]);
    t.same(stdout.trim().split("\n").sort(), EXPECTED_SERVICES);
  });
  t.test(`${name}: buf curl --list-methods shows every RPC`, async (t) => {
    const { stdout } = await run(BUF, ["curl", "--http2-prior-knowledge", "--protocol", "grpc", "--list-methods", `http://127.0.0.1:${port}`]);
    t.match(stdout, /medschedule\.lock\.v1\.LockService\/AdvanceEpoch/);
  });
  for (const [version, mod] of [["v1", v1], ["v1alpha", v1alpha]] as const) {
    t.test(`${name}: reflection ${version} serves descriptors with comments`, async (t) => {
      const reqSchema = mod.ServerReflectionRequestSchema as DescMessage;
      const resSchema = mod.ServerReflectionResponseSchema as DescMessage;
      const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      t.teardown(() => client.close());
      const call = client.makeBidiStreamRequest(
        `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
        (m: unknown) => Buffer.from(toBinary(reqSchema, m as never)),
        (b: Buffer) => fromBinary(resSchema, b),
      );
      const responses: unknown[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (d) => {
          responses.push(d);
          if (responses.length === 3) call.end();
        });
        call.on("end", resolve);
        call.on("error", reject);
      });
      call.write(create(reqSchema, { messageRequest: { case: "listServices", value: "*" } } as never));
      call.write(create(reqSchema, { messageRequest: { case: "fileContainingSymbol", value: "medschedule.lock.v1.LockService" } } as never));
      call.write(create(reqSchema, { messageRequest: { case: "fileByFilename", value: "no/such.proto" } } as never));
      await done;
      const [list, file, missing] = responses as { messageResponse: { case: string; value: any } }[];
      t.equal(list.messageResponse.case, "listServicesResponse");
      t.same(list.messageResponse.value.service.map((s: { name: string }) => s.name).sort(), EXPECTED_SERVICES);
      t.equal(file.messageResponse.case, "fileDescriptorResponse");
      const files = (file.messageResponse.value.fileDescriptorProto as Uint8Array[]).map((b) => fromBinary(FileDescriptorProtoSchema, b));
      const svcFile = files.find((f) => f.name === "medschedule/lock/v1/lock_service.proto");
      t.ok(svcFile, "the file declaring LockService");
      t.ok(files.some((f) => f.name === "medschedule/lock/v1/lock.proto"), "with its dependencies");
      const comments = svcFile?.sourceCodeInfo?.location.map((l) => l.leadingComments).join("\n") ?? "";
      t.match(comments, /hands out leases with fencing tokens/, "the proto comments are there");
      t.equal(missing.messageResponse.case, "errorResponse");
      t.equal(missing.messageResponse.value.errorCode, 5, "unknown file is NOT_FOUND");
    });
  }
}
