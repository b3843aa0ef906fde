/**
 * Read receipts of one room: how far each member has read (`upTo`, a seq),
 * from the snapshot and then from the room socket's `message_read` frames and
 * the `receipts` frame it sends on every (re)connect. Receipts are not stored
 * events: they carry no `seq` of their own and never move the room's `seq`;
 * each simply states a member's cursor now. My own cursor is
 * {@link ReadState.readSeq}; a message of someone else's with a higher seq is
 * unread for me.
 *
 * My own reads show at once, before the room confirms them. Until it does,
 * a receipt of mine with a lower `upTo` is taken for one still on its way
 * from an earlier read (reads go out every half second while scrolling), not
 * for a move back — unless it comes {@link STALE_MS} later, or I marked
 * unread myself ({@link ReadState.allowBack}).
 */
import type { Receipt } from "#protocol";

/** How long my own read, not yet confirmed, outranks a lower receipt of mine. */
export const STALE_MS = 3_000;

export class ReadState {
  #upTo = $state.raw<Record<string, Receipt>>({});
  #me = $state("");
  /** My read shown before the room confirmed it, and when (ms since epoch). */
  #pending = $state.raw<{ seq: number; at: number } | null>(null);

  /** My read cursor in this room (0 before anything is known), my unconfirmed reads included. */
  get readSeq(): number {
    const server = this.#upTo[this.#me]?.upTo ?? 0;
    return this.#pending ? Math.max(server, this.#pending.seq) : server;
  }

  /** Every member's receipt. */
  get receipts(): Receipt[] {
    return Object.values(this.#upTo);
  }

  /** Start over from a snapshot's receipts. */
  reset(receipts: Receipt[], me: string): void {
    this.#me = me;
    this.#pending = null;
    this.#upTo = Object.fromEntries(receipts.map((r) => [r.userId, r]));
  }

  /** A `message_read` frame: the member's cursor is now exactly `upTo` (it may move back: "mark unread"). */
  apply(receipt: Receipt): void {
    this.#settle(receipt);
    this.#upTo = { ...this.#upTo, [receipt.userId]: receipt };
  }

  /** A `receipts` frame (on reconnect): the cursors that moved while this tab was not listening. */
  applyAll(receipts: readonly Receipt[]): void {
    if (receipts.length === 0) return;
    const next = { ...this.#upTo };
    for (const r of receipts) {
      this.#settle(r);
      next[r.userId] = r;
    }
    this.#upTo = next;
  }

  /** I am about to mark unread: the receipt that answers it moves my cursor back. */
  allowBack(): void {
    this.#pending = null;
  }

  /** My read up to `seq` failed: show the cursor the room last confirmed. */
  retract(seq: number): void {
    if (this.#pending?.seq === seq) this.#pending = null;
  }

  /** A member left the room: stop showing where they had read to. */
  forget(userId: string): void {
    if (!(userId in this.#upTo)) return;
    const next = { ...this.#upTo };
    delete next[userId];
    this.#upTo = next;
  }

  /**
   * Someone posted at `seq`: the server moved their cursor past their own
   * message without an event, so do the same here. Also used optimistically
   * when I mark something read (never moves a cursor back); mine stays
   * pending until a receipt of mine confirms it (see the module comment).
   */
  advance(userId: string, username: string, seq: number): void {
    if (userId === this.#me) {
      if (seq > this.readSeq) this.#pending = { seq, at: Date.now() };
      return;
    }
    const cur = this.#upTo[userId];
    if (cur && cur.upTo >= seq) return;
    this.apply({ userId, username: cur?.username ?? username, upTo: seq });
  }

  /** A receipt of mine confirms my pending read when it reaches it, or when the read is old enough to trust the room instead. */
  #settle(receipt: Receipt): void {
    const pending = this.#pending;
    if (receipt.userId !== this.#me || !pending) return;
    if (receipt.upTo >= pending.seq || Date.now() - pending.at > STALE_MS) this.#pending = null;
  }

  /** Whether a message at `seq` by `authorId` is unread for me. */
  isUnread(seq: number, authorId: string): boolean {
    return authorId !== this.#me && seq > this.readSeq;
  }
}
