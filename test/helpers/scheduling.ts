// Helpers for SchedulingService tests: gRPC clients of a test system with a role token, a provider
// with availability set up (over gRPC or on the class), and the class called directly.
import { create, type DescMethod } from "@bufbuild/protobuf";
import { createClient, type Client, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { DayOfWeek } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { CreateProviderRequestSchema, SchedulingService, SetAvailabilityRequestSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { SchedulingOptions } from "../../services/scheduling/scheduling-options.js";
import { reasonVaultFromConfig } from "../../services/scheduling/reason-vault.js";
import { SchedulingServiceImpl, type SchedulingServiceDeps } from "../../services/scheduling/scheduling-service.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import type { TeardownHost } from "./postgres.js";
import { TEST_KEYS_ENV, type TestSystem } from "./system.js";
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

/** testReasonVault seals appointment reasons under the test systems' SCHEDULING_ENCRYPTION_KEYS. */
export function testReasonVault() {
  return reasonVaultFromConfig({ schedulingEncryptionKeys: TEST_KEYS_ENV.SCHEDULING_ENCRYPTION_KEYS });
}

/** directSchedulingService is a SchedulingServiceImpl for tests that call it directly and drive its clock: no provider lock, offer sweep or LISTEN unless `options` say so; reasons sealed with the test keys; closed at teardown. */
export function directSchedulingService(t: TeardownHost, deps: SchedulingServiceDeps, options: Partial<SchedulingOptions> = {}): SchedulingServiceImpl {
  const svc = new SchedulingServiceImpl({ reasons: testReasonVault(), ...deps }, { useLock: false, offerSweepIntervalMs: 0, listen: false, ...options });
  t.teardown(() => svc.close());
  return svc;
}

/** createProviderIn creates a provider through a SchedulingServiceImpl called directly (by the caller `ctx` gives), working `start`-`end` every day in `slotMinutes` slots. */
export async function createProviderIn(
  svc: SchedulingServiceImpl,
  ctx: (method: DescMethod) => HandlerContext,
  opts: { providerId: string; displayName?: string; timeZone?: string; start?: string; end?: string; slotMinutes?: number },
): Promise<void> {
  const { providerId } = opts;
  await svc.createProvider(create(CreateProviderRequestSchema, { providerId, displayName: opts.displayName ?? `Dr. ${providerId}`, timeZone: opts.timeZone ?? "UTC" }), ctx(SchedulingService.method.createProvider));
  await svc.setAvailability(
    create(SetAvailabilityRequestSchema, {
      providerId,
      weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: opts.start ?? "00:00", endTime: opts.end ?? "24:00" })),
      slotDuration: { seconds: BigInt((opts.slotMinutes ?? 15) * 60) },
    }),
    ctx(SchedulingService.method.setAvailability),
  );
}
