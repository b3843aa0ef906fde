/**
 * Showing one message of a room's list on request (a search hit, `?at=<seq>`):
 * page older messages in until it is loaded (at most {@link REVEAL_PAGES}),
 * scroll it to the middle, and mark it for {@link HIGHLIGHT_MS}.
 */
import { tick } from "svelte";

/** Pages fetched at most to reach the message (100 messages each). */
export const REVEAL_PAGES = 20;
/** How long the revealed message stays marked. */
export const HIGHLIGHT_MS = 4_000;

/** What revealing needs of the room. */
export interface Pageable {
  readonly id: string;
  readonly hasMore: boolean;
  readonly olderError: string | null;
  readonly messages: readonly { seq: number }[];
  loadOlder(): Promise<void>;
}

export class ListReveal {
  /** The message marked right now (its seq), or null. */
  highlighted = $state<number | null>(null);

  constructor(
    private readonly room: () => Pageable,
    private readonly list: () => HTMLElement | undefined,
  ) {}

  /** Bring `seq` in and show it, unless room `id` was left meanwhile. Answers whether it was found. */
  async reveal(seq: number, id: string): Promise<boolean> {
    const room = this.room();
    for (let i = 0; i < REVEAL_PAGES && room.hasMore && (room.messages[0]?.seq ?? 0) > seq; i++) {
      await room.loadOlder();
      await tick();
      if (room.id !== id || room.olderError) return false;
    }
    const row = this.list()?.querySelector<HTMLElement>(`:scope > [data-seq="${seq}"]`);
    if (!row) return false;
    row.scrollIntoView({ block: "center" });
    this.highlighted = seq;
    setTimeout(() => {
      if (this.highlighted === seq) this.highlighted = null;
    }, HIGHLIGHT_MS);
    return true;
  }
}
