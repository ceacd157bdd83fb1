// A refused call is explained to the person in front of the screen: what they may not do and who does
// it instead, in words, never the RPC's name ("role doctor may not call
// medschedule.scheduling.v1.SchedulingService/CancelAppointment" was what staff read), and never a
// value the caller sent. For clients, ErrorInfo says ROLE_NOT_ALLOWED (or OWN_RECORDS_ONLY) with the
// role and the RPC in its metadata. Every RPC of the role table and every role that may not call it
// is tried, so an RPC added without its words in RPC_ACTIONS fails here.
import t from "tap";
import { decide, notAllowedMessage, OWN_RECORDS_ONLY, ROLE_NOT_ALLOWED } from "../../../services/runtime/auth/auth-interceptor.js";
import { ROLE_TABLE, ROLES, RPC_ACTIONS, type Role } from "../../../services/runtime/auth/role-table.js";

/** rpcWords are the words of an RPC's name that must not appear in a message: "CancelAppointment", "SchedulingService", "medschedule.". */
function rpcWords(procedure: string): RegExp {
  const [service, method] = procedure.split("/");
  return new RegExp(`${method}|${service.split(".").pop()}|medschedule\\.|/`);
}

t.test("every RPC of the role table says what it does, in words", async (t) => {
  for (const procedure of ROLE_TABLE.keys()) t.ok(RPC_ACTIONS.get(procedure), `${procedure} has its words in RPC_ACTIONS`);
  for (const procedure of RPC_ACTIONS.keys()) t.ok(ROLE_TABLE.has(procedure), `RPC_ACTIONS' ${procedure} is an RPC of the role table`);
});

t.test("every refusal by role: ROLE_NOT_ALLOWED, a sentence without RPC names, role and RPC in the metadata", async (t) => {
  let refusals = 0;
  for (const [procedure, rule] of ROLE_TABLE) {
    for (const role of ROLES) {
      if (rule[role] !== undefined) continue;
      const d = decide(rule, procedure, "someone", [role], {});
      if (d.allowed) {
        t.fail(`${role} was allowed ${procedure}`);
        continue;
      }
      refusals++;
      t.equal(d.reason, ROLE_NOT_ALLOWED, `${role} on ${procedure}: reason`);
      t.same(d.metadata, { role, rpc: procedure }, `${role} on ${procedure}: metadata`);
      t.notMatch(d.message, rpcWords(procedure), `${role} on ${procedure}: no RPC name in "${d.message}"`);
      t.ok(d.message.includes(`may not ${RPC_ACTIONS.get(procedure)}`), `${role} on ${procedure}: says what may not be done: "${d.message}"`);
    }
  }
  t.ok(refusals > 50, `the table refuses many (${refusals})`);
});

t.test("the sentences read as a receptionist would say them", async (t) => {
  const rule = (p: string) => ROLE_TABLE.get(`medschedule.${p}`);
  t.equal(
    notAllowedMessage("medschedule.scheduling.v1.SchedulingService/CancelAppointment", rule("scheduling.v1.SchedulingService/CancelAppointment"), ["doctor"]),
    "a doctor may not cancel appointments; reception staff and administrators do that, and patients for themselves",
  );
  t.equal(
    notAllowedMessage("medschedule.lock.v1.LockService/ForceRelease", rule("lock.v1.LockService/ForceRelease"), ["receptionist", "doctor"]),
    "a receptionist or a doctor may not force-release locks; administrators do that",
  );
  t.equal(
    notAllowedMessage("medschedule.lock.v1.LockService/AdvanceEpoch", rule("lock.v1.LockService/AdvanceEpoch"), ["admin"]),
    "an administrator may not advance the fencing epoch; only the services themselves do that",
  );
  t.equal(notAllowedMessage("medschedule.queue.v1.QueueService/CallNext", rule("queue.v1.QueueService/CallNext"), []), "a sign-in without a role may not call the next patient; reception staff, doctors and administrators do that");
  const unknown = decide(undefined, "medschedule.x.v1.XService/Y", "s", ["admin"], {});
  t.ok(!unknown.allowed && unknown.reason === ROLE_NOT_ALLOWED && !/XService|\bY\b/.test(unknown.message), "an RPC missing from the table is refused in words too");
});

t.test("someone else's records: OWN_RECORDS_ONLY names the field, never the id that was sent", async (t) => {
  const procedure = "medschedule.scheduling.v1.SchedulingService/ListAppointments";
  const d = decide(ROLE_TABLE.get(procedure), procedure, "pat-me", ["patient" as Role], { patientId: "pat-someone-else" });
  t.notOk(d.allowed);
  if (d.allowed) return;
  t.equal(d.reason, OWN_RECORDS_ONLY);
  t.same(d.metadata, { role: "patient", rpc: procedure, field: "patientId" });
  t.equal(d.message, "a patient may list appointments only for themselves: patientId must be your own id");
  t.notMatch(d.message, /pat-someone-else|pat-me|ListAppointments/);
});
