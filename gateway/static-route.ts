import { existsSync, readFileSync, statSync } from "node:fs";
import type http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRoute } from "../services/runtime/connect-server.js";

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

/** createDevTokensRoute serves GET /dev-tokens.json: the generated role tokens, only ever in `npm start` with dev auth. */
export function createDevTokensRoute(tokens: Record<string, string> | undefined): HttpRoute {
  return (req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/dev-tokens.json") return false;
    if (!tokens) {
      (res as http.ServerResponse).writeHead(404, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify({ error: "no dev tokens: this gateway uses a configured token key" }) + "\n");
      return true;
    }
    (res as http.ServerResponse).writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(JSON.stringify(tokens) + "\n");
    return true;
  };
}
