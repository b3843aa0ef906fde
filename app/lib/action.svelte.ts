/**
 * Pending/error bookkeeping for one user action (a form submit, a button).
 * Components show `pending` on their button and `error` in an alert region.
 */
import { errorMessage } from "./http.ts";

/** Tracks one async user action: whether it is running and its last error. */
export class Action<Args extends unknown[], Result> {
  #pending = $state(false);
  #error = $state<string | null>(null);
  readonly #fn: (...args: Args) => Promise<Result>;

  /** @param fn the work to do; whatever it throws becomes {@link Action.error}. */
  constructor(fn: (...args: Args) => Promise<Result>) {
    this.#fn = fn;
  }

  /** True while the action runs. */
  get pending(): boolean {
    return this.#pending;
  }

  /** The last failure as a sentence for the user, or null. */
  get error(): string | null {
    return this.#error;
  }

  /**
   * Run the action unless it is already running.
   * @returns `{ ok: true, value }` on success, `{ ok: false }` on failure (see {@link Action.error}) or when busy.
   */
  async run(...args: Args): Promise<{ ok: true; value: Result } | { ok: false }> {
    if (this.#pending) return { ok: false };
    this.#pending = true;
    this.#error = null;
    try {
      return { ok: true, value: await this.#fn(...args) };
    } catch (err) {
      this.#error = errorMessage(err);
      return { ok: false };
    } finally {
      this.#pending = false;
    }
  }

  /** Show a failure that was detected before running (e.g. client-side validation). */
  fail(message: string): void {
    this.#error = message;
  }

  /** Hide the error. */
  reset(): void {
    this.#error = null;
  }
}
