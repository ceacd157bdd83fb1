// The visit plan alone (no database): rooms and devices chosen by capability as a matching (a device
// with two capabilities serves one visit need, never two), the local day of the per-day maximum across
// DST changes, and the buffer before a visit kept free by the slot engine.
import t from "tap";
import { chooseResources, localDayOf } from "../../services/scheduling/visit-plan.js";
import { listSlots, type Schedule } from "../../services/scheduling/slots.js";

const MIN = 60_000;
const HOUR = 60 * MIN;

t.test("chooseResources: one distinct resource per capability, or none", async (t) => {
  const us = { resource_id: "dev-us", capabilities: ["ultrasound"] };
  const both = { resource_id: "dev-both", capabilities: ["ultrasound", "ecg"] };
  const room = { resource_id: "room-1", capabilities: ["exam"] };
  const all = () => true;
  t.same(chooseResources([], [us, both, room], all), [], "nothing required: nothing taken");
  t.same(chooseResources(["ultrasound"], [us, both], all), ["dev-us"], "the first candidate in order");
  // Greedy would give ultrasound the two-capability device first and find no ECG; the matching moves it.
  t.same(chooseResources(["ultrasound", "ecg"], [both, us], all), ["dev-us", "dev-both"], "the two-capability device serves the need only it can");
  t.equal(chooseResources(["ultrasound", "ultrasound", "ecg"], [both, us], all), undefined, "two devices cannot serve three needs");
  t.equal(chooseResources(["ultrasound", "ecg"], [both, us], (id) => id !== "dev-both"), undefined, "a busy device is not chosen");
  t.same(chooseResources(["exam", "ultrasound"], [us, both, room], (id) => id !== "dev-us"), ["room-1", "dev-both"], "a busy one is passed over");
  t.equal(chooseResources(["xray"], [us, both, room], all), undefined, "no resource has the capability");
});

t.test("localDayOf spans 23 and 25 hours across New York's DST changes, 24 in Istanbul", async (t) => {
  const spring = localDayOf(Date.parse("2027-03-14T15:00:00Z"), "America/New_York");
  t.equal(spring.date, "2027-03-14");
  t.equal(spring.to.getTime() - spring.from.getTime(), 23 * HOUR);
  const fall = localDayOf(Date.parse("2027-11-07T15:00:00Z"), "America/New_York");
  t.equal(fall.to.getTime() - fall.from.getTime(), 25 * HOUR);
  const ist = localDayOf(Date.parse("2027-03-28T21:30:00Z"), "Europe/Istanbul");
  t.equal(ist.date, "2027-03-29", "00:30 local is the next date in Istanbul");
  t.equal(ist.from.toISOString(), "2027-03-28T21:00:00.000Z");
});

t.test("the slot engine keeps a buffer before the visit free of other appointments", async (t) => {
  const schedule: Schedule = {
    timeZone: "UTC",
    weeklyHours: [1, 2, 3, 4, 5, 6, 7].map((d) => ({ dayOfWeek: d as never, startMinute: 9 * 60, endMinute: 12 * 60 })),
    breaks: [],
    exceptions: [],
    slotMs: 30 * MIN,
    bufferMs: 0,
  };
  const day = Date.parse("2027-01-04T00:00:00Z");
  const range = { start: day, end: day + 24 * HOUR };
  const busy = [{ start: day + 9 * HOUR, end: day + 10 * HOUR }];
  const starts = (bufferBeforeMs: number) => listSlots(schedule, { range, durationMs: 30 * MIN, providerBusy: busy, bufferBeforeMs }).map((s) => new Date(s.start).toISOString().slice(11, 16));
  t.same(starts(0), ["10:00", "10:30", "11:00", "11:30"]);
  t.same(starts(15 * MIN), ["10:30", "11:00", "11:30"], "10:00 would need 09:45-10:00 free");
});
