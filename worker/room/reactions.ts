/**
 * Reactions (issue #15): one row per user, emoji and message — the primary
 * key makes adding twice or removing what is not there a no-op. A reaction
 * is also a room event (`reaction_added` / `reaction_removed`, with the
 * room's next seq), so a reconnecting client replays it; it is not an
 * unread item. Messages leaving the room (history, snapshots, replays)
 * carry their reactions, read in one query per page.
 *
 * Cost: a reaction writes its row and its event (plus the replay window's
 * prune); a message's deletion deletes its reactions.
 */
import type { Sql } from "../lib/meter";
import type { Message, Reaction } from "#protocol";

export class Reactions {
  constructor(private readonly sql: Sql) {}

  has(messageId: string, emoji: string, userId: string): boolean {
    return this.sql.exec("SELECT 1 FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?", messageId, emoji, userId).toArray().length > 0;
  }

  /** How many different emoji the message has. */
  emojiCount(messageId: string): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(DISTINCT emoji) AS n FROM reactions WHERE message_id = ?", messageId).one().n;
  }

  /** Add (the caller checked it is new). Inside the write's transaction. */
  add(messageId: string, emoji: string, userId: string, now: number): void {
    this.sql.exec("INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES (?, ?, ?, ?)", messageId, emoji, userId, now);
  }

  remove(messageId: string, emoji: string, userId: string): void {
    this.sql.exec("DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?", messageId, emoji, userId);
  }

  /** A deleted message keeps no reactions. */
  removeAll(messageId: string): void {
    this.sql.exec("DELETE FROM reactions WHERE message_id = ?", messageId);
  }

  /** One message's reactions. */
  of(messageId: string): Reaction[] {
    return this.#read([messageId]).get(messageId) ?? [];
  }

  /** The same messages with their reactions (one query for the lot). */
  attach(messages: Message[]): Message[] {
    if (!messages.length) return messages;
    const byMessage = this.#read(messages.map((m) => m.id));
    return messages.map((m) => ({ ...m, reactions: byMessage.get(m.id) ?? [] }));
  }

  #read(ids: string[]): Map<string, Reaction[]> {
    const rows = this.sql
      .exec<{ message_id: string; emoji: string; user_id: string }>(
        `SELECT message_id, emoji, user_id FROM reactions
         WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, user_id`,
        JSON.stringify(ids),
      )
      .toArray();
    const out = new Map<string, Reaction[]>();
    for (const r of rows) {
      let list = out.get(r.message_id);
      if (!list) out.set(r.message_id, (list = []));
      let chip = list.find((x) => x.emoji === r.emoji);
      if (!chip) list.push((chip = { emoji: r.emoji, count: 0, userIds: [] }));
      chip.count++;
      chip.userIds.push(r.user_id);
    }
    return out;
  }
}
