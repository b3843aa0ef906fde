/**
 * What unread and mention counts are made of, and their derivation from the
 * log (room/members.ts keeps them in memory and adjusts them per event; the
 * functions here give the same numbers from storage alone).
 *
 * unread(u) = items (messages, uploads and new file versions) after u's cursor, not u's own, not
 * deleted — where a thread reply counts only for its audience: the parent's
 * author, whoever had replied in that thread before it (a participant from
 * their first reply on, room/threads.ts), and the members it mentions; a
 * comment on a file is a reply whose parent's author is the file's uploader.
 * mentions(u) = live messages after u's cursor that mention u (room/mentions.ts:
 * a deleted message keeps no mention rows, and the author is never mentioned).
 * A mention is therefore always also an unread item.
 */
import type { Sql } from "../lib/meter";

/** A countable item: a message or an upload, with who it counts for when that is not everyone. */
export interface Item {
  seq: number;
  userId: string;
  /** A thread reply: the only members it counts for (besides: never its author). Absent: everyone. */
  audience?: ReadonlySet<string>;
  /** The members it mentions (never its author). */
  mentioned?: readonly string[];
}

/** A member's two numbers. */
export interface CountPair {
  unread: number;
  mentions: number;
}

/** Every countable item after `seq`, in seq order, with the audiences of replies and the mentions (reads only). */
export function countables(sql: Sql, after: number): Item[] {
  const rows = sql
    .exec<{ seq: number; user_id: string; thread_of: string | null }>(
      `SELECT seq, user_id, thread_of FROM messages WHERE seq > ?1 AND deleted_at IS NULL
       UNION ALL SELECT seq, user_id, NULL FROM files WHERE seq > ?1 AND deleted = 0
       UNION ALL SELECT v.seq, v.user_id, NULL FROM file_versions v JOIN files f ON f.id = v.file_id WHERE v.seq > ?1 AND f.deleted = 0
       ORDER BY seq`,
      after,
    )
    .toArray();
  const mentioned = new Map<number, string[]>();
  for (const r of sql.exec<{ seq: number; user_id: string }>("SELECT seq, user_id FROM mentions WHERE seq > ? ORDER BY seq, user_id", after)) {
    const list = mentioned.get(r.seq);
    if (list) list.push(r.user_id);
    else mentioned.set(r.seq, [r.user_id]);
  }
  const threads = [...new Set(rows.flatMap((r) => (r.thread_of ? [r.thread_of] : [])))];
  const parentAuthor = new Map<string, string>();
  const participants = new Map<string, { userId: string; since: number }[]>();
  if (threads.length) {
    const ids = JSON.stringify(threads);
    // A parent is a message, or a file (its comments: the uploader is the parent's author).
    for (const p of sql.exec<{ id: string; user_id: string }>(
      "SELECT id, user_id FROM messages WHERE id IN (SELECT value FROM json_each(?1)) UNION ALL SELECT id, user_id FROM files WHERE id IN (SELECT value FROM json_each(?1))",
      ids,
    )) {
      parentAuthor.set(p.id, p.user_id);
    }
    for (const t of sql.exec<{ parent_id: string; user_id: string; since_seq: number }>(
      "SELECT parent_id, user_id, since_seq FROM thread_participants WHERE parent_id IN (SELECT value FROM json_each(?))",
      ids,
    )) {
      const list = participants.get(t.parent_id);
      const p = { userId: t.user_id, since: t.since_seq };
      if (list) list.push(p);
      else participants.set(t.parent_id, [p]);
    }
  }
  return rows.map((r): Item => {
    const item: Item = { seq: r.seq, userId: r.user_id };
    const m = mentioned.get(r.seq);
    if (m) item.mentioned = m;
    if (r.thread_of) {
      const audience = new Set<string>(m ?? []);
      const author = parentAuthor.get(r.thread_of);
      if (author !== undefined) audience.add(author);
      for (const p of participants.get(r.thread_of) ?? []) if (p.since < r.seq) audience.add(p.userId);
      item.audience = audience;
    }
    return item;
  });
}

/**
 * counts(cursor, user) over a sorted item list, each in O(log n): the
 * top-level items after the cursor minus the user's own, plus the replies
 * and mentions for the user after it.
 */
export function counter(items: Item[]): (cursor: number, userId: string) => CountPair {
  const everyone: number[] = [];
  const own = new Map<string, number[]>();
  const replies = new Map<string, number[]>();
  const mentions = new Map<string, number[]>();
  const push = (map: Map<string, number[]>, key: string, seq: number) => {
    const list = map.get(key);
    if (list) list.push(seq);
    else map.set(key, [seq]);
  };
  for (const i of items) {
    if (i.audience) {
      for (const u of i.audience) if (u !== i.userId) push(replies, u, i.seq);
    } else {
      everyone.push(i.seq);
      push(own, i.userId, i.seq);
    }
    for (const u of i.mentioned ?? []) push(mentions, u, i.seq);
  }
  const after = (sorted: number[] | undefined, cursor: number) => (sorted ? sorted.length - upperBound(sorted, cursor) : 0);
  return (cursor, userId) => ({
    unread: after(everyone, cursor) - after(own.get(userId), cursor) + after(replies.get(userId), cursor),
    mentions: after(mentions.get(userId), cursor),
  });
}

/** One member's unread count from storage, reading only what lies after the cursor. */
export function unreadAfter(sql: Sql, cursor: number, userId: string): number {
  return sql
    .exec<{ n: number }>(
      `SELECT (SELECT COUNT(*) FROM messages m WHERE m.seq > ?1 AND m.user_id != ?2 AND m.deleted_at IS NULL AND (
                 m.thread_of IS NULL
                 OR EXISTS (SELECT 1 FROM messages p WHERE p.id = m.thread_of AND p.user_id = ?2)
                 OR EXISTS (SELECT 1 FROM files p WHERE p.id = m.thread_of AND p.user_id = ?2)
                 OR EXISTS (SELECT 1 FROM thread_participants t WHERE t.parent_id = m.thread_of AND t.user_id = ?2 AND t.since_seq < m.seq)
                 OR EXISTS (SELECT 1 FROM mentions x WHERE x.seq = m.seq AND x.user_id = ?2)))
            + (SELECT COUNT(*) FROM files WHERE seq > ?1 AND user_id != ?2 AND deleted = 0)
            + (SELECT COUNT(*) FROM file_versions v JOIN files f ON f.id = v.file_id WHERE v.seq > ?1 AND v.user_id != ?2 AND f.deleted = 0) AS n`,
      cursor,
      userId,
    )
    .one().n;
}

/** One member's mention count from storage. */
export function mentionsAfter(sql: Sql, cursor: number, userId: string): number {
  return sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM mentions WHERE seq > ? AND user_id = ?", cursor, userId).one().n;
}

/** The index of the first element greater than `x`. */
function upperBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
