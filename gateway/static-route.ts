import { existsSync, readFileSync, statSync } from "node:fs";
import type http from "node:http";
import { BlockList, isIP } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRoute } from "../services/runtime/server/connect-server.js";

/** CONTENT_TYPES maps the web app's file extensions to their content types. */
export const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
};

/** WEB_ROOT is where `npm run build` puts the web app (dist/web, beside dist/gateway). */
export const WEB_ROOT = fileURLToPath(new URL("../web", import.meta.url));

/**
 * isPageAddress tells a page address of the app ("/", "/reception", "/display") from a file ("/assets/x.js",
 * "/favicon.ico") or an RPC path ("/medschedule.queue.v1.QueueService/GetTicket"): a page has no dot.
 */
export function isPageAddress(pathname: string): boolean {
  return !pathname.includes(".");
}

/**
 * acceptsHtml says whether a request's Accept header takes HTML: none at all (many tools), or one
 * naming text/html, text/* or any type (curl's default); a client asking only for JSON gets no page.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === "") return true;
  return accept.split(",").some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(";").map((x) => x.trim());
    const refused = params.some((p) => /^q=0(\.0*)?$/.test(p));
    return !refused && (type === "text/html" || type === "text/*" || type === "*/*");
  });
}

/**
 * createStaticRoute serves the built web app from `root`, for GET and HEAD: files with their content
 * type (hashed assets cached for a year, index.html never cached) and index.html for any page address
 * (client-side routes such as /reception) whose Accept takes HTML. It passes when the app is not built.
 */
export function createStaticRoute(root: string = WEB_ROOT): HttpRoute {
  const index = path.join(root, "index.html");
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (!existsSync(index)) return false;
    const url = new URL(req.url ?? "/", "http://gateway");
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return false;
    }
    const file = path.resolve(root, "." + rel);
    const send = (p: string, cache: string) => {
      const body = readFileSync(p);
      (res as http.ServerResponse).writeHead(200, {
        "content-type": CONTENT_TYPES[path.extname(p)] ?? "application/octet-stream",
        "content-length": String(body.length),
        "cache-control": cache,
        "x-content-type-options": "nosniff",
      });
      if (req.method === "HEAD") res.end();
      else res.end(body);
      return true;
    };
    if (file.startsWith(root + path.sep) && existsSync(file) && statSync(file).isFile()) {
      const immutable = rel.startsWith("/assets/");
      return send(file, immutable ? "public, max-age=31536000, immutable" : "no-cache");
    }
    // SPA fallback: a page address gets the app; a missing asset or an unknown RPC stays a 404.
    if (isPageAddress(rel) && acceptsHtml(req.headers.accept)) return send(index, "no-cache");
    return false;
  };
}

/** LOOPBACK holds the loopback addresses: 127.0.0.0/8 and ::1 (IPv4-mapped ::ffff:127.x.x.x included). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** isLoopbackAddress says whether an IP address (as a socket reports it) is a loopback address. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * isLoopbackHost says whether a Host (or :authority, or Origin's host) names this machine by a
 * loopback name: "localhost" or a loopback IP literal, with an optional port. A DNS name that
 * resolves to 127.0.0.1 does not count: that is how a DNS-rebinding page would reach the gateway.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  if (m[1] !== undefined) return isLoopbackAddress(m[1]);
  const name = m[2].toLowerCase();
  return name === "localhost" || (isIP(name) === 4 && isLoopbackAddress(name));
}

/**
 * createDevTokensRoute serves GET /dev-tokens.json: the generated role tokens, only ever in `npm start`
 * with dev auth, and only to a client on this machine that calls it by a loopback name (both the
 * remote address and the Host are loopback; an Origin, if sent, too). It never carries CORS headers.
 * Anyone else gets 403 and signs in with a token.
 */
export function createDevTokensRoute(tokens: Record<string, string> | undefined): HttpRoute {
  return (req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/dev-tokens.json") return false;
    const out = res as http.ServerResponse;
    for (const name of out.getHeaderNames()) if (name.startsWith("access-control-")) out.removeHeader(name);
    if (!tokens) {
      out.writeHead(404, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify({ error: "no dev tokens: this gateway uses a configured token key" }) + "\n");
      return true;
    }
    const host = req.headers.host ?? (req.headers as Record<string, string | undefined>)[":authority"];
    const origin = req.headers.origin;
    let originHost: string | undefined;
    try {
      originHost = origin === undefined ? undefined : new URL(origin).host;
    } catch {
      originHost = "";
    }
    const local = isLoopbackAddress(req.socket?.remoteAddress) && isLoopbackHost(host) && (originHost === undefined || isLoopbackHost(originHost));
    if (!local) {
      out.writeHead(403, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      res.end(JSON.stringify({ error: "dev tokens are only given to a browser on the machine running npm start, at http://localhost; elsewhere, sign in with a token" }) + "\n");
      return true;
    }
    out.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(JSON.stringify(tokens) + "\n");
    return true;
  };
}
