/**
 * Reading marks read: what has been on screen while I was looking moves my
 * read mark, with at most one read sent per {@link READ_INTERVAL_MS} however
 * fast the list scrolls (the first at once, then the highest seen so far at
 * the end of each interval), never below the mark the room already has,
 * and never for nothing (a move over my own messages alone would cost the
 * room a write).
 *
 * The page tells the tracker what is on screen ({@link ReadTracker.show} /
 * {@link ReadTracker.hide}, from read-observer.ts) and whether I am looking
 * ({@link ReadTracker.setAttentive}: the tab visible and focused). Items count
 * as seen only while I am looking; when I look again, what is on screen
 * counts then. Two places show items:
 *
 * - the timeline (the message list, in `seq` order): seeing an item there
 *   means I have come past everything above it, so the mark moves up to the
 *   highest one seen;
 * - the aside (the Files panel, newest first): a file seen there moves the
 *   mark only over unread items that have all been seen too — one cursor
 *   cannot skip an unread message I have not seen.
 *
 * After "mark unread from here" the tracker is held ({@link ReadTracker.hold})
 * so the mark is not undone at once by what is still on screen; the page
 * releases it when I scroll the list myself or send a message, and leaving
 * the room ends it ({@link ReadTracker.reset}).
 */
import { ApiError } from "./http.ts";

/** At most one read per this many ms. */
export const READ_INTERVAL_MS = 500;
/** Retries after a failed read wait at most this long. */
const RETRY_MAX_MS = 30_000;

/** Where an item is on screen: in the message list, or in the Files panel beside it. */
export type Place = "timeline" | "aside";

/** Whether reading marks read now: not yet ("off", the list is being placed), "away" (not looking), "held" (after mark unread), "on". */
export type ReadingState = "off" | "away" | "held" | "on";

/** The unread items the page has loaded, for the tracker's sake. */
export interface UnreadItems {
  /** Seqs of the loaded items unread for me (others' messages and files above my read mark), ascending. */
  seqs: readonly number[];
  /** Every item from this seq on is loaded; older ones may not be (0: all are). */
  knownFrom: number;
}

/** What the tracker works with. */
export interface ReadTrackerOptions {
  /** My read mark as this page knows it (the room's, or a read of mine it has not confirmed yet). */
  mark: () => number;
  /** The unread items loaded now. */
  unread: () => UnreadItems;
  /** Send a read up to `seq`; resolves with the room's mark after it, rejects with an {@link ApiError}. */
  send: (seq: number) => Promise<number>;
  /** A read went out (show it at once). */
  onsent?: (seq: number) => void;
  /** The room answered a read with its mark. */
  onanswer?: (readSeq: number) => void;
  /** A read failed (it will be tried again). */
  onfailed?: (seq: number) => void;
  /** Defaults to {@link READ_INTERVAL_MS}. */
  intervalMs?: number;
}

/** See the module comment. */
export class ReadTracker {
  #enabled = $state(false);
  #attentive = $state(false);
  #held = $state(false);
  #busy = $state(false);

