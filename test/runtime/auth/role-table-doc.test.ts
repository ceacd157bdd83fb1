// docs/roles.md says who may call what as the code enforces it: its table is generated from
// ROLE_TABLE (scripts/role-table-doc.ts) and must be the same text as what the script prints now, as
// gen/ must be what `npm run generate` makes. A grant changed, an RPC added or a role added without
// `npm run docs:roles` fails here.
import t from "tap";
import { readFile } from "node:fs/promises";
import { BEGIN_MARKER, DOCUMENTED_SERVICES, END_MARKER, ROLES_DOC_FILE, roleTableMarkdown, withGeneratedPart } from "../../../scripts/role-table-doc.js";
import { ROLE_TABLE, ROLES, type RpcRule } from "../../../services/runtime/auth/role-table.js";

const page = await readFile(ROLES_DOC_FILE, "utf8");

t.test("docs/roles.md holds the role table the code enforces (run `npm run build && npm run docs:roles` if this fails)", async (t) => {
  const begin = page.indexOf(BEGIN_MARKER);
  const end = page.indexOf(END_MARKER);
  t.ok(begin >= 0 && end > begin, "the generated part's markers are there");
  const written = page.slice(begin + BEGIN_MARKER.length, end).trim();
  t.equal(written, roleTableMarkdown(), "the generated part is what the script prints from ROLE_TABLE");
  t.equal(withGeneratedPart(page, roleTableMarkdown()), page, "writing it again changes nothing");
});

t.test("every RPC of every service is in the generated table", async (t) => {
  const generated = roleTableMarkdown();
  for (const service of DOCUMENTED_SERVICES) {
    for (const method of service.methods) {
      const row = generated.split("\n").find((line) => line.startsWith(`| ${service.name.replace(/Service$/, "")} |`) && line.split("|")[2].split(",").map((m) => m.trim()).includes(method.name));
      t.ok(row, `${service.name}/${method.name} has a row`);
    }
  }
});

t.test("the comparison can fail: a changed grant, a missing RPC or an unknown one changes what is generated", async (t) => {
  // An RPC some role may not call: given to that role too, the table must say so.
  const [procedure, rule] = [...ROLE_TABLE].find(([, r]) => ROLES.some((role) => r[role] === undefined))!;
  const role = ROLES.find((r) => rule[r] === undefined)!;
  const widened = new Map<string, RpcRule>(ROLE_TABLE);
  widened.set(procedure, { ...rule, [role]: "yes" });
  t.not(roleTableMarkdown(widened), roleTableMarkdown(), `${procedure} given to ${role} shows`);
  const narrowed = new Map<string, RpcRule>(ROLE_TABLE);
  narrowed.delete(procedure);
  const [service, method] = procedure.replace(/^medschedule\.\w+\.v1\./, "").replace("Service/", "/").split("/");
  t.ok(roleTableMarkdown(narrowed).split("\n").includes(`| ${service} | ${method} | – | – | – | – | – | – |`), "an RPC missing from the table is shown denied to every role");
  const stale = new Map<string, RpcRule>(ROLE_TABLE);
  stale.set("medschedule.lock.v1.LockService/Steal", { admin: "yes" });
  t.throws(() => roleTableMarkdown(stale), /Steal/, "a row for an RPC no service has is refused");
});
