// Reads a server stream (WatchQueue, WatchAppointments) in the background, so a test can act and then
// look at what the stream received. The bounds only guard against a hang: they are generous.

/** HANG_BOUND_MS is how long a test waits for a stream message before calling it a hang. */
export const HANG_BOUND_MS = 60_000;

/** StreamReader collects a stream's messages; `next()` waits for the next unread one. */
export class StreamReader<M> {
  /** messages are every message received so far. */
  readonly messages: M[] = [];
  /** error is how the stream ended with an error, if it did. */
  error: unknown;
  /** ended is set once the stream ended (cleanly or not). */
  ended = false;
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();
  #read = 0;

  constructor(open: (signal: AbortSignal) => AsyncIterable<M>) {
    void (async () => {
      try {
        for await (const msg of open(this.#abort.signal)) {
          this.messages.push(msg);
          this.#wake();
        }
      } catch (err) {
        if (!this.#abort.signal.aborted) this.error = err;
      } finally {
        this.ended = true;
        this.#wake();
      }
    })();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  async #until(ready: () => boolean, what: string, boundMs: number): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`hang: ${what} (nothing within ${boundMs} ms)`);
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#waiters.delete(done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, 250);
        this.#waiters.add(done);
      });
    }
  }

  /** next returns the next unread message; it throws the stream's error, or when the stream ended without one. */
  async next(what: string, boundMs = HANG_BOUND_MS): Promise<M> {
    await this.#until(() => this.#read < this.messages.length || this.ended, what, boundMs);
    if (this.#read < this.messages.length) return this.messages[this.#read++];
    throw this.error ?? new Error(`the stream ended before ${what}`);
  }

  /** until reads messages until one satisfies `pred` and returns it (with those read on the way). */
  async until(pred: (m: M) => boolean, what: string, boundMs = HANG_BOUND_MS): Promise<{ match: M; read: M[] }> {
    const read: M[] = [];
    const deadline = Date.now() + boundMs;
    for (;;) {
      const m = await this.next(what, Math.max(1, deadline - Date.now()));
      read.push(m);
      if (pred(m)) return { match: m, read };
    }
  }

  /** ending waits for the stream to end and returns its error (undefined when it ended cleanly). */
  async ending(what: string, boundMs = HANG_BOUND_MS): Promise<unknown> {
    await this.#until(() => this.ended, what, boundMs);
    return this.error;
  }

  /** close cancels the stream. */
  close(): void {
    this.#abort.abort();
  }
}
