// Turns an error from a call into what a person at the desk reads: the server's google.rpc.ErrorInfo
// reason and metadata, worded by the message catalog; BadRequest field violations, per field, for
// the inputs that show them; the status code's generic wording when there is no reason.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { messages, type MessageArgs, type Subject } from "./message-catalog.js";

/** ERROR_DOMAIN is the ErrorInfo domain of MedSchedule's own errors. */
const ERROR_DOMAIN = "medschedule.io";

/** Explained is an error as the screens show it: what happened and what to do. */
export interface Explained {
  /** title says what went wrong. */
  title: string;
  /** action says what to do about it. */
  action: string;
  /** detail is the server's message, shown folded as a technical detail. */
  detail: string;
  /** code is the status code name. */
  code: string;
  /** reason is ErrorInfo.reason, when the server sent one. */
  reason?: string;
  /** fields maps request fields (proto3 JSON paths) to what is wrong with them, for inputs that show it. */
  fields: Record<string, string>;
}

/** sentence capitalises a server description and ends it with a full stop. */
function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
}

/**
 * explainError turns any error from a call into a message for people. `subject` names the action;
 * `context` adds what the screen knows (e.g. counterId) under the server's metadata.
 */
export function explainError(err: unknown, subject: Subject = "request", context: MessageArgs = {}): Explained {
  const e = ConnectError.from(err);
  const detail = e.rawMessage;
  const code = Code[e.code] ?? String(e.code);
  const what = messages.subjects[subject];
  const info = e.findDetails(ErrorInfoSchema).find((i) => i.domain === ERROR_DOMAIN);
  const violations = e.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);

  const fields: Record<string, string> = {};
  for (const v of violations) {
    const word = messages.fieldReasons[v.reason];
    const text = word ? word({ description: v.description }) : sentence(v.description);
    fields[v.field] = fields[v.field] ? `${fields[v.field]} ${text}` : text;
  }

  if (violations.length > 0) {
    const generic = messages.codes.InvalidArgument(what);
    const list = Object.entries(fields).map(([f, text]) => `${messages.fields[f] ?? f}: ${text}`);
    return { title: generic.title, action: list.join(" "), detail, code, reason: info?.reason, fields };
  }
  if (info) {
    const word = messages.reasons[info.reason];
    if (word) {
      const text = word({ ...context, ...info.metadata });
      return { title: text.title, action: text.action ?? "", detail, code, reason: info.reason, fields };
    }
    if (e.code === Code.FailedPrecondition) {
      // A reason this app does not know yet: the server's own words, never a vague "refresh".
      return { title: messages.codes.FailedPrecondition(what).title, action: messages.unknownReason(detail), detail, code, reason: info.reason, fields };
    }
  }
  const offline = e.code === Code.Unknown && /failed to fetch|networkerror|load failed|network error/i.test(detail);
  const text = offline ? messages.codes.offline(what) : (messages.codes[code] ?? messages.codes.default)(what);
  return { ...text, detail, code: offline ? "Unavailable" : code, reason: info?.reason, fields };
}
