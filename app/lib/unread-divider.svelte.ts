/**
 * Where the "New messages" divider sits in an open room. It is placed once
 * when the room opens — above the first unread item — and then stays put
 * while reading moves the mark on and new messages arrive, so I can still
 * see where the news began; leaving the room forgets it. Only my explicit
 * moves of the mark place it anew: "mark unread from here" puts it above
 * that item, "mark all as read" takes it away. When no divider shows and
 * something arrives that I am not reading at once (I am away, or scrolled
 * up), it goes above that.
 *
 * The divider is kept as a seq (`after`): it goes above the first item after
 * it that could be unread for me, so it finds its row again when older
 * messages page in above or a message after it is deleted.
 */
import type { Row } from "./message-rows.ts";

export class UnreadDivider {
  #after = $state<number | null>(null);
  #placed = false;

  /** The divider goes above the first unread-able item with a higher seq than this; null: no divider. */
  get after(): number | null {
    return this.#after;
  }

  /** Whether it was placed for this visit of the room. */
  get placed(): boolean {
    return this.#placed;
  }

  /** The room opened (once per visit; later calls do nothing): above the first unread item, if there is one. */
  place(readSeq: number, anyUnread: boolean): void {
    if (this.#placed) return;
    this.#placed = true;
    this.#after = anyUnread ? readSeq : null;
  }

  /** Something arrived that I am not reading at once: mark where the news start, unless a divider shows already. */
  arrived(readSeq: number): void {
    if (this.#after === null) this.#after = readSeq;
  }

  /** I marked unread from `seq` on. */
  unreadFrom(seq: number): void {
    this.#after = seq - 1;
  }

  /** I marked everything read. */
  clear(): void {
    this.#after = null;
  }

  /** I left the room (or another one opened). */
  reset(): void {
    this.#placed = false;
    this.#after = null;
  }
}

/** The seq of the row the divider goes above: the first message (not deleted) or file after `after` that someone else wrote. */
export function dividerRow(rows: readonly Row[], after: number | null, me: string): number | undefined {
  if (after === null) return undefined;
  for (const row of rows) {
    if (row.kind === "message" && row.message.seq > after && row.message.userId !== me && row.message.text !== null) return row.message.seq;
    if (row.kind === "file" && row.file.seq > after && row.file.uploader_id !== me) return row.file.seq;
  }
  return undefined;
}
