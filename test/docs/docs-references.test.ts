// docs/ stays true to the repository: the pages the project promises are there, every invariant in
// docs/invariants.md names at least one test that exists under that name in that file, and every
// repository path or page a doc names exists. Moving or renaming a file, or a test case, without
// updating the docs fails here.
import t from "tap";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const PAGES = ["docs/README.md", "docs/architecture.md", "docs/invariants.md", "docs/roles.md", "docs/adding-an-rpc.md"];
/** REPO_PATH is a path into the repository as docs write it in backticks: a top-level folder, then a concrete path (no placeholders). */
const REPO_PATH = /^(?:services|gateway|test|proto|scripts|istio|k8s|gen|bench|docs)\/[A-Za-z0-9_./-]*$/;

/** TestCitation is one "- `test/...test.ts`: "name"; "name"" line of docs/invariants.md. */
interface TestCitation {
  file: string;
  names: string[];
}

/** invariantsOf reads docs/invariants.md's invariants (### headings before "Not yet built") with the tests each cites. */
function invariantsOf(page: string): { title: string; tests: TestCitation[] }[] {
  const built = page.slice(0, page.indexOf("\n## Not yet built"));
  return built
    .split(/\n(?=### )/)
    .filter((section) => section.startsWith("### "))
    .map((section) => ({
      title: section.slice(4, section.indexOf("\n")),
      tests: [...section.matchAll(/^- `(test\/[^`]+)`: (.*)$/gm)].map((m) => ({ file: m[1], names: [...m[2].matchAll(/"([^"]+)"/g)].map((n) => n[1]) })),
    }));
}

t.test("docs/ has its pages", async (t) => {
  for (const page of PAGES) t.ok(existsSync(path.join(ROOT, page)), page);
});

t.test("every invariant names a test that exists, under that name", async (t) => {
  const page = read("docs/invariants.md");
  t.ok(page.includes("\n## Not yet built"), "the page keeps its 'Not yet built' part last");
  const invariants = invariantsOf(page);
  t.ok(invariants.length >= 8, `${invariants.length} invariants found`);
  for (const inv of invariants) {
    t.ok(inv.tests.length > 0, `"${inv.title}" names a test file`);
    for (const cited of inv.tests) {
      if (!existsSync(path.join(ROOT, cited.file))) {
        t.fail(`"${inv.title}": ${cited.file} does not exist`);
        continue;
      }
      const source = read(cited.file);
      t.ok(cited.names.length > 0, `"${inv.title}": ${cited.file} is cited with the names of its tests`);
      t.ok(/\bt\.test\(/.test(source), `${cited.file} is a tap test file`);
      for (const name of cited.names) t.ok(source.includes(name), `"${inv.title}": ${cited.file} has a test "${name}"`);
    }
  }
});

t.test("the paths and pages the docs name exist", async (t) => {
  const pages = readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`);
  for (const page of pages) {
    const text = read(page);
    for (const m of text.matchAll(/`([^`\s]+)`/g)) {
      const p = m[1];
      if (!REPO_PATH.test(p)) continue;
      t.ok(existsSync(path.join(ROOT, p)), `${page}: ${p} exists`);
    }
    for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target)) continue;
      t.ok(existsSync(path.join(ROOT, "docs", target)), `${page}: link to ${target} resolves`);
    }
  }
});

t.test("the checks can fail: a made-up test name or path is noticed", async (t) => {
  const fake = "### 1. Something\n\n- `test/queue/ranking.test.ts`: \"no such test\"\n\n## Not yet built\n";
  const [inv] = invariantsOf(fake);
  t.strictSame(inv.tests, [{ file: "test/queue/ranking.test.ts", names: ["no such test"] }], "a citation is read");
  t.notOk(read(inv.tests[0].file).includes(inv.tests[0].names[0]), "a name that is not in the file is not found there");
  t.ok(REPO_PATH.test("services/queue/no-such-file.ts") && !existsSync(path.join(ROOT, "services/queue/no-such-file.ts")), "a path that does not exist is checked and missing");
  t.notOk(REPO_PATH.test("services/<name>/main.ts"), "a placeholder path is not checked");
});
