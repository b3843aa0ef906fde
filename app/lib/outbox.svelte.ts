/**
 * My messages that are not stored yet: shown at once as optimistic copies,
 * resent with the same `clientId` until the room acknowledges them (the
 * server never stores a `clientId` twice), or marked failed for the user to
 * retry or discard. The room socket owns one per open room. Thread replies
 * (and a file's comments) wait here too, with their `threadOf`: the main
 * timeline shows {@link Outbox.main}, a thread panel {@link Outbox.inThread}.
 */

import type { ClientFrame } from "#protocol";

/** The `send` frame of an entry (with its thread, if a reply). */
export const sendFrameOf = (entry: OutboxEntry): ClientFrame =>
  entry.threadOf ? { type: "send", clientId: entry.clientId, text: entry.text, threadOf: entry.threadOf } : { type: "send", clientId: entry.clientId, text: entry.text };

/** "pending": on its way (or waiting for a connection / a rate-limit pause); "failed": refused, needs the user. */
export type OutboxState = "pending" | "failed";

/** One unsent (or unacknowledged) message. */
export interface OutboxEntry {
  /** The UUID that makes the send idempotent; kept across retries. */
  readonly clientId: string;
  /** The text as it will be stored (trimmed). */
  readonly text: string;
  /** When I pressed Send (ms since epoch; local clock). */
  readonly createdAt: number;
  readonly state: OutboxState;
  /** Why it failed (a sentence for the user), when `state` is "failed". */
  readonly error: string | null;
  /** While rate-limited: don't resend before this time (ms since epoch). */
  readonly retryAt: number | null;
  /** Acknowledged as stored at this seq, but that event is not applied yet. */
  readonly ackedSeq: number | null;
  /** A reply in this message's (or file's) thread; absent or null: a top-level message. */
  readonly threadOf?: string | null;
}

/** Keeps an outbox's entries across a reload (app/lib/outbox-store.ts). */
export interface OutboxStore {
  load(): Promise<OutboxEntry[]>;
  /** Save the whole list (fire and forget; saves apply in call order). */
  save(entries: readonly OutboxEntry[]): void;
}

/** The outbox of one room, in the order the messages were written. */
export class Outbox {
  #list = $state.raw<OutboxEntry[]>([]);
  readonly #resend: (entry: OutboxEntry) => void;
  readonly #newId: () => string;
  readonly #store: OutboxStore | undefined;
  /** Ends the earliest rate-limit pause. */
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param resend sends an entry again when its rate-limit pause is over.
   * @param newId makes client ids (UUIDs).
   * @param store keeps the entries across a reload: every change is saved
   *   to it, and {@link Outbox.restored} brings the saved ones back (R18).
   */
  constructor(resend: (entry: OutboxEntry) => void, newId: () => string = () => crypto.randomUUID(), store?: OutboxStore) {
    this.#resend = resend;
    this.#newId = newId;
    this.#store = store;
    this.restored = store ? this.#restore(store) : Promise.resolve([]);
  }

  /**
   * Resolves once the entries saved by an earlier page are back (before any
   * written since), with those restored: the owner sends the pending ones.
   */
  readonly restored: Promise<OutboxEntry[]>;

  async #restore(store: OutboxStore): Promise<OutboxEntry[]> {
    const saved = (await store.load()).filter((s) => !this.#list.some((e) => e.clientId === s.clientId));
    if (saved.length) this.#entries = [...saved, ...this.#list];
    return saved;
  }

  /** Whether anything is not stored yet (for a "leave the page?" warning). */
  get unsent(): boolean {
    return this.#list.length > 0;
  }

  get #entries(): OutboxEntry[] {
    return this.#list;
  }

  set #entries(entries: OutboxEntry[]) {
    this.#list = entries;
    this.#store?.save(entries);
  }

  /** Every entry, oldest first. */
  get entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  /** The top-level messages, oldest first (what the main timeline shows). */
  get main(): readonly OutboxEntry[] {
    return this.#entries.filter((e) => !e.threadOf);
  }

  /** The replies waiting in one thread, oldest first. */
  inThread(parentId: string): readonly OutboxEntry[] {
    return this.#entries.filter((e) => e.threadOf === parentId);
  }

  /** The entry with this client id, if any. */
  get(clientId: string): OutboxEntry | undefined {
    return this.#entries.find((e) => e.clientId === clientId);
  }

  /** Queue a new message (already validated and trimmed), or with `threadOf` a reply in that thread. */
  add(text: string, now = Date.now(), threadOf: string | null = null): OutboxEntry {
    const entry: OutboxEntry = {
      ...(threadOf ? { threadOf } : {}),
      clientId: this.#newId(),
      text,
      createdAt: now,
      state: "pending",
      error: null,
      retryAt: null,
      ackedSeq: null,
    };
    this.#entries = [...this.#entries, entry];
    return entry;
  }

  /** Change fields of one entry. Returns the updated entry, or undefined if it is gone. */
  update(clientId: string, changes: Partial<Omit<OutboxEntry, "clientId" | "text" | "createdAt">>): OutboxEntry | undefined {
    let updated: OutboxEntry | undefined;
    this.#entries = this.#entries.map((e) => (e.clientId === clientId ? (updated = { ...e, ...changes }) : e));
    return updated;
  }

  /** Forget an entry (it was stored, or the user discarded it). Returns whether it was there. */
  remove(clientId: string): boolean {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => e.clientId !== clientId);
    return this.#entries.length !== before;
  }

  /** Hold an entry back for `ms` (the server said `rate_limited`); it is resent when the pause is over. */
  pause(clientId: string, ms: number, now = Date.now()): void {
    if (this.update(clientId, { retryAt: now + ms })) this.#schedulePauses(now);
  }

  /** Cancel the pause timer (leaving the page). Entries stay as they are. */
  dispose(): void {
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
  }

  #schedulePauses(now = Date.now()): void {
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    const next = Math.min(...this.#entries.map((e) => e.retryAt ?? Infinity));
    if (next === Infinity) return;
    this.#pauseTimer = setTimeout(() => this.#endPauses(), Math.max(0, next - now));
  }

  #endPauses(now = Date.now()): void {
    const due = this.#entries.filter((e) => e.retryAt !== null && e.retryAt <= now).map((e) => e.clientId);
    for (const clientId of due) {
      const entry = this.update(clientId, { retryAt: null });
      if (entry?.state === "pending") this.#resend(entry);
    }
    this.#schedulePauses(now);
  }

  /**
   * Drop every entry whose message is stored: acknowledged at a seq the room
   * has reached, or `isStored` says the room has it (e.g. in a fresh snapshot).
   */
  settle(roomSeq: number, isStored: (clientId: string) => boolean = () => false): void {
    const keep = this.#entries.filter((e) => !(e.ackedSeq !== null && e.ackedSeq <= roomSeq) && !isStored(e.clientId));
    if (keep.length !== this.#entries.length) this.#entries = keep;
  }

  /** Entries to (re)send now: pending, not acknowledged, and not paused by a rate limit. */
  sendable(now = Date.now()): OutboxEntry[] {
    return this.#entries.filter((e) => e.state === "pending" && e.ackedSeq === null && (e.retryAt === null || e.retryAt <= now));
  }
}
