/**
 * Read cursors and unread counts, kept by the Room in its SQLite.
 *
 * unread(user) = countable items (messages, and file uploads) with
 * seq > read_seq, not sent by that user, not deleted. The `members.unread`
 * column holds exactly that number, maintained inside the same transaction as
 * the event that changes it with set-based statements (never one per member),
 * and recounted from the log whenever a cursor moves. Every change is queued
 * in `count_outbox` (durable) for the UserHub shards; see Room.flushCounts.
 */

export const READ_SCHEMA = `
CREATE TABLE IF NOT EXISTS count_outbox (
  user_id TEXT PRIMARY KEY,
  n INTEGER NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** One member's new count, with the outbox version it was queued at (newer wins at the hub). */
export interface CountUpdate {
  userId: string;
  n: number;
  version: number;
}

export class ReadState {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(READ_SCHEMA);
  }

  /** Unread items (messages and files) for one member, straight from the log. */
  recount(userId: string): number {
    const row = this.sql
      .exec<{ n: number }>(
        `SELECT
           (SELECT COUNT(*) FROM messages x WHERE x.seq > m.read_seq AND x.user_id != m.user_id AND x.deleted_at IS NULL)
         + (SELECT COUNT(*) FROM files f WHERE f.seq > m.read_seq AND f.user_id != m.user_id AND f.deleted = 0) AS n
         FROM members m WHERE m.user_id = ?`,
        userId,
      )
      .one();
    return row.n;
  }

  /** A countable item by `authorId` was stored at `seq`: one more for every other member. */
  itemAdded(authorId: string, seq: number): void {
    this.sql.exec("UPDATE members SET unread = unread + 1 WHERE user_id != ? AND read_seq < ?", authorId, seq);
    this.queueWhere("user_id != ? AND read_seq < ?", authorId, seq);
  }

  /** A countable item at `seq` by `authorId` was deleted: one fewer for those who had not read it. */
  itemRemoved(authorId: string, seq: number): void {
    this.sql.exec("UPDATE members SET unread = MAX(0, unread - 1) WHERE user_id != ? AND read_seq < ?", authorId, seq);
    this.queueWhere("user_id != ? AND read_seq < ?", authorId, seq);
  }

  /**
   * Move a member's cursor to `seq`. Forward only, unless `back` (an explicit
   * "mark unread"). Returns whether it moved.
   */
  moveCursor(userId: string, seq: number, back: boolean): boolean {
    const cur = this.sql.exec<{ read_seq: number }>("SELECT read_seq FROM members WHERE user_id = ?", userId).toArray()[0];
    if (!cur) return false;
    if (seq === cur.read_seq || (!back && seq < cur.read_seq) || (back && seq > cur.read_seq)) return false;
    this.sql.exec("UPDATE members SET read_seq = ? WHERE user_id = ?", seq, userId);
    this.sql.exec("UPDATE members SET unread = ? WHERE user_id = ?", this.recount(userId), userId);
    return true;
  }

  /** Queue one member's current count (after a cursor move, or on joining). */
  queueMember(userId: string): void {
    this.queueWhere("user_id = ?", userId);
  }

  /**
   * The outbox's own version counter: every queueing gets a higher number than
   * any before it, so "delivered up to version v" is exact, and the hubs'
   * newest-wins rule holds per (user, room).
   */
  private nextVersion(): number {
    return this.sql
      .exec<{ v: number }>(
        `INSERT INTO meta (key, value) VALUES ('outbox_version', 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value AS v`,
      )
      .one().v;
  }

  private queueWhere(where: string, ...args: SqlStorageValue[]): void {
    this.sql.exec(
      `INSERT INTO count_outbox (user_id, n, version) SELECT user_id, unread, ? FROM members WHERE ${where}
       ON CONFLICT (user_id) DO UPDATE SET n = excluded.n, version = excluded.version`,
      this.nextVersion(),
      ...args,
    );
  }

  /** Queue a zero for someone who left, so their badge drops the room. */
  queueGone(userId: string): void {
    this.sql.exec(
      `INSERT INTO count_outbox (user_id, n, version) VALUES (?, 0, ?)
       ON CONFLICT (user_id) DO UPDATE SET n = 0, version = excluded.version`,
      userId,
      this.nextVersion(),
    );
  }

  /** Everything waiting to reach the hubs. */
  pending(): CountUpdate[] {
    return this.sql
      .exec<{ user_id: string; n: number; version: number }>("SELECT user_id, n, version FROM count_outbox")
      .toArray()
      .map((r) => ({ userId: r.user_id, n: r.n, version: r.version }));
  }

  /**
   * The hubs have these: forget them, unless a newer version was queued
   * meanwhile (it has a higher version than anything delivered). Set-based:
   * the id list becomes one lookup table, not a scan per row.
   */
  delivered(updates: CountUpdate[]): void {
    if (!updates.length) return;
    const upTo = updates.reduce((m, u) => Math.max(m, u.version), 0);
    this.sql.exec(
      "DELETE FROM count_outbox WHERE version <= ? AND user_id IN (SELECT value FROM json_each(?))",
      upTo,
      JSON.stringify(updates.map((u) => u.userId)),
    );
  }
}
