// The gateway's entry (`npm start`, `node dist/gateway/main.js`): it bounds how many modules load at
// once before anything else is imported, so that a low file limit (ulimit -n 256, a hardened service
// unit) does not kill the process at start (services/runtime/process/module-loading.ts), then runs run.ts.
import { limitModuleLoading } from "../services/runtime/process/module-loading.js";

limitModuleLoading();
await import("./run.js");
