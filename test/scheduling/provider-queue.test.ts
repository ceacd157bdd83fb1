// Provider queues' ticket prefixes (issue 18, 13): every automatic provider queue used "A", so two
// providers' queues in one waiting room both called "A-001". A provider's queue now gets 2-3 letters
// of its own, read from the name, never one another queue has.
import t from "tap";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { domainConnectError, FailedPreconditionError } from "../../services/runtime/errors.js";
import { AppointmentTickets } from "../../services/scheduling/appointment-tickets.js";
import { testContext } from "../helpers/handler-context.js";
import { nameWords, providerQueueId, providerQueuePrefix } from "../../services/scheduling/provider-queue.js";

t.test("the prefix is read from the name: initials first, titles and accents left out", async (t) => {
  const cases: [string, string][] = [
    ["Dr. Ada Lovelace", "AL"],
    ["Prof. Dr. Ayşe Yılmaz", "AY"],
    ["Op. Dr. Çağrı Öztürk", "CO"],
    ["Uzm. Dr. İsmail Şahin", "IS"],
    ["Dr. José María García Márquez", "JM"],
    ["Grace Hopper, MD", "GH"],
    ["Radiology", "RA"],
    ["Dr. Ø", "OO"],
    ["Доктор Иванов", "PA"],
    ["", "PA"],
  ];
  for (const [name, prefix] of cases) t.equal(providerQueuePrefix(name, new Set()), prefix, JSON.stringify(name));
  t.same(nameWords("Prof. Dr. Ayşe Yılmaz"), ["AYSE", "YILMAZ"]);
});

t.test("a taken prefix is never reused: readable letters first, then any free one", async (t) => {
  const taken = new Set<string>(["A"]);
  const picked: string[] = [];
  for (let i = 0; i < 40; i++) {
    const p = providerQueuePrefix("Dr. Ada Lovelace", taken);
    t.match(p, /^[A-Z]{2,3}$/, `${p}: 2-3 capital letters, as the queue service requires`);
    t.notOk(taken.has(p), `${p} is free`);
    taken.add(p);
    picked.push(p);
  }
  t.same(picked.slice(0, 5), ["AL", "ALO", "ADL", "ALE", "ALA"], "the readable ones come first");
  t.equal(new Set(picked).size, picked.length, "all distinct");
  const full = new Set<string>();
  for (const a of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") for (const b of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") full.add(a + b);
  t.match(providerQueuePrefix("Dr. Ada Lovelace", full), /^[A-Z]{3}$/, "with every two-letter prefix taken, three letters");
});

t.test("the queue id stays an id", async (t) => {
  t.equal(providerQueueId("p-1"), "prov-p-1");
  t.match(providerQueueId("x".repeat(64)), /^prov-[0-9a-f]{40}$/, "hashed when too long");
});

t.test("a prefix another queue takes meanwhile (PREFIX_IN_USE) is passed over for the next free one", async (t) => {
  // A fake QueueService (a peer client; unit tests may fake those): the queue does not exist yet, no
  // queue is listed, and the first prefix asked for was taken by another queue since the listing.
  const asked: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(QueueService, {
      getQueue: () => {
        throw new ConnectError("no such queue", Code.NotFound);
      },
      listQueues: () => ({ queues: [] }),
      createQueue: (req) => {
        asked.push(req.prefix);
        if (asked.length === 1) throw domainConnectError(new FailedPreconditionError("PREFIX_IN_USE", `prefix ${req.prefix} is used by another queue`));
        return { queue: { queueId: req.queueId, displayName: req.displayName, prefix: req.prefix, timeZone: req.timeZone } };
      },
      issueTicket: (req) => ({ ticket: { ticketId: "t-1", queueId: req.queueId, number: `${asked[asked.length - 1]}-001` } }),
    });
  });
  const tickets = new AppointmentTickets({ client: (s) => createClient(s, transport) as never });
  const now = new Date();
  const ticket = await tickets.issue(
    testContext(SchedulingService.method.checkInAppointment),
    { onBehalfOf: "rec-1", action: "CHECK_IN" },
    {
      provider: { provider_id: "p-ada", display_name: "Dr. Ada Lovelace", time_zone: "UTC", specialty: "", created_at: now, last_sequence: "0" } as never,
      row: { appointment_id: "a-1", patient_id: "pat-1", start_at: now } as never,
      queueId: undefined,
      requestId: (queueId) => `checkin-${queueId}`,
    },
  );
  t.equal(asked.length, 2, "asked twice");
  t.equal(asked[0], "AL", "first the name's initials");
  t.not(asked[1], "AL", "then another prefix");
  t.equal(ticket.number, `${asked[1]}-001`, "the check-in went through");
});
