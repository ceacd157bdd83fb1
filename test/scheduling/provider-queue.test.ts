// Provider queues' ticket prefixes (issue 18, 13): every automatic provider queue used "A", so two
// providers' queues in one waiting room both called "A-001". A provider's queue now gets 2-3 letters
// of its own, read from the name, never one another queue has.
import t from "tap";
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
