// k8s/base/redis/redis.conf really configures a Redis the way the lock needs (DESIGN.md section 4):
// a local redis-server (7.0, the version the manifests pin) starts from it, with the password the
// start script passes, and reports AOF on and maxmemory-policy noeviction.
import t from "tap";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./manifests.js";
import { freePort } from "../../services/runtime/server/free-port.js";

let redisServer: string | undefined;
try {
  redisServer = execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined;
} catch {
  redisServer = undefined;
}

t.test("redis.conf: AOF, noeviction, password required", async (t) => {
  if (!redisServer) {
    t.fail("redis-server is missing: `npm test` installs it (scripts/ensure-redis.sh)");
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "medschedule-redisconf-"));
  const port = await freePort();
  const password = "test-password-0123456789";
  // The start script's arguments, with the port and data directory of this test.
  const child = spawn(redisServer, [path.join(REPO_ROOT, "k8s/base/redis/redis.conf"), "--requirepass", password, "--masterauth", password, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir], { stdio: "ignore" });
  t.teardown(() => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => execFileSync("redis-cli", ["-p", String(port), "--no-auth-warning", ...args], { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: password } }).trim();
  let pong = "";
  for (let i = 0; i < 50 && pong !== "PONG"; i++) {
    try {
      pong = cli("ping");
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  t.equal(pong, "PONG", "redis-server starts from redis.conf");
  t.equal(cli("config", "get", "appendonly").split("\n")[1], "yes", "appendonly yes");
  t.equal(cli("config", "get", "maxmemory-policy").split("\n")[1], "noeviction", "maxmemory-policy noeviction");
  t.ok(Number(cli("config", "get", "maxmemory").split("\n")[1]) > 0, "maxmemory set (RedisHighMemory has a ratio)");
  const { REDISCLI_AUTH: _ignored, ...noAuth } = process.env;
  const anon = execFileSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8", env: noAuth }).trim();
  t.match(anon, /NOAUTH/, "no command without the password");
});
