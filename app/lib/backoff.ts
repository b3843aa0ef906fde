/**
 * Full-jitter exponential backoff for reconnecting: the step starts at
 * `baseMs` and doubles up to `maxMs`; each wait is a random time between 0
 * and the current step (see docs/protocol.md, "Heartbeat and close codes").
 * With the defaults, the first retry after a drop waits 0–1 s, the next 0–2 s,
 * then 0–4 s, 0–8 s and from then on 0–10 s, so a room full of clients that
 * lost the server at the same moment does not come back in one burst.
 */

/** Reconnect delays: 1 s doubling to 10 s, each wait random in [0, step). */
export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  /**
   * @param baseMs the first step.
   * @param maxMs the largest step.
   * @param random a source of numbers in [0, 1) (injectable for tests).
   */
  constructor(baseMs = 1_000, maxMs = 10_000, random: () => number = Math.random) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#random = random;
  }

  /** The step the next {@link Backoff.next} draws from. */
  get step(): number {
    return Math.min(this.#maxMs, this.#baseMs * 2 ** this.#attempt);
  }

  /** The next wait in ms (random in [0, step)); the step then doubles. */
  next(): number {
    const wait = this.#random() * this.step;
    if (this.step < this.#maxMs) this.#attempt++;
    return wait;
  }

  /** Jump to the largest step (e.g. the server said "too many connections"). */
  toMax(): void {
    while (this.step < this.#maxMs) this.#attempt++;
  }

  /** Start over from the first step (after a healthy connection). */
  reset(): void {
    this.#attempt = 0;
  }
}
