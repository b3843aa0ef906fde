/**
 * Read receipts of one room: how far each member has read (`upTo`, a seq),
 * from the snapshot and then from the room socket's `message_read` frames and
 * the `receipts` frame it sends on every (re)connect. Receipts are not stored
 * events: they carry no `seq` of their own and never move the room's `seq`;
 * each simply states a member's cursor now. My own cursor is
 * {@link ReadState.readSeq}; a message of someone else's with a higher seq is
 * unread for me.
 */
import type { Receipt } from "#protocol";

export class ReadState {
  #upTo = $state.raw<Record<string, Receipt>>({});
  #me = $state("");

  /** My read cursor in this room (0 before anything is known). */
  get readSeq(): number {
    return this.#upTo[this.#me]?.upTo ?? 0;
  }

  /** Every member's receipt. */
  get receipts(): Receipt[] {
    return Object.values(this.#upTo);
  }

  /** Start over from a snapshot's receipts. */
  reset(receipts: Receipt[], me: string): void {
    this.#me = me;
    this.#upTo = Object.fromEntries(receipts.map((r) => [r.userId, r]));
  }

  /** A `message_read` frame: the member's cursor is now exactly `upTo` (it may move back: "mark unread"). */
  apply(receipt: Receipt): void {
    this.#upTo = { ...this.#upTo, [receipt.userId]: receipt };
  }

  /** A `receipts` frame (on reconnect): the cursors that moved while this tab was not listening. */
  applyAll(receipts: readonly Receipt[]): void {
    if (receipts.length === 0) return;
    const next = { ...this.#upTo };
    for (const r of receipts) next[r.userId] = r;
    this.#upTo = next;
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
   * when I mark something read (never moves a cursor back).
   */
  advance(userId: string, username: string, seq: number): void {
    const cur = this.#upTo[userId];
    if (cur && cur.upTo >= seq) return;
    this.apply({ userId, username: cur?.username ?? username, upTo: seq });
  }

  /** Whether a message at `seq` by `authorId` is unread for me. */
  isUnread(seq: number, authorId: string): boolean {
    return authorId !== this.#me && seq > this.readSeq;
  }
}
