// The gateway as `npm start` runs it (service classes mounted in-process, dev auth): the web app's
// files and SPA fallback, /dev-tokens.json only with dev auth and only to this machine, the rate limit
// (callers without a valid token by remote address; the token bucket refills evenly), and the rule
// that *_ADDR are all set or none.
import t from "tap";
import { existsSync, readdirSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { ConfigError, loadConfig } from "../../services/runtime/config.js";
import { startGateway, upstreamMode } from "../../gateway/gateway.js";
import { createRateLimitInterceptor, createTokenBucketLimiter } from "../../gateway/rate-limit.js";
import { isLoopbackAddress, WEB_ROOT } from "../../gateway/static-route.js";
import { startTestGateway } from "../helpers/gateway.js";
import { startQueueRuntime } from "../helpers/queue-runtime.js";

const runtime = await startQueueRuntime(t, { devAuth: true, extraInterceptors: [createRateLimitInterceptor({ perMinute: 2 })] });
await runtime.ready;
const server = await startGateway(runtime, 0);
t.teardown(() => server.close(100));
const url = `http://127.0.0.1:${server.port}`;

t.test("the web app is served with content types, caching and an SPA fallback", { skip: existsSync(path.join(WEB_ROOT, "index.html")) ? false : "web app not built" }, async (t) => {
  const index = await fetch(url + "/", { headers: { accept: "text/html" } });
  t.equal(index.status, 200);
  t.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await index.text();
  t.match(html, /<div id="root">/);
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  t.ok(script, "index.html loads a hashed bundle");
  const js = await fetch(url + script);
  t.equal(js.status, 200);
  t.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  t.match(js.headers.get("cache-control"), /immutable/);
  const css = readdirSync(path.join(WEB_ROOT, "assets")).find((f) => f.endsWith(".css"));
  const cssRes = await fetch(`${url}/assets/${css}`);
  t.equal(cssRes.headers.get("content-type"), "text/css; charset=utf-8");
  const page = await fetch(url + "/reception", { headers: { accept: "text/html" } });
  t.equal(page.status, 200, "a client-side route gets the app");
  t.match(await page.text(), /<div id="root">/);
  t.equal((await fetch(url + "/assets/missing.js")).status, 404, "a missing asset is a 404, not the app");
  t.equal((await fetch(url + "/../../package.json")).status, 404, "no way out of the web root");
  t.equal((await fetch(url + "/metrics")).status, 200, "/metrics still answers");
});

t.test("/dev-tokens.json only where dev auth generated them", async (t) => {
  const res = await fetch(url + "/dev-tokens.json");
  t.equal(res.status, 200);
  t.equal(res.headers.get("cache-control"), "no-store");
  const tokens = (await res.json()) as Record<string, string>;
  t.same(Object.keys(tokens).sort(), ["admin", "display", "doctor", "patient", "receptionist", "service"]);
  const distributed = await startTestGateway(t, ["127.0.0.1:1"]);
  t.equal((await fetch(distributed.url + "/dev-tokens.json")).status, 404, "never from a gateway with a configured key");
});

/** getTokens asks for /dev-tokens.json over HTTP/1.1 with the given Host and headers, from `localAddress`. */
function getTokens(port: number, host: string | undefined, headers: Record<string, string> = {}, address = "127.0.0.1", localAddress?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: address, port, path: "/dev-tokens.json", localAddress, setHost: false, headers: { ...(host === undefined ? {} : { host }), ...headers } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

t.test("/dev-tokens.json only to this machine by a loopback name, never with CORS", async (t) => {
  // The same runtime behind a gateway that allows every origin (CORS_ORIGINS=*).
  const open = await startGateway({ ...runtime, config: { ...runtime.config, corsOrigins: ["*"] } }, 0);
  t.teardown(() => open.close(100));
  for (const host of [`127.0.0.1:${open.port}`, `localhost:${open.port}`, "localhost", `[::1]:${open.port}`, "127.1.2.3"]) {
    t.equal((await getTokens(open.port, host)).status, 200, `Host ${host}`);
  }
  // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 calls "its own" origin.
  for (const host of ["evil.example", `evil.example:${open.port}`, "localhost.evil.example", "127.0.0.1.nip.io", `localhost@evil.example:${open.port}`, "0.0.0.0", ""]) {
    const res = await getTokens(open.port, host);
    t.equal(res.status, 403, `Host ${JSON.stringify(host)}`);
    t.notMatch(res.body, /eyJ/, "no token in the refusal");
  }
  t.not((await getTokens(open.port, undefined)).status, 200, "no Host at all (HTTP/1.1 requires one: 400)");
  const crossSite = await getTokens(open.port, `localhost:${open.port}`, { origin: "https://evil.example" });
  t.equal(crossSite.status, 403, "an Origin of another site");
  t.equal(crossSite.headers["access-control-allow-origin"], undefined, "no CORS headers");
  const sameSite = await getTokens(open.port, `localhost:${open.port}`, { origin: `http://localhost:${open.port}` });
  t.equal(sameSite.status, 200, "the web app's own origin");
  t.equal(sameSite.headers["access-control-allow-origin"], undefined, "still no CORS headers");
  const preflight = await fetch(`http://127.0.0.1:${open.port}/dev-tokens.json`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
  t.equal(preflight.headers.get("access-control-allow-origin"), null, "no preflight approval either");
  const rpcPreflight = await fetch(`http://127.0.0.1:${open.port}/medschedule.queue.v1.QueueService/ListQueues`, { method: "OPTIONS", headers: { origin: "https://clinic.example", "access-control-request-method": "POST" } });
  t.equal(rpcPreflight.headers.get("access-control-allow-origin"), "https://clinic.example", "the API keeps its CORS");

  // HTTP/2 (h2c): :authority instead of Host.
  const session = http2.connect(`http://127.0.0.1:${open.port}`);
  t.teardown(() => session.close());
  const h2status = (authority: string) =>
    new Promise<number>((resolve, reject) => {
      const stream = session.request({ ":path": "/dev-tokens.json", ":authority": authority });
      stream.on("response", (h) => resolve(Number(h[":status"])));
      stream.on("error", reject);
      stream.resume();
    });
  t.equal(await h2status(`localhost:${open.port}`), 200, "h2c, :authority localhost");
  t.equal(await h2status("evil.example"), 403, "h2c, :authority evil.example");

  // From another address of this machine (not loopback), even with Host localhost.
  const lan = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal)?.address;
  if (lan) {
    t.equal((await getTokens(open.port, `localhost:${open.port}`, {}, lan)).status, 403, `from ${lan}`);
  } else {
    t.comment("no non-loopback IPv4 address on this machine: the remote-address check is covered by isLoopbackAddress only");
  }
  t.same(["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"].map(isLoopbackAddress), [true, true, true, true, true]);
  t.same(["10.0.0.1", "::ffff:10.0.0.1", "::", "0.0.0.0", "", undefined, "localhost"].map(isLoopbackAddress), [false, false, false, false, false, false, false]);
});

t.test("the rate limit applies in npm start too (in-process services)", async (t) => {
  const tokens = (await (await fetch(url + "/dev-tokens.json")).json()) as Record<string, string>;
  const call = async (tok: string) => {
    const r = await fetch(url + "/medschedule.queue.v1.QueueService/ListQueues", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tok}` },
      body: "{}",
    });
    return r.status === 200 ? "ok" : ((await r.json()) as { code: string }).code;
  };
  t.same([await call(tokens.receptionist), await call(tokens.receptionist), await call(tokens.receptionist)], ["ok", "ok", "resource_exhausted"]);
  t.equal(await call(tokens.doctor), "ok", "per client");
  t.equal(await call(tokens.service), "ok", "service-to-service calls are not limited");
});

t.test("calls without a valid token are limited too, by remote address", async (t) => {
  const tokens = (await (await fetch(url + "/dev-tokens.json")).json()) as Record<string, string>;
  const call = async (authorization?: string, procedure = "/medschedule.queue.v1.QueueService/ListQueues") => {
    const r = await fetch(url + procedure, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
      body: "{}",
    });
    return r.status === 200 ? "ok" : ((await r.json()) as { code: string }).code;
  };
  t.same([await call(), await call("Bearer not-a-jwt")], ["unauthenticated", "unauthenticated"], "the address's budget of 2");
  t.equal(await call(), "resource_exhausted", "no token, past the budget");
  t.equal(await call("Bearer not-a-jwt"), "resource_exhausted", "a forged token, past the budget");
  t.equal(await call("Basic YWRtaW46YWRtaW4="), "resource_exhausted", "a malformed header, past the budget");
  t.equal(await call(`Bearer ${tokens.admin}`), "ok", "a valid token from the same address keeps its own budget");
  t.equal(await call(undefined, "/grpc.health.v1.Health/Check"), "ok", "health is not limited");
});

t.test("token bucket refills evenly over the minute", async (t) => {
  let now = 0;
  const limiter = createTokenBucketLimiter(60, () => now);
  for (let i = 0; i < 60; i++) t.equal(limiter.take("k"), 0);
  t.equal(limiter.take("k"), 1_000, "empty: next token in 1 s");
  now += 1_000;
  t.equal(limiter.take("k"), 0);
  t.ok(limiter.take("k") > 0);
  now += 120_000;
  t.equal(limiter.take("other"), 0);
  t.equal(limiter.size(), 1, "full buckets are forgotten");
});

t.test("*_ADDR: all five or none", async (t) => {
  const env = { AUTH_HS256_SECRET: "x".repeat(40) };
  t.equal(upstreamMode(loadConfig(env, { port: 0 })), "in-process");
  const all = { ...env, SCHEDULING_ADDR: "s:8081", QUEUE_ADDR: "q:8082,q2:8082", LOCK_ADDR: "l:8083", BACKUP_ADDR: "b:8084", PATIENT_ADDR: "p:8085" };
  t.equal(upstreamMode(loadConfig(all, { port: 0 })), "distributed");
  t.throws(() => upstreamMode(loadConfig({ ...env, QUEUE_ADDR: "q:8082" }, { port: 0 })), ConfigError);
  t.throws(() => upstreamMode(loadConfig({ ...env, QUEUE_ADDR: "q:8082" }, { port: 0 })), /missing: SCHEDULING_ADDR, LOCK_ADDR, BACKUP_ADDR, PATIENT_ADDR/);
});
