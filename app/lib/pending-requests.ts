/**
 * Requests sent over the room socket that are answered by `ref` (`done` or
 * `error`): edits and deletes. Each waits as a promise, with a timeout, and
 * can be resent as-is after a reconnect (edit and delete are idempotent).
 */

interface Waiting<F> {
  frame: F;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Outstanding requests keyed by their `ref`. */
export class PendingRequests<F> {
  readonly #waiting = new Map<string, Waiting<F>>();
  readonly #timeoutMs: number;

  /** @param timeoutMs reject a request nobody answered after this long. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Whether a request with this ref is waiting. */
  has(ref: string): boolean {
    return this.#waiting.has(ref);
  }

  /** Every waiting request's frame, oldest first (to resend after a reconnect). */
  frames(): F[] {
    return [...this.#waiting.values()].map((w) => w.frame);
  }

  /** Wait for the answer to `frame`; resolves on {@link PendingRequests.settle} without an error. */
  add(ref: string, frame: F): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(ref, new Error("The server did not answer. Please try again.")),
        this.#timeoutMs,
      );
      this.#waiting.set(ref, { frame, resolve, reject, timer });
    });
  }

  /** The answer for `ref` arrived: resolve it, or reject it with `error`. */
  settle(ref: string, error?: Error): void {
    const waiting = this.#waiting.get(ref);
    if (!waiting) return;
    this.#waiting.delete(ref);
    clearTimeout(waiting.timer);
    if (error) waiting.reject(error);
    else waiting.resolve();
  }

  /** Reject everything (the page is going away). */
  rejectAll(error: Error): void {
    for (const ref of [...this.#waiting.keys()]) this.settle(ref, error);
  }
}
