// The browser-facing hardening of everything the gateway serves that is not an RPC: the web app's
// HTML and assets, the landing page, /metrics, /dev-tokens.json and the 404s. RPC responses (Connect,
// gRPC-web, gRPC) do not pass here: they are data for a client, not documents for a browser.
//
// The Content-Security-Policy is what the built app (Vite, dist/web) needs and nothing more: its
// scripts and styles are files from this origin (index.html has no inline script or style; React
// sets styles through the DOM, which CSP allows), its calls go to this origin, and its only image is
// the empty `data:` favicon. Nothing may frame it (frame-ancestors 'none' and, for older browsers,
// X-Frame-Options DENY), so a page elsewhere cannot overlay the staff screens' Cancel or Restore
// buttons (clickjacking). The browser test checks that every screen works under it without a
// violation report.
import { createHash } from "node:crypto";
import type { HttpRoute } from "../services/runtime/server/connect-server.js";

/** WEB_APP_CSP is the Content-Security-Policy of the web app and every other non-RPC response. */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** SECURITY_HEADERS are set on every non-RPC response of the gateway. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": WEB_APP_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/**
 * cspForInlineStyle is a policy for a page with no script at all and one inline <style> (the
 * landing page shown when the web app is not built): that style by its hash, nothing else.
 */
export function cspForInlineStyle(style: string): string {
  const hash = createHash("sha256").update(style, "utf8").digest("base64");
  return `default-src 'none'; style-src 'sha256-${hash}'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

/**
 * withSecurityHeaders combines `routes` into one route that first sets SECURITY_HEADERS on the
 * response, so whichever route answers (or the server's 404 when none does) sends them; a route may
 * still replace one, as the landing page does with its own policy.
 */
export function withSecurityHeaders(routes: HttpRoute[]): HttpRoute {
  return (req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    return routes.some((route) => route(req, res));
  };
}
