/**
 * Threads (issue #15): a reply is a message with `thread_of`, its top-level
 * message's id — in the log like any message (its own seq, replayed), but
 * not in the room's main history or snapshot. The parent keeps its live
 * `reply_count` and `last_reply_at` (one row update per reply or deleted
 * reply), and each change is a `thread_updated` event with the new values.
 *
 * Who a reply counts for (unread): the parent's author, those who had
 * replied in the thread before it, and the members it mentions — not the
 * rest of the room. Taking part is remembered from a member's first reply
 * on (one `thread_participants` row, once; the parent's author needs none),
 * and never forgotten (also if that reply is deleted).
 *
 * Cost of a reply beyond a message's: the parent's row, the thread index
 * entry, the `thread_updated` event, and a participant row the first time.
 *
 * A file's comments (issue #16) are the thread on its timeline entry: the
 * same replies, audience and participants, with the file's id as
 * `thread_of`; the live count is kept on the room's `files` row and each
 * change is a `file_comment_added` / `file_comment_removed` event instead.
 */
import type { Sql } from "../lib/meter";

/** A thread's parent as the counts need it. */
export interface Parent {
  id: string;
  userId: string;
  /** What the thread hangs on: a top-level message (absent) or a shared file. */
  kind?: "message" | "file";
}

export interface ThreadCounts {
  replyCount: number;
  lastReplyAt: number | null;
}

export class Threads {
  constructor(private readonly sql: Sql) {}

  /** Who a reply at `seq` in `parent`'s thread counts for (its author is left out by the counts). */
  audience(parent: Parent, seq: number, mentioned: readonly string[]): Set<string> {
    const audience = new Set([parent.userId, ...mentioned]);
    for (const r of this.sql.exec<{ user_id: string }>("SELECT user_id FROM thread_participants WHERE parent_id = ? AND since_seq < ?", parent.id, seq)) {
      audience.add(r.user_id);
    }
    return audience;
  }

  /** `userId` replied at `seq`: a participant from then on (a row only the first time). */
  join(parent: Parent, userId: string, seq: number): void {
    if (userId === parent.userId) return;
    const known = this.sql.exec("SELECT 1 FROM thread_participants WHERE parent_id = ? AND user_id = ?", parent.id, userId).toArray().length > 0;
    if (!known) this.sql.exec("INSERT INTO thread_participants (parent_id, user_id, since_seq) VALUES (?, ?, ?)", parent.id, userId, seq);
  }

  /** A reply sent at `at` was stored. */
  replyAdded(parent: Parent, at: number): ThreadCounts {
    return this.#counts(
      `UPDATE ${table(parent)} SET reply_count = reply_count + 1, last_reply_at = MAX(COALESCE(last_reply_at, 0), ?2) WHERE id = ?1 RETURNING reply_count, last_reply_at`,
      parent.id,
      at,
    );
  }

  /** A reply was deleted (call after its `deleted_at` is set). */
  replyRemoved(parent: Parent): ThreadCounts {
    return this.#counts(
      `UPDATE ${table(parent)} SET reply_count = MAX(reply_count - 1, 0),
         last_reply_at = (SELECT MAX(created_at) FROM messages WHERE thread_of = ?1 AND deleted_at IS NULL)
       WHERE id = ?1 RETURNING reply_count, last_reply_at`,
      parent.id,
    );
  }

  /** The live comment counts of these files (absent: none, or not a file here). */
  fileCounts(fileIds: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    if (!fileIds.length) return out;
    for (const r of this.sql.exec<{ id: string; reply_count: number }>(
      "SELECT id, reply_count FROM files WHERE id IN (SELECT value FROM json_each(?)) AND deleted = 0 AND reply_count > 0",
      JSON.stringify(fileIds),
    )) {
      out[r.id] = r.reply_count;
    }
    return out;
  }

  #counts(query: string, ...bindings: unknown[]): ThreadCounts {
    const row = this.sql.exec<{ reply_count: number; last_reply_at: number | null }>(query, ...bindings).one();
    return { replyCount: row.reply_count, lastReplyAt: row.last_reply_at };
  }
}

/** The table holding a parent's counts (a constant, never input). */
const table = (parent: Parent): "messages" | "files" => (parent.kind === "file" ? "files" : "messages");
