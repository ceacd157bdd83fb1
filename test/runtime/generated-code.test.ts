// gen/ is committed and never edited by hand: regenerating it from proto/ must give the same bytes.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(path.relative(base, p));
  }
  return out.sort();
}

t.test("gen/ is up to date with proto/ (run `npm run generate` if this fails)", async (t) => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "medschedule-gen-"));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  await run("bash", ["scripts/generate.sh", tmp], { timeout: 120_000 });
  const fresh = path.join(tmp, "gen");
  const committed = path.resolve("gen");
  const [a, b] = await Promise.all([listFiles(fresh), listFiles(committed)]);
  t.same(b, a, "the same files");
  for (const f of a) {
    const [x, y] = await Promise.all([readFile(path.join(fresh, f)), readFile(path.join(committed, f))]);
    t.ok(x.equals(y), `${f} is identical`);
  }
});
