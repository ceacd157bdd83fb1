// The web app shows a screen, panel or button only to roles the role table lets call its RPC
// (issue 18, second outside check: the doctor's reception offered walk-in tickets the table refuses,
// and /booking opened for a doctor). It reads the server's own table: role-table.ts must stay data
// the browser bundle can carry (no imports that are not type-only), and the app's reading of it must
// agree with the auth interceptor's decision for every RPC and every set of roles.
import t from "tap";
import { readFile } from "node:fs/promises";
import type { DescService } from "@bufbuild/protobuf";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { decide } from "../../services/runtime/auth/auth-interceptor.js";
import { ROLE_TABLE, ROLES, type Role } from "../../services/runtime/auth/role-table.js";
import { accessOf, rolesOf, SCREENS, screensFor } from "../../gateway/web/src/permissions.js";

const SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService];

t.test("role-table.ts has no runtime imports, so the web app bundles the very table the server enforces", async (t) => {
  const source = await readFile("services/runtime/auth/role-table.ts", "utf8");
  const imports = source.split("\n").filter((l) => /^\s*(import|export)\b.*\bfrom\b/.test(l));
  t.same(
    imports.filter((l) => !/^\s*(import|export) type\b/.test(l)),
    [],
    "only type imports (a value import would pull server code into the browser bundle)",
  );
  const permissions = await readFile("gateway/web/src/permissions.ts", "utf8");
  t.match(permissions, /from "\.\.\/\.\.\/\.\.\/services\/runtime\/auth\/role-table\.js"/, "the web app imports the table, not a copy");
});

t.test("the web app's access agrees with the auth interceptor for every RPC and every set of roles", async (t) => {
  const subject = "subject-1";
  let compared = 0;
  const disagreements: string[] = [];
  // Every subset of the roles: a token may carry several.
  const sets: Role[][] = [];
  for (let mask = 0; mask < 1 << ROLES.length; mask++) sets.push(ROLES.filter((_, i) => mask & (1 << i)));
  for (const service of SERVICES) {
    for (const method of service.methods) {
      const procedure = `${service.typeName}/${method.name}`;
      const rule = ROLE_TABLE.get(procedure);
      // The request names the caller in every owner field, so an "own" grant is allowed.
      const request = new Proxy({}, { get: () => subject });
      for (const roles of sets) {
        const d = decide(rule, procedure, subject, roles, request);
        const server = !d.allowed ? "no" : rule?.[d.role] === "yes" ? "yes" : "own";
        const web = accessOf(roles, method);
        compared++;
        if (web !== server) disagreements.push(`${procedure} [${roles.join(",")}]: web ${web}, server ${server}`);
      }
    }
  }
  t.same(disagreements, [], `${compared} comparisons`);
  t.ok(compared > 1000, "every method of the four services");
});

t.test("screens: each role is offered exactly the screens whose RPC it may call", async (t) => {
  const offered = (roles: Role[]) => screensFor({ subject: "s", roles }).map((s) => s.label);
  t.same(offered(["patient"]), ["Booking", "My details"], "a patient books and keeps their own details (and does not get the waiting-room board or the directory)");
  t.same(offered(["receptionist"]), ["Booking", "Patients", "Reception", "Display"]);
  t.same(offered(["doctor"]), ["Patients", "Reception", "Display"], "a doctor: no booking (BookAppointment is refused to doctors)");
  t.same(offered(["display"]), ["Display"], "a display board: no patient screen");
  t.same(offered(["admin"]), ["Booking", "Patients", "Reception", "Display", "Operations"]);
  t.same(offered([]), [], "no role, no screen");
  for (const screen of SCREENS) {
    for (const role of rolesOf(screen)) {
      t.not(accessOf([role], screen.uses), "no", `${screen.label} is offered to ${role} only if the table lets it call ${screen.uses.name}`);
    }
  }
});
