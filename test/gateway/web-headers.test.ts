// Web hardening of what the gateway serves to browsers (issue 18, hardening): the web app's HTML and
// assets, the landing page, /metrics and the 404s carry a strict Content-Security-Policy with
// frame-ancestors 'none', X-Frame-Options DENY, nosniff and Referrer-Policy no-referrer, so the staff
// screens cannot be framed (clickjacking) and nothing inline runs. HEAD answers like GET without a
// body, and a page address is the app for curl too (no Accept, or */*), not a 404. RPC responses are
// left as they were. (browser-security.test.ts checks in Chromium that the app works under the policy.)
import t, { type Test } from "tap";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createHash } from "node:crypto";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { WEB_ROOT } from "../../gateway/static-route.js";
import { startTestGateway } from "../helpers/gateway.js";

/** get makes a plain HTTP/1.1 request with exactly the headers given (node:http adds no Accept). */
function request(url: string, method: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const EXPECTED = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** hardened checks the security headers of one response. */
function hardened(t: Test, label: string, headers: http.IncomingHttpHeaders): void {
  for (const [name, value] of Object.entries(EXPECTED)) t.equal(headers[name], value, `${label}: ${name}`);
  const csp = String(headers["content-security-policy"] ?? "");
  t.match(csp, /frame-ancestors 'none'/, `${label}: CSP frame-ancestors 'none'`);
  t.match(csp, /default-src '(self|none)'/, `${label}: CSP default-src`);
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${label}: CSP allows nothing inline, no eval, no wildcard`);
}

const built = existsSync(path.join(WEB_ROOT, "index.html"));

t.test("the web app: headers on HTML and assets, HEAD, and page addresses for curl", { skip: built ? false : "web app not built" }, async (t) => {
  const gw = await startTestGateway(t, ["127.0.0.1:1"]);
  const script = readdirSync(path.join(WEB_ROOT, "assets")).find((f) => f.endsWith(".js"));
  const pages: [string, string, Record<string, string>][] = [
    ["GET / as a browser", "/", { accept: "text/html,application/xhtml+xml,*/*;q=0.8" }],
    ["GET / without Accept", "/", {}],
    ["GET /reception without Accept", "/reception", {}],
    ["GET /reception as curl (*/*)", "/reception", { accept: "*/*" }],
    ["GET /display?queue=x", "/display?queue=x", {}],
    ["GET /index.html", "/index.html", {}],
  ];
  for (const [label, at, headers] of pages) {
    const res = await request(gw.url + at, "GET", headers);
    t.equal(res.status, 200, `${label}: 200`);
    t.match(res.body, /<div id="root">/, `${label}: the app`);
    t.equal(res.headers["content-type"], "text/html; charset=utf-8", `${label}: HTML`);
    hardened(t, label, res.headers);
    t.notMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>|\sstyle="|\son[a-z]+=/i, `${label}: no inline script, style attribute or handler for the CSP to block`);
  }
  for (const at of ["/", "/reception"]) {
    const get = await request(gw.url + at, "GET");
    const head = await request(gw.url + at, "HEAD");
    t.equal(head.status, 200, `HEAD ${at}: 200, not 404`);
    t.equal(head.body, "", `HEAD ${at}: no body`);
    t.equal(head.headers["content-length"], get.headers["content-length"], `HEAD ${at}: the length GET sends`);
    hardened(t, `HEAD ${at}`, head.headers);
  }
  const asset = await request(`${gw.url}/assets/${script}`, "GET");
  t.equal(asset.status, 200);
  hardened(t, "an asset", asset.headers);
  const headAsset = await request(`${gw.url}/assets/${script}`, "HEAD");
  t.equal(headAsset.status, 200, "HEAD of an asset");
  t.equal(headAsset.headers["content-type"], "text/javascript; charset=utf-8");

  const json = await request(gw.url + "/reception", "GET", { accept: "application/json" });
  t.equal(json.status, 404, "a client asking only for JSON gets no page");
  hardened(t, "a 404", json.headers);
  t.equal((await request(gw.url + "/assets/missing.js", "GET")).status, 404, "a missing asset stays a 404");
  t.equal((await request(gw.url + "/favicon.ico", "GET")).status, 404, "so does any other missing file");
  t.equal((await request(gw.url + "/medschedule.queue.v1.QueueService/NoSuchMethod", "GET")).status, 404, "and an unknown RPC path");
  hardened(t, "/metrics", (await request(gw.url + "/metrics", "GET")).headers);

  const rpc = await fetch(gw.url + "/medschedule.queue.v1.QueueService/ListQueues", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  t.equal(rpc.status, 401, "an RPC still answers as before");
  t.equal(rpc.headers.get("content-security-policy"), null, "RPC responses are left alone");
});

t.test("the landing page (no web app built): its own style by hash, nothing else", async (t) => {
  const empty = await mkdtemp(path.join(os.tmpdir(), "medschedule-noweb-"));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const gw = await startTestGateway(t, ["127.0.0.1:1"], {}, { webRoot: empty });
  const res = await request(gw.url + "/", "GET");
  t.equal(res.status, 200);
  t.match(res.body, /MedSchedule is running/);
  hardened(t, "landing", res.headers);
  const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)?.[1] ?? "";
  const hash = createHash("sha256").update(style, "utf8").digest("base64");
  t.match(String(res.headers["content-security-policy"]), `style-src 'sha256-${hash}'`, "the inline style is allowed by its hash, no more");
  t.notMatch(String(res.headers["content-security-policy"]), /script-src/, "and no script at all (default-src 'none')");
  const head = await request(gw.url + "/", "HEAD");
  t.equal(head.status, 200, "HEAD / answers");
  t.equal(head.body, "");
});
