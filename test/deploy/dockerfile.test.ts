// The Dockerfile, read as text (no Docker engine runs here): multi-stage, pinned Node 22 slim base,
// production dependencies only in the runtime stages, non-root, tini as PID 1, a command that picks
// the component, and the backup image's pg_dump / redis tools at the servers' versions.
import t from "tap";
import { existsSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT, readRepoFile } from "./manifests.js";

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** parseDockerfile splits a Dockerfile into stages (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [instr, ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    if (instr.toUpperCase() === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(arg)!;
      const from = m[1].replace(/\$\{?(\w+)\}?/g, (_, n) => args.get(n) ?? `$${n}`);
      stages.push({ name: m[2] ?? String(stages.length), from, lines: [] });
    } else if (stages.length === 0 && instr.toUpperCase() === "ARG") {
      const [k, v] = arg.split("=");
      args.set(k, v ?? "");
    } else if (stages.length > 0) {
      stages[stages.length - 1].lines.push(line);
    }
  }
  return { args, stages };
}

const text = readRepoFile("Dockerfile");
const { stages } = parseDockerfile(text);
const stage = (name: string) => stages.find((s) => s.name === name)!;
/** chain returns a stage and the stages it is built FROM, nearest first. */
const chain = (s: Stage): Stage[] => {
  const parent = stages.find((p) => p.name === s.from);
  return parent ? [s, ...chain(parent)] : [s];
};
const last = (s: Stage, instr: string) =>
  chain(s)
    .flatMap((c) => [...c.lines].reverse())
    .find((l) => l.toUpperCase().startsWith(`${instr} `));

t.test("multi-stage with a pinned Node 22 slim base", async (t) => {
  t.ok(stages.length >= 3, `${stages.length} stages`);
  const external = stages.filter((s) => !stages.some((p) => p.name === s.from));
  for (const s of external) {
    t.match(s.from, /^node:22\.\d+\.\d+-[a-z]+-slim$/, `stage ${s.name}: ${s.from} is Node 22 slim, pinned by version tag`);
    t.notMatch(s.from, /:latest$|^[^:]+$/, `stage ${s.name}: not :latest or untagged`);
  }
  t.equal(stages.at(-1)!.name, "service", "the default target (last stage) is the service image");
});

t.test("runtime images: production dependencies only, non-root, tini, command picks the component", async (t) => {
  for (const name of ["service", "backup"]) {
    const s = stage(name);
    t.ok(s, `stage ${name}`);
    const lines = chain(s).flatMap((c) => c.lines);
    t.ok(lines.some((l) => /^RUN .*npm ci --omit=dev/.test(l)), `${name}: npm ci --omit=dev`);
    t.notOk(lines.some((l) => /^RUN .*npm (ci|install)(?!.*--omit=dev)/.test(l)), `${name}: no npm install with dev dependencies`);
    t.notOk(lines.some((l) => /^COPY .*node_modules/.test(l)), `${name}: node_modules not copied from the build stage`);
    const user = last(s, "USER")!.split(/\s+/)[1];
    t.ok(user && !/^(root|0)(:|$)/.test(user), `${name}: runs as non-root user ${user}`);
    t.match(last(s, "ENTRYPOINT"), /tini.*--/, `${name}: tini is PID 1 (signals reach node)`);
    const cmd = JSON.parse(last(s, "CMD")!.slice(4)) as string[];
    t.equal(cmd[0], "node", `${name}: CMD runs node`);
    const src = cmd[1].replace(/^dist\//, "").replace(/\.js$/, ".ts");
    t.ok(existsSync(path.join(REPO_ROOT, src)), `${name}: CMD ${cmd[1]} is built from ${src}`);
    t.ok(lines.some((l) => /^COPY .*gen\/descriptors/.test(l)), `${name}: the descriptor set for reflection`);
  }
  t.match(text, /--ignore-scripts/, "the runtime npm ci skips `prepare` (the build ran in the build stage)");
});

t.test("backup image: pg_dump at the Postgres server's major, redis-cli at the Redis server's", async (t) => {
  const lines = stage("backup").lines.join("\n");
  const pg = /postgresql-client-(\d+)/.exec(lines)?.[1];
  t.ok(pg, `installs postgresql-client-${pg}`);
  t.match(lines, /\bredis-tools\b/, "installs redis-tools (redis-cli, redis-check-rdb)");
  t.match(lines, /\bredis-server\b/, "installs redis-server (VerifyBackup's scratch server)");
  const engine = readRepoFile("services/backup/engines/redis.engine.ts") + readRepoFile("services/backup/engines/pg-tools.engine.ts");
  const tools = new Set([...engine.matchAll(/(?:runTool|spawn)\(\s*"([\w-]+)"/g)].map((m) => m[1]));
  const packages: Record<string, RegExp> = { pg_dump: /postgresql-client/, pg_restore: /postgresql-client/, psql: /postgresql-client/, "redis-cli": /redis-tools/, "redis-check-rdb": /redis-tools/, "redis-server": /redis-server/ };
  for (const tool of tools) t.ok(packages[tool]?.test(lines), `the backup engines run ${tool}: the backup image installs it`);
  const base = readRepoFile("k8s/base/redis/redis.yaml");
  const cnpg = readRepoFile("k8s/overlays/prod/postgres-cluster.yaml");
  const dev = readRepoFile("k8s/overlays/dev/postgres.yaml");
  t.equal(/ghcr\.io\/cloudnative-pg\/postgresql:(\d+)\./.exec(cnpg)?.[1], pg, "prod Postgres pinned to the same major");
  t.equal(/image: postgres:(\d+)\./.exec(dev)?.[1], pg, "dev Postgres pinned to the same major");
  // Debian bookworm (the node image's base) ships redis-tools 7.0: the RDB format the server writes must be readable.
  t.match(stages[0].from, /-bookworm-slim$/, "bookworm base (redis-tools 7.0, postgresql-client-15)");
  t.match(base, /image: redis:7\.0\.\d+-bookworm/, "Redis server 7.0, the version of bookworm's redis-tools");
});

t.test(".dockerignore keeps secrets and build output out of the context", async (t) => {
  const ignore = readRepoFile(".dockerignore").split(/\r?\n/).map((l) => l.trim());
  for (const entry of ["node_modules", "dist", ".git", ".env"]) t.ok(ignore.includes(entry), `.dockerignore lists ${entry}`);
});
