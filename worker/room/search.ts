/**
 * Message search in one room (issue #15): the FTS5 index `messages_fts`
 * (migration 5), an external-content index over `messages.text` keyed by seq.
 * The query is never the user's text: lib/search-query.ts turns it into
 * quoted terms, so FTS5 operators, quotes and `*` are plain words.
 *
 * Cost: FTS5 writes its own pages at every commit that touched it — about 6
 * rows of its shadow tables for a message indexed alone, 4 for 100 indexed
 * together (measured in test/worker/search.test.ts). So messages are indexed
 * in batches: everything after `meta.indexed_upto` is indexed in one
 * statement when BATCH are waiting (inside that message's transaction) and
 * before every search, so a search always sees every message. An edit or
 * deletion of an indexed message replaces or removes its entry at once; of
 * one still waiting, nothing (the batch reads the text as it is then, and
 * skips deleted messages). A deleted message is never found, and its words
 * leave the index with its text.
 */
import type { Sql } from "../lib/meter";
import type { SearchHit } from "#protocol";

/** Marks around a match in FTS5's snippet (private-use characters: split out before anything leaves). */
const OPEN = "\uE000";
const CLOSE = "\uE001";
/** Tokens of context in a snippet. */
const SNIPPET_TOKENS = 16;
/** Messages waiting before they are indexed in the write path. */
export const INDEX_BATCH = 64;

type HitRow = { seq: number; id: string; user_id: string; username: string; created_at: number; thread_of: string | null; snip: string };

export class MessageIndex {
  /** Messages with seq ≤ this are indexed; undefined until read. */
  #upTo: number | undefined;
  /** Messages after #upTo (live or not), undefined until counted. */
  #waiting: number | undefined;

  constructor(private readonly sql: Sql) {}

  /** Forget (after a failed transaction). */
  invalidate(): void {
    this.#upTo = undefined;
    this.#waiting = undefined;
  }

  #indexedUpTo(): number {
    this.#upTo ??= Number(this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'indexed_upto'").toArray()[0]?.value ?? 0);
    return this.#upTo;
  }

  /** A message was stored at `seq` (inside its transaction): index the batch when it is full. */
  added(seq: number): void {
    this.#waiting ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE seq > ?", this.#indexedUpTo()).one().n - 1;
    this.#waiting++;
    if (this.#waiting >= INDEX_BATCH) this.catchUp(seq);
  }

  /** A message's text is about to change from `old` (to another text, or to none when deleted). */
  changing(seq: number, old: string): void {
    if (seq <= this.#indexedUpTo()) this.sql.exec("INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?, ?)", seq, old);
  }

  /** A message's text changed to `text`: re-index it if it was indexed. */
  changed(seq: number, text: string): void {
    if (seq <= this.#indexedUpTo()) this.sql.exec("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", seq, text);
  }

  /** Whether messages wait to be indexed (a search catches up first). */
  get behind(): boolean {
    return this.#waiting !== 0;
  }

  /** Index every live message after the mark, up to `head` (inside a write transaction). */
  catchUp(head: number): void {
    const from = this.#indexedUpTo();
    if (head > from) {
      this.sql.exec("INSERT INTO messages_fts (rowid, text) SELECT seq, text FROM messages WHERE seq > ? AND seq <= ? AND text IS NOT NULL", from, head);
      this.sql.exec("INSERT INTO meta (key, value) VALUES ('indexed_upto', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", head);
      this.#upTo = head;
    }
    this.#waiting = 0;
  }

  /** Newest first: at most `limit` live messages matching the FTS5 expression `match`, older than `before` (a seq). Call catchUp first. */
  search(match: string, limit: number, before = Number.MAX_SAFE_INTEGER): Omit<SearchHit, "roomId">[] {
    const rows = this.sql
      .exec<HitRow>(
        `SELECT m.seq, m.id, m.user_id, m.username, m.created_at, m.thread_of,
                snippet(messages_fts, 0, ?1, ?2, '…', ?3) AS snip
         FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
         WHERE messages_fts MATCH ?4 AND messages_fts.rowid < ?5 AND m.deleted_at IS NULL
         ORDER BY messages_fts.rowid DESC LIMIT ?6`,
        OPEN,
        CLOSE,
        SNIPPET_TOKENS,
        match,
        before,
        limit,
      )
      .toArray();
    return rows.map((r) => {
      const parts = snippetParts(r.snip);
      return {
        seq: r.seq,
        messageId: r.id,
        userId: r.user_id,
        username: r.username,
        createdAt: r.created_at,
        threadOf: r.thread_of,
        snippet: parts.map((p) => p.text).join(""),
        parts,
      };
    });
  }
}

/** "a \uE000b\uE001 c" → [{a, false}, {b, true}, {c, false}] (empty parts dropped). */
export function snippetParts(snip: string): { text: string; hit: boolean }[] {
  const parts: { text: string; hit: boolean }[] = [];
  for (const [i, chunk] of snip.split(OPEN).entries()) {
    const [inside, after] = i === 0 ? [undefined, chunk] : splitOnce(chunk, CLOSE);
    if (inside) parts.push({ text: inside, hit: true });
    if (after) parts.push({ text: after.replaceAll(CLOSE, ""), hit: false });
  }
  return parts;
}

function splitOnce(s: string, sep: string): [string, string] {
  const at = s.indexOf(sep);
  return at < 0 ? [s, ""] : [s.slice(0, at), s.slice(at + sep.length)];
}
