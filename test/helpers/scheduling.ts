// Helpers for SchedulingService tests: gRPC clients of a test system with a role token, and a
// provider with availability set up.
import { createClient, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { DayOfWeek } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import type { TestSystem } from "./system.js";
import { tokenGrpcTransport } from "./token-transport.js";

/** schedulingClient is a Connect client over gRPC to the test system's grpc-js server, as `role`/`subject`. */
export async function schedulingClient(sys: TestSystem, role: Role = "receptionist", subject?: string): Promise<Client<typeof SchedulingService>> {
  return createClient(SchedulingService, tokenGrpcTransport(sys.grpc.port, await sys.token([role], subject)));
}

/** ALL_DAYS are Monday to Sunday. */
export const ALL_DAYS = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY, DayOfWeek.SATURDAY, DayOfWeek.SUNDAY];

/** setUpProvider creates a provider in `timeZone` working `start`-`end` every day, with the given slot and buffer (minutes). */
export async function setUpProvider(
  client: Client<typeof SchedulingService>,
  opts: { providerId?: string; timeZone?: string; start?: string; end?: string; slotMinutes?: number; bufferMinutes?: number } = {},
): Promise<string> {
  const { provider } = await client.createProvider({ displayName: "Dr. Test", timeZone: opts.timeZone ?? "UTC", specialty: "general", providerId: opts.providerId ?? "" });
  const providerId = provider!.providerId;
  await client.setAvailability({
    providerId,
    weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: opts.start ?? "00:00", endTime: opts.end ?? "24:00" })),
    slotDuration: { seconds: BigInt((opts.slotMinutes ?? 15) * 60) },
    buffer: { seconds: BigInt((opts.bufferMinutes ?? 0) * 60) },
  });
  return providerId;
}

/** systemDb is the test system's database handle. */
export async function systemDb(sys: TestSystem): Promise<Kysely<any>> {
  return (await sys.runtime.ready).db;
}
