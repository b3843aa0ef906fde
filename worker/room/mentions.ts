/**
 * Mentions (issue #15): one row per mentioned member per message, keyed by
 * the message's seq. Who counts as mentioned is decided when the message is
 * sent, and again when it is edited (`countedMentions` in #protocol:
 * `<@userId>` tokens naming current members other than the author, each
 * once, at most LIMITS.mentionsPerMessage). A deleted message keeps none.
 *
 * Cost: k rows for a message that mentions k members (k ≤ 50), whatever the
 * room's size; an edit writes only the rows whose mention changed.
 */
import type { Sql } from "../lib/meter";

export class Mentions {
  constructor(private readonly sql: Sql) {}

  /** Who the message at `seq` mentions, as stored. */
  of(seq: number): string[] {
    return this.sql.exec<{ user_id: string }>("SELECT user_id FROM mentions WHERE seq = ? ORDER BY user_id", seq).toArray().map((r) => r.user_id);
  }

  /** Store the mentions of a new message (inside its transaction). */
  add(seq: number, userIds: readonly string[]): void {
    for (const id of userIds) this.sql.exec("INSERT INTO mentions (seq, user_id) VALUES (?, ?)", seq, id);
  }

  /** Make the message's mentions `next` (an edit); answers the mentions before. Only rows that change are written. */
  replace(seq: number, next: readonly string[]): string[] {
    const before = this.of(seq);
    const want = new Set(next);
    for (const id of before) if (!want.has(id)) this.sql.exec("DELETE FROM mentions WHERE seq = ? AND user_id = ?", seq, id);
    const had = new Set(before);
    this.add(seq, next.filter((id) => !had.has(id)));
    return before;
  }

  /** A deleted message mentions nobody. */
  removeAll(seq: number): void {
    this.sql.exec("DELETE FROM mentions WHERE seq = ?", seq);
  }
}

/** Whether two mention lists name the same members. */
export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((id) => set.has(id));
}
