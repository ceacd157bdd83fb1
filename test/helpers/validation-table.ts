// The table the *-service.validation tests write for each RPC of a service class called directly: a
// valid request and its valid variants pass validation; each bad variant answers INVALID_ARGUMENT whose
// violations name exactly the bad fields, each with words saying what is wrong.
import type { Test } from "tap";
import { create, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { InvalidArgumentError } from "../../services/runtime/errors.js";
import { testContext } from "./handler-context.js";

/** Fields are the fields of a request message, any of them, without protobuf-es' bookkeeping. */
export type Fields<S extends DescMessage> = Partial<Omit<MessageShape<S>, "$typeName" | "$unknown">>;

/** Bad is a bad variant of a valid request and the fields its violations must name, no more, no less. */
export interface Bad<S extends DescMessage> {
  name: string;
  patch: Fields<S>;
  fields: string[];
}

/** RpcValidationSpec is one RPC's row: how to call it, a valid request, valid variants and bad ones. */
export interface RpcValidationSpec<S extends DescMessage> {
  method: DescMethod;
  schema: S;
  call: (req: MessageShape<S>, ctx: HandlerContext) => Promise<unknown>;
  valid: Fields<S>;
  alsoValid?: Array<{ name: string; patch: Fields<S> }>;
  bad: Array<Bad<S>>;
}

/** thrownBy is what `call` threw, or undefined when it succeeded. */
export async function thrownBy(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** shown names what a call threw for an assertion's message ("no error (...)" when it threw nothing). */
export function shown(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : `no error (${String(err)})`;
}

/**
 * validationTable returns `rpc`, which adds one subtest of `t` per RPC: a request passes validation
 * when `passedValidation` says so of what the call threw (undefined when nothing), a bad variant must
 * answer INVALID_ARGUMENT naming exactly its fields (with `ownReasons`, each violation with a reason of
 * its own, not a generic INVALID_VALUE); and `coversEveryRpc`, a subtest that fails when an RPC of
 * `service` has no row.
 */
export function validationTable(
  t: Test,
  service: DescService,
  passedValidation: (err: unknown) => boolean,
  opts: { ownReasons?: boolean } = {},
): { rpc: <S extends DescMessage>(spec: RpcValidationSpec<S>) => void; coversEveryRpc: (elsewhere?: readonly string[]) => void } {
  const covered = new Set<string>();
  const rpc = <S extends DescMessage>(spec: RpcValidationSpec<S>): void => {
    const procedure = `${service.typeName}/${spec.method.name}`;
    covered.add(spec.method.name);
    const build = (patch: Fields<S>) => create(spec.schema, { ...spec.valid, ...patch } as unknown as MessageInitShape<S>);
    void t.test(spec.method.name, async (t) => {
      for (const { name, patch } of [{ name: "valid request", patch: {} }, ...(spec.alsoValid ?? [])]) {
        const err = await thrownBy(() => spec.call(build(patch), testContext(spec.method)));
        t.ok(passedValidation(err), `${name}: ${procedure} passes validation (${shown(err)})`);
      }
      for (const bad of spec.bad) {
        const err = await thrownBy(() => spec.call(build(bad.patch), testContext(spec.method)));
        if (!(err instanceof InvalidArgumentError)) {
          t.fail(`${bad.name}: expected InvalidArgumentError, got ${shown(err)}`);
          continue;
        }
        const named = [...new Set(err.violations.map((v) => v.field))].sort();
        t.strictSame(named, [...bad.fields].sort(), `${bad.name}: violations name ${bad.fields.join(", ")}`);
        t.ok(err.violations.length >= bad.fields.length, `${bad.name}: one violation per bad field at least`);
        t.ok(err.violations.every((v) => v.description.length > 0), `${bad.name}: every violation says what is wrong`);
        if (opts.ownReasons) {
          const vague = err.violations.filter((v) => !v.reason || v.reason === "INVALID_VALUE").map((v) => v.field);
          t.same(vague, [], `${bad.name}: every violation has its own reason (${err.violations.map((v) => v.reason).join(", ")})`);
        }
      }
    });
  };
  const coversEveryRpc = (elsewhere: readonly string[] = []): void => {
    void t.test(`every ${service.name} RPC is covered above`, async (t) => {
      t.strictSame([...new Set([...covered, ...elsewhere])].sort(), service.methods.map((m) => m.name).sort());
    });
  };
  return { rpc, coversEveryRpc };
}
