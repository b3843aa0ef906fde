/**
 * Runs an async job every few seconds while started — the live channels'
 * fallback of polling over HTTP while their socket is down (see transport.svelte.ts).
 */

/** Repeats `job` every `everyMs` (first run after one interval) until stopped. */
export class Poller {
  readonly #job: (signal: AbortSignal) => Promise<void>;
  readonly #everyMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: AbortController | null = null;
  #started = false;

  /**
   * @param job one round; it handles its own errors and should honour `signal`.
   * @param everyMs the pause between the end of one round and the next.
   */
  constructor(job: (signal: AbortSignal) => Promise<void>, everyMs: number) {
    this.#job = job;
    this.#everyMs = everyMs;
  }

  /** Start repeating (no-op when already started). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#schedule();
  }

  /** Stop repeating and abort a round in flight. */
  stop(): void {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight?.abort();
    this.#inFlight = null;
  }

  /** Run one round now (skipped while one is in flight), whether or not started. */
  async runNow(): Promise<void> {
    if (this.#inFlight) return;
    const controller = (this.#inFlight = new AbortController());
    try {
      await this.#job(controller.signal);
    } finally {
      if (this.#inFlight === controller) this.#inFlight = null;
    }
  }

  #schedule(): void {
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      await this.runNow();
      if (this.#started) this.#schedule();
    }, this.#everyMs);
  }
}
