// The question every destructive action asks first ("Cancel this appointment?"), with an optional or
// required reason, or a word to type for the worst ones (restoring a backup). A native modal
// <dialog>: the page behind it is inert, focus moves into it (to the reason, the word to type, or
// else "Go back", the harmless choice), Escape and "Go back" answer no, and focus returns to the
// button that asked.
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";
import { messages } from "./message-catalog.js";

/** ConfirmRequest is one question. */
export interface ConfirmRequest {
  /** title is the question. */
  title: string;
  /** body says what exactly happens. */
  body: string;
  /** confirm labels the button that does it. */
  confirm: string;
  /** reason asks for a reason: "optional" or "required"; none when unset. */
  reason?: "optional" | "required";
  /** word must be typed to enable the confirm button. */
  word?: string;
}

/** Confirmed is a yes, with the reason given (trimmed; "" when none). */
export interface Confirmed {
  /** reason typed in the dialog. */
  reason: string;
}

interface Pending extends ConfirmRequest {
  resolve(answer: Confirmed | undefined): void;
  opener: Element | null;
}

/** useConfirm gives a screen `ask(question)` (resolves undefined for no) and the dialog element to render. */
export function useConfirm(): { ask(request: ConfirmRequest): Promise<Confirmed | undefined>; dialog: ReactNode } {
  const [pending, setPending] = useState<Pending | undefined>();
  const ask = useCallback(
    (request: ConfirmRequest) => new Promise<Confirmed | undefined>((resolve) => setPending({ ...request, resolve, opener: document.activeElement })),
    [],
  );
  const dialog = pending ? (
    <ConfirmDialog
      request={pending}
      onAnswer={(answer) => {
        setPending(undefined);
        pending.resolve(answer);
      }}
    />
  ) : null;
  return { ask, dialog };
}

function ConfirmDialog({ request, onAnswer }: { request: Pending; onAnswer(answer: Confirmed | undefined): void }) {
  const id = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const firstRef = useRef<HTMLInputElement>(null);
  const keepRef = useRef<HTMLButtonElement>(null);
  const [reason, setReason] = useState("");
  const [word, setWord] = useState("");
  const answered = useRef(false);

  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    (firstRef.current ?? keepRef.current)?.focus();
    return () => {
      if (d.open) d.close();
    };
  }, []);

  const answer = (value: Confirmed | undefined) => {
    if (answered.current) return;
    answered.current = true;
    ref.current?.close();
    const opener = request.opener;
    if (opener instanceof HTMLElement && opener.isConnected) {
      opener.focus();
      // A button disabled meanwhile takes the focus once the screen has re-rendered.
      if (document.activeElement !== opener) requestAnimationFrame(() => opener.isConnected && opener.focus());
    }
    onAnswer(value);
  };
  const ready = (request.reason !== "required" || reason.trim() !== "") && (!request.word || word.trim() === request.word);

  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-body`}
      onCancel={(e) => {
        e.preventDefault();
        answer(undefined);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (ready) answer({ reason: reason.trim() });
        }}
      >
        <h2 id={`${id}-title`}>{request.title}</h2>
        <p id={`${id}-body`}>{request.body}</p>
        {request.reason && (
          <label>
            {request.reason === "required" ? messages.confirm.reasonRequiredLabel : messages.confirm.reasonLabel}
            <input
              ref={firstRef}
              id="confirm-reason"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              maxLength={500}
              required={request.reason === "required"}
              autoComplete="off"
            />
          </label>
        )}
        {request.word && (
          <label>
            {messages.confirm.typeToConfirm({ word: request.word })}
            <input ref={request.reason ? undefined : firstRef} id="confirm-word" value={word} onChange={(e) => setWord(e.target.value)} autoComplete="off" />
          </label>
        )}
        <div className="row dialog-actions">
          <button type="button" ref={keepRef} onClick={() => answer(undefined)}>
            {messages.confirm.keep}
          </button>
          <button type="submit" className="danger solid" id="confirm-yes" disabled={!ready}>
            {request.confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