  /** Whether reading marks read now, and if not, why. */
  readonly state: ReadingState = $derived(!this.#enabled ? "off" : !this.#attentive ? "away" : this.#held ? "held" : "on");

  readonly #options: ReadTrackerOptions;
  readonly #interval: number;
  /** What is on screen now: seq → how many elements show it, per place. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping: nothing renders from it
  readonly #visible: Record<Place, Map<number, number>> = { timeline: new Map(), aside: new Map() };
  /** The highest timeline item seen while reading (since the last hold). */
  #timelineMax = 0;
  /** Aside items seen while reading (since the last hold). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping: nothing renders from it
  readonly #asideSeen = new Set<number>();
  /** The highest seq sent (since the last hold): never sent twice, never less. */
  #sentMax = 0;
  #lastSentAt = -Infinity;
  #retryAt = 0;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inflight: Promise<void> | null = null;
  /** Bumped by {@link ReadTracker.reset}: answers to reads of before are ignored. */
  #generation = 0;

  /** @param options see {@link ReadTrackerOptions}. */
  constructor(options: ReadTrackerOptions) {
    this.#options = options;
    this.#interval = options.intervalMs ?? READ_INTERVAL_MS;
  }

  /** Whether what comes on screen is read now. */
  get reading(): boolean {
    return this.state === "on";
  }

  /** Whether a read is waiting for its turn or on its way. */
  get busy(): boolean {
    return this.#busy;
  }

  /** An item at `seq` came (mostly) on screen. */
  show(seq: number, place: Place): void {
    const shown = this.#visible[place];
    shown.set(seq, (shown.get(seq) ?? 0) + 1);
    if (!this.reading) return;
    this.#see(seq, place);
    this.#schedule();
  }

  /** An item at `seq` left the screen. */
  hide(seq: number, place: Place): void {
    const shown = this.#visible[place];
    const n = shown.get(seq) ?? 0;
    if (n <= 1) shown.delete(seq);
    else shown.set(seq, n - 1);
  }

  /** Whether I am looking (the tab visible and focused). Looking again counts what is on screen. */
  setAttentive(attentive: boolean): void {
    if (this.#attentive === attentive) return;
    this.#attentive = attentive;
    this.#resume();
  }

  /** The page is placed (at the "New messages" divider or the bottom): from now on, reading counts. */
  enable(): void {
    if (this.#enabled) return;
    this.#enabled = true;
    this.#resume();
  }

  /** Stop reading (I marked unread) and forget what was seen, a read waiting for its turn included. */
  hold(): void {
    this.#held = true;
    this.#forget();
  }

  /** Read again after a hold (I scrolled, or sent a message): what is on screen counts now. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#resume();
  }

  /** Resolves once no read is on its way (so a mark unread sent after it cannot be overtaken by it). */
  idle(): Promise<void> {
    return this.#inflight ?? Promise.resolve();
  }

  /** Another room, or the page goes away: forget everything (except whether I am looking). */
  reset(): void {
    this.#generation++;
    this.#forget();
    this.#enabled = false;
    this.#held = false;
    this.#visible.timeline.clear();
    this.#visible.aside.clear();
    this.#lastSentAt = -Infinity;
    this.#retryAt = 0;
    this.#failures = 0;
    this.#inflight = null;
    this.#settleBusy();
  }

  #forget(): void {
    this.#timelineMax = 0;
    this.#asideSeen.clear();
    this.#sentMax = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#settleBusy();
  }

  #settleBusy(): void {
    this.#busy = this.#timer !== undefined || this.#inflight !== null;
  }

  #see(seq: number, place: Place): void {
    if (place === "timeline") this.#timelineMax = Math.max(this.#timelineMax, seq);
    else this.#asideSeen.add(seq);
  }

  /** Reading (again): everything on screen now counts as seen. */
  #resume(): void {
    if (!this.reading) return;
    for (const place of ["timeline", "aside"] as const) for (const seq of this.#visible[place].keys()) this.#see(seq, place);
    this.#schedule();
  }

  /** The read mark worth sending now, or 0 when there is none. */
  #target(): number {
    const floor = Math.max(this.#options.mark(), this.#sentMax);
    const { seqs, knownFrom } = this.#options.unread();
    let upTo = Math.max(floor, this.#timelineMax);
    // Aside items extend the mark only over unread items all seen, and only where every item is known.
    if (upTo >= knownFrom - 1) {
      for (const seq of seqs) {
        if (seq <= upTo) continue;
        if (!this.#asideSeen.has(seq)) break;
        upTo = seq;
      }
    }
    if (upTo <= floor) return 0;
    const unknown = floor + 1 < knownFrom;
    return unknown || seqs.some((seq) => seq > floor && seq <= upTo) ? upTo : 0;
  }

  /** Send as soon as the interval allows (one timer, one read in flight at most). */
  #schedule(): void {
    if (this.#timer !== undefined || this.#inflight) return;
    const wait = Math.max(this.#lastSentAt + this.#interval, this.#retryAt) - Date.now();
    if (this.#target() === 0 || !Number.isFinite(wait)) return this.#settleBusy();
    // Even "now" waits for the current task to end: rows that come on screen together make one read.
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#flush();
        this.#settleBusy();
      },
      Math.max(0, wait),
    );
    this.#settleBusy();
  }

  #flush(): void {
    const seq = this.#target();
    if (seq === 0) return;
    const generation = this.#generation;
    const before = this.#sentMax;
    this.#sentMax = seq;
    this.#lastSentAt = Date.now();
    this.#options.onsent?.(seq);
    this.#inflight = this.#options.send(seq).then(
      (readSeq) => {
        if (generation !== this.#generation) return;
        this.#failures = 0;
        this.#options.onanswer?.(readSeq);
      },
      (err: unknown) => {
        if (generation !== this.#generation) return;
        // Not sent after all: the same read (or a higher one) goes again once the wait is over.
        if (this.#sentMax === seq) this.#sentMax = before;
        this.#options.onfailed?.(seq);
        this.#retryAt = Date.now() + this.#retryDelay(err);
      },
    );
    void this.#inflight.then(() => {
      if (generation !== this.#generation) return;
      this.#inflight = null;
      this.#schedule();
    });
  }

  /** How long to wait after a failed read: what a 429 says; never again when the room is gone; else backing off. */
  #retryDelay(err: unknown): number {
    if (err instanceof ApiError && err.status === 429) return Math.max(this.#interval, (err.retryAfter ?? 1) * 1000);
    if (err instanceof ApiError && [401, 403, 404].includes(err.status)) return Infinity;
    this.#failures++;
    return Math.min(RETRY_MAX_MS, 1000 * 2 ** (this.#failures - 1));
  }
}
