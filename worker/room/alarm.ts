/**
 * The room's one alarm, set as early as anything needs it. Scheduling is
 * synchronous (in the same turn as the write it protects) and skips the
 * storage call when the alarm is already due soon enough.
 */
export class AlarmClock {
  /** The alarm time as this instance last set or saw it (undefined: not known yet; null: none). */
  #at: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Have the alarm run at `at` or sooner. */
  atOrBefore(at: number): void {
    if (this.#at !== undefined && this.#at !== null && this.#at <= at) return;
    this.#at = at;
    void this.storage.setAlarm(at);
  }

  /** The alarm fired: nothing is scheduled now. */
  fired(): void {
    this.#at = null;
  }

  /** Schedule the soonest of `wants` (Infinity: nothing wanted), at least 1 ms after `now`. */
  next(now: number, wants: number[]): void {
    const at = Math.min(...wants);
    if (at !== Infinity) this.atOrBefore(Math.max(at, now + 1));
  }
}
