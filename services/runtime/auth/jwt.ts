import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { UnauthenticatedError } from "../errors.js";
import { ID_PATTERN } from "../request/validation.js";
import { ROLES, type Role } from "./role-table.js";

/** VerifiedToken is what the interceptor needs from a valid token. */
export interface VerifiedToken {
  /** subject is `sub`. */
  subject: string;
  /** roles is the known roles of the `roles` claim. */
  roles: Role[];
  /** locations is the `locations` claim (location ids, at least one), undefined when the token has none (location-scope.ts). */
  locations?: readonly string[];
}

/** TokenVerifier checks a bearer token and returns its subject and roles, or throws UnauthenticatedError. */
export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

/** createTokenVerifier builds a verifier from an HS256 secret, a local JWKS file or a JWKS URL. */
export function createTokenVerifier(opts: {
  hs256Secret?: string;
  jwksFile?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}): TokenVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (opts.hs256Secret) {
    key = new TextEncoder().encode(opts.hs256Secret);
    algorithms = ["HS256"];
  } else if (opts.jwksFile) {
    key = createLocalJWKSet(JSON.parse(readFileSync(opts.jwksFile, "utf8")) as Parameters<typeof createLocalJWKSet>[0]);
    algorithms = ["RS256", "ES256", "PS256", "EdDSA"];
  } else if (opts.jwksUrl) {
    key = createRemoteJWKSet(new URL(opts.jwksUrl));
    algorithms = ["RS256", "ES256", "PS256", "EdDSA"];
  } else {
    throw new Error("createTokenVerifier needs AUTH_HS256_SECRET, AUTH_JWKS_FILE or AUTH_JWKS_URL");
  }
  // Verified tokens are remembered (until they expire, at most CACHE_MS): the same service or user
  // token arrives on call after call, and a signature check per call cost more than a no-op RPC.
  const cache = new Map<string, { verified: VerifiedToken; untilMs: number }>();
  const verify = async (token: string): Promise<VerifiedToken> => {
    const hit = cache.get(token);
    if (hit) {
      if (Date.now() < hit.untilMs) return hit.verified;
      cache.delete(token);
    }
    const verified = await verifyOnce(token);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string); // the oldest entry
    cache.set(token, { verified: verified.token, untilMs: Math.min(Date.now() + CACHE_MS, verified.expMs) });
    return verified.token;
  };
  const verifyOnce = async (token: string): Promise<{ token: VerifiedToken; expMs: number }> => {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, key as Uint8Array, { algorithms, issuer: opts.issuer, audience: opts.audience });
      payload = result.payload;
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new UnauthenticatedError("the token has expired; sign in again");
      if (err instanceof errors.JWSSignatureVerificationFailed) throw new UnauthenticatedError("the token's signature is not valid");
      if (err instanceof errors.JWTClaimValidationFailed) throw new UnauthenticatedError(`the token's "${err.claim}" claim is not accepted`);
      throw new UnauthenticatedError("the token is not a valid JWT");
    }
    if (typeof payload.sub !== "string" || payload.sub === "") throw new UnauthenticatedError("the token has no subject (sub)");
    const claimed = Array.isArray(payload.roles) ? payload.roles : [];
    const roles = claimed.filter((r): r is Role => typeof r === "string" && (ROLES as readonly string[]).includes(r));
    const locations = locationsClaim(payload.locations);
    return { token: { subject: payload.sub, roles, ...(locations ? { locations } : {}) }, expMs: typeof payload.exp === "number" ? payload.exp * 1000 : Number.POSITIVE_INFINITY };
  };
  return verify;
}

/**
 * locationsClaim reads the `locations` claim: absent (or null) is undefined, every location; a
 * non-empty list of location ids limits the holder to them. Anything else is refused rather than
 * guessed at: an empty list (which an identity provider may send for "none assigned"), a string, or
 * an entry that is not an id.
 */
function locationsClaim(claim: unknown): readonly string[] | undefined {
  if (claim === undefined || claim === null) return undefined;
  const ids = Array.isArray(claim) ? claim : [];
  if (ids.length === 0 || !ids.every((id) => typeof id === "string" && ID_PATTERN.test(id))) {
    throw new UnauthenticatedError("the token's \"locations\" claim must be a non-empty list of location ids; leave it out for access to every location");
  }
  return [...new Set(ids as string[])];
}

/** CACHE_MS bounds how long a verified token is trusted without checking its signature again. */
const CACHE_MS = 5 * 60_000;
/** CACHE_MAX bounds the number of remembered tokens. */
const CACHE_MAX = 10_000;
