import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** healthProtoPath is the health.proto shipped by grpc-health-check: the bare grpc-js server and client load it. */
export const healthProtoPath = fileURLToPath(new URL("../../node_modules/grpc-health-check/proto/health/v1/health.proto", import.meta.url));

/** protoLoaderOptions are the usual @grpc/proto-loader options of the grpc-js examples. */
export const protoLoaderOptions: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** loadHealthProto loads grpc.health.v1.Health with @grpc/proto-loader, the way a plain grpc-js app does. */
export function loadHealthProto(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(healthProtoPath, protoLoaderOptions);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return pkg.grpc.health.v1.Health;
}
