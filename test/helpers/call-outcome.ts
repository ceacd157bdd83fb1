// What a call ended with, for assertions: the error it threw, its status code, or the fields its
// INVALID_ARGUMENT named. Shared by the tests that call a service class directly or over the network.
import { Code, ConnectError } from "@connectrpc/connect";
import { DomainError, InvalidArgumentError } from "../../services/runtime/errors.js";

/** failure is what the call threw, or "the call succeeded". */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return "the call succeeded";
}

/** describe names an outcome for an assertion's message. */
export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** invalidArgument is the InvalidArgumentError the call threw, or what happened instead. */
export async function invalidArgument(p: Promise<unknown>): Promise<InvalidArgumentError | string> {
  const err = await failure(p);
  if (!(err instanceof InvalidArgumentError) || err.code !== Code.InvalidArgument) {
    return `expected InvalidArgumentError, got ${describe(err)}`;
  }
  return err;
}

/** violatedFields are the sorted fields the call's InvalidArgumentError names (repeated when a field has several problems), or what happened instead. */
export async function violatedFields(p: Promise<unknown>): Promise<string[] | string> {
  const err = await invalidArgument(p);
  return typeof err === "string" ? err : err.violations.map((v) => v.field).sort();
}

/** domainCodeOf is "OK", or the code of the DomainError a service class threw (anything else is thrown on). */
export async function domainCodeOf(p: Promise<unknown>): Promise<Code | "OK"> {
  try {
    await p;
    return "OK";
  } catch (err) {
    if (err instanceof DomainError) return err.code;
    throw err;
  }
}

/** rpcCodeOf is "OK", or the status code an RPC over the network failed with. */
export async function rpcCodeOf(p: Promise<unknown>): Promise<Code | "OK"> {
  try {
    await p;
    return "OK";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}
