// What a call ended with, for assertions: the error it threw, its status code, or the fields its
// INVALID_ARGUMENT named. Shared by the tests that call a service class directly or over the network.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
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

/** domainOutcome is "OK", or what `read` takes from the DomainError a service class threw (anything else is thrown on). */
async function domainOutcome<T>(p: Promise<unknown>, read: (err: DomainError) => T): Promise<T | "OK"> {
  try {
    await p;
    return "OK";
  } catch (err) {
    if (err instanceof DomainError) return read(err);
    throw err;
  }
}

/** domainCodeOf is "OK", or the code of the DomainError a service class threw (anything else is thrown on). */
export function domainCodeOf(p: Promise<unknown>): Promise<Code | "OK"> {
  return domainOutcome(p, (err) => err.code);
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

/** domainFailure is the DomainError a service class threw; a success, or any other error, fails the test. */
export async function domainFailure(p: Promise<unknown>): Promise<DomainError> {
  const err = await failure(p);
  if (!(err instanceof DomainError)) throw new Error(`expected a domain error, got ${describe(err)}`);
  return err;
}

/** domainReasonOf is "OK", or the reason of the DomainError a service class threw (anything else is thrown on). */
export function domainReasonOf(p: Promise<unknown>): Promise<string> {
  return domainOutcome(p, (err) => err.reason);
}

/** reasonAfterRetries is domainReasonOf(call()) with the retryable answers (row-lock waits, a busy pool) retried, as clients do. */
export async function reasonAfterRetries(call: () => Promise<unknown>): Promise<string> {
  for (let tries = 0; ; tries++) {
    const got = await domainReasonOf(call());
    if ((got !== "WRITE_CONFLICT" && got !== "DATABASE_BUSY") || tries > 50) return got;
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  }
}

/** rpcFailure is the ConnectError an RPC over the network failed with; a success fails the test. */
export async function rpcFailure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await failure(p);
  if (err === "the call succeeded") throw new Error("expected the call to fail");
  return ConnectError.from(err);
}

/** RpcErrorInfo is an RPC's outcome as staff and clients read it: the status code and its google.rpc.ErrorInfo. */
export interface RpcErrorInfo {
  code: Code | "OK";
  reason?: string;
  message?: string;
  metadata?: Record<string, string>;
}

/** rpcErrorInfoOf is { code: "OK" }, or the status code, message and ErrorInfo (reason, metadata) an RPC over the network failed with. */
export async function rpcErrorInfoOf(p: Promise<unknown>): Promise<RpcErrorInfo> {
  try {
    await p;
    return { code: "OK" };
  } catch (err) {
    const e = ConnectError.from(err);
    const info = e.findDetails(ErrorInfoSchema)[0];
    return { code: e.code, reason: info?.reason, message: e.rawMessage, metadata: info?.metadata };
  }
}
