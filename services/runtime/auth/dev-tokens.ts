import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { SignJWT } from "jose";
import { readOrCreateSecretFile } from "../process/secret-file.js";
import { ROLES, type Role } from "./role-table.js";

/**
 * DEV_SUBJECTS are the subjects of the generated dev tokens. The doctor's is a providerId and the
 * patient's a patientId: those of the demo clinic `npm start` seeds (gateway/demo-clinic.ts), so the
 * doctor's and the patient's screens act on real records.
 */
export const DEV_SUBJECTS: Record<Role, string> = {
  admin: "dev-admin",
  receptionist: "dev-reception",
  doctor: "demo-ayse-yilmaz",
  patient: "demo-patient",
  display: "dev-display",
  service: "medschedule",
};

/** signToken signs an HS256 token for a subject and roles (and `locations`, when given), valid for `ttlSeconds`. */
export async function signToken(
  secret: string,
  subject: string,
  roles: Role[],
  opts: { ttlSeconds?: number; issuer?: string; audience?: string; locations?: string[] } = {},
): Promise<string> {
  let jwt = new SignJWT(opts.locations ? { roles, locations: opts.locations } : { roles })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.ttlSeconds ?? 30 * 86_400));
  if (opts.issuer) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/**
 * ensureDevAuth is for `npm start` without a configured key: it keeps a random HS256 secret in
 * DATA_DIR/dev-auth-secret (mode 0600, reused across restarts) and writes one token per role to
 * DATA_DIR/dev-tokens.json. `created` tells whether the secret was made now (a fresh DATA_DIR).
 */
export async function ensureDevAuth(
  dataDir: string,
  opts: { issuer?: string; audience?: string } = {},
): Promise<{ secret: string; tokens: Record<Role, string>; tokensFile: string; created: boolean }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { secret, created } = await readOrCreateSecretFile(path.join(dataDir, "dev-auth-secret"));
  const tokens = {} as Record<Role, string>;
  for (const role of ROLES) tokens[role] = await signToken(secret, DEV_SUBJECTS[role], [role], opts);
  const tokensFile = path.join(dataDir, "dev-tokens.json");
  await writeFile(tokensFile, JSON.stringify(tokens, null, 2) + "\n", { mode: 0o600 });
  return { secret, tokens, tokensFile, created };
}
