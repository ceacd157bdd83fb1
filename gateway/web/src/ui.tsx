// Small shared pieces: loading and error states, and a hook that runs a call and keeps its state.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { explainError, type Explained } from "./error-explainer.js";
import { messages, type MessageArgs, type Subject } from "./message-catalog.js";

/**
 * ErrorBox shows what failed and what to do, with a Retry button when one helps; the server's own
 * words stay folded. A screen in another language passes its own `explained` error and `labels`.
 */
export function ErrorBox({
  error,
  what,
  context,
  onRetry,
  explained,
  labels,
  children,
}: {
  error: unknown;
  what?: Subject;
  context?: MessageArgs;
  onRetry?: () => void;
  explained?: Explained;
  labels?: { technical?: string; retry: string };
  children?: ReactNode;
}) {
  const e = explained ?? explainError(error, what, context);
  return (
    <div className="error" role="alert" data-code={e.code} data-reason={e.reason}>
      <strong>{e.title}</strong>
      {e.action && <p>{e.action}</p>}
      {e.detail && (
        <details className="muted small">
          <summary>{labels?.technical ?? messages.technical}</summary>
          {e.code}
          {e.reason ? ` ${e.reason}` : ""}: {e.detail}
        </details>
      )}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {labels?.retry ?? "Retry"}
        </button>
      )}
      {children}
    </div>
  );
}

/** fieldError is what is wrong with one request field in an error, for the input that shows it. */
export function fieldError(error: unknown, field: string): string | undefined {
  return error === undefined ? undefined : explainError(error).fields[field];
}

/** fieldProps marks an input invalid and links it to its FieldError (id) while `message` is set. */
export function fieldProps(message: string | undefined, id: string): { "aria-invalid"?: true; "aria-describedby"?: string } {
  return message ? { "aria-invalid": true, "aria-describedby": id } : {};
}

/** FieldError shows a field violation next to its input. */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return message ? (
    <span className="field-error" id={id} data-testid={id}>
      {message}
    </span>
  ) : null;
}

/** Loading is the placeholder shown while a call runs. */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

/** Notice is a short success message read out by screen readers. */
export function Notice({ children }: { children: ReactNode }) {
  return (
    <p className="notice" role="status" aria-live="polite">
      {children}
    </p>
  );
}

/**
 * Pager is the Previous / Next of a list shown a page at a time (paging.ts's usePagedList and
 * usePages): `id` names its buttons (`<id>-prev`, `<id>-next`); nothing is drawn for a single page.
 */
export function Pager({
  id,
  label,
  list,
}: {
  id: string;
  label: string;
  list: { page: number; pages?: number; hasPrev: boolean; hasNext: boolean; prev(): void; next(): void; loading?: boolean };
}) {
  const prevRef = useRef<HTMLButtonElement>(null);
  const nextRef = useRef<HTMLButtonElement>(null);
  // On the first or last page the button just pressed turns disabled, which drops the keyboard's
  // focus to the page's start: it moves to the other button instead.
  const pressed = useRef<"prev" | "next" | undefined>(undefined);
  useEffect(() => {
    if (pressed.current === "next" && !list.hasNext && list.hasPrev && !list.loading) prevRef.current?.focus();
    if (pressed.current === "prev" && !list.hasPrev && list.hasNext) nextRef.current?.focus();
  }, [list.page, list.hasNext, list.hasPrev, list.loading]);
  if (!list.hasPrev && !list.hasNext) return null;
  return (
    <nav className="pager row" aria-label={`Pages of ${label}`} data-testid={`${id}-pager`}>
      <button type="button" id={`${id}-prev`} ref={prevRef} disabled={!list.hasPrev} onClick={() => ((pressed.current = "prev"), list.prev())}>
        ← Previous
      </button>
      <span className="muted small" data-testid={`${id}-page`} aria-live="polite">
        Page {list.page}
        {list.pages ? ` of ${list.pages}` : ""}
      </span>
      <button type="button" id={`${id}-next`} ref={nextRef} disabled={!list.hasNext} aria-busy={list.loading || undefined} onClick={() => ((pressed.current = "next"), list.next())}>
        Next →
      </button>
    </nav>
  );
}

/** AsyncState is the state of one call. */
export interface AsyncState<T> {
  /** data is the last successful result. */
  data?: T;
  /** error is the last failure (cleared by a success). */
  error?: unknown;
  /** loading is true while a call runs. */
  loading: boolean;
  /** reload runs the call again. */
  reload(): void;
}

/** useAsync runs `fn` now, when `deps` change, and every `pollMs` if given. */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], opts: { pollMs?: number; enabled?: boolean } = {}): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: opts.enabled !== false });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (opts.enabled === false) {
      setState({ loading: false });
      return;
    }
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fnRef.current(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (error: unknown) => !ac.signal.aborted && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => ac.abort();
  }, [...deps, tick, opts.enabled]);
  useEffect(() => {
    if (!opts.pollMs || opts.enabled === false) return;
    const id = setInterval(() => setTick((t) => t + 1), opts.pollMs);
    return () => clearInterval(id);
  }, [opts.pollMs, opts.enabled]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** useAction runs a user action (book, call next, ...) and keeps its pending, error and result state. */
export function useAction<A extends unknown[], T>(fn: (...args: A) => Promise<T>): {
  run: (...args: A) => Promise<T | undefined>;
  pending: boolean;
  error?: unknown;
  result?: T;
  clear(): void;
} {
  const [state, setState] = useState<{ pending: boolean; error?: unknown; result?: T }>({ pending: false });
  const run = async (...args: A) => {
    setState({ pending: true });
    try {
      const result = await fn(...args);
      setState({ pending: false, result });
      return result;
    } catch (error) {
      setState({ pending: false, error });
      return undefined;
    }
  };
  return { ...state, run, clear: () => setState({ pending: false }) };
}
