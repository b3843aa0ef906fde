/**
 * The Room object's SQLite schema, as numbered append-only migrations
 * (lib/sql-migrations.ts). Never edit a shipped migration: add the next.
 */

/** 1 — the first version (rooms created before the cost rework have exactly this). */
const V1 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, user_id TEXT NOT NULL, username TEXT NOT NULL,
  client_id TEXT NOT NULL, text TEXT, created_at INTEGER NOT NULL, edited_at INTEGER, deleted_at INTEGER
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_client ON messages (user_id, client_id);
CREATE TABLE IF NOT EXISTS members (
  user_id TEXT PRIMARY KEY, username TEXT NOT NULL DEFAULT '', role TEXT NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0, unread INTEGER NOT NULL DEFAULT 0 CHECK (unread >= 0)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rate (user_id TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity (
  user_id TEXT NOT NULL, activity TEXT NOT NULL, username TEXT NOT NULL, until INTEGER NOT NULL,
  PRIMARY KEY (user_id, activity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, user_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS count_outbox (user_id TEXT PRIMARY KEY, n INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
`;

/**
 * 2 — cost does not grow with the room (issue #8):
 * - members keep only their cursor (no stored unread count, no count outbox):
 *   counts are derived from the log and cached in memory;
 * - messages are their own log entries (replayed from `messages`), so the
 *   \`events\` table holds only the other events, and receipts leave the log;
 * - rate limits move to memory (lib/rate.ts);
 * - hub notices (room added / removed / renamed) get a small durable outbox.
 */
const V2 = `
DROP TABLE IF EXISTS count_outbox;
DROP TABLE IF EXISTS rate;
DELETE FROM events WHERE type IN ('message', 'message_read');
CREATE TABLE members_v2 (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  role TEXT NOT NULL,
  joined_at INTEGER NOT NULL DEFAULT 0,
  read_seq INTEGER NOT NULL DEFAULT 0,
  read_version INTEGER NOT NULL DEFAULT 0,
  read_head INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO members_v2 (user_id, username, role, read_seq, read_head) SELECT user_id, username, role, read_seq, read_seq FROM members;
DROP TABLE members;
ALTER TABLE members_v2 RENAME TO members;
CREATE TABLE notices (id INTEGER PRIMARY KEY, shard TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX notices_shard ON notices (shard, id);
`;

/**
 * 3 — display names and the rooms list's last activity (issue #14): members
 * carry their display name (from D1, like the username); a file row keeps
 * when it was announced, so the latest activity needs no event lookup.
 */
const V3 = `
ALTER TABLE members ADD COLUMN display_name TEXT;
ALTER TABLE files ADD COLUMN created_at INTEGER;
`;

/** 4 — reactions (issue #15): one row per user, emoji and message. */
const V4 = `
CREATE TABLE reactions (
  message_id TEXT NOT NULL, emoji TEXT NOT NULL, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;
`;

/**
 * 5 — message search (issue #15): an FTS5 index over the messages' text, its
 * content read from `messages` itself (external content: the text is not
 * stored twice), keyed by the message's seq. No column sizes (search sorts by
 * time, not by bm25). The messages there are indexed now; later ones in
 * batches (room/search.ts, `meta.indexed_upto`).
 */
const V5 = `
CREATE VIRTUAL TABLE messages_fts USING fts5(
  text, content='messages', content_rowid='seq', columnsize=0, tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (rowid, text) SELECT seq, text FROM messages WHERE text IS NOT NULL;
INSERT INTO meta (key, value) SELECT 'indexed_upto', MAX(seq) FROM messages HAVING COUNT(*) > 0
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;
`;

/**
 * 6 — mentions and threads (issue #15):
 * - a thread reply is a message with `thread_of` (its top-level message's id);
 *   the parent keeps its live `reply_count` and `last_reply_at` (one row
 *   update per reply); a partial index finds a thread's replies (replies
 *   only: a top-level message writes nothing to it);
 * - `thread_participants`: who took part in a thread besides the parent's
 *   author, from the seq of their first reply (one row, once);
 * - `mentions`: one row per mentioned member per message, keyed by seq
 *   (count ranges after a cursor, and a message's own rows, are seq ranges);
 * - V5 left an `indexed_upto` of 0 in every new room's meta; a missing mark
 *   means 0, so a room nobody used holds no row.
 */
const V6 = `
ALTER TABLE messages ADD COLUMN thread_of TEXT;
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at INTEGER;
CREATE INDEX messages_thread ON messages (thread_of, seq) WHERE thread_of IS NOT NULL;
CREATE TABLE thread_participants (
  parent_id TEXT NOT NULL, user_id TEXT NOT NULL, since_seq INTEGER NOT NULL,
  PRIMARY KEY (parent_id, user_id)
) WITHOUT ROWID;
CREATE TABLE mentions (seq INTEGER NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (seq, user_id)) WITHOUT ROWID;
DELETE FROM meta WHERE key = 'indexed_upto' AND value = 0;
`;

/**
 * 7 — file versions (issue #16): one row per later version of a file, at its
 * own seq (a countable item like an upload, by whoever stored it). Whether it
 * is deleted is its file's `deleted`.
 */
const V7 = `
CREATE TABLE file_versions (
  seq INTEGER PRIMARY KEY, file_id TEXT NOT NULL, n INTEGER NOT NULL, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
  UNIQUE (file_id, n)
);
`;

/**
 * 8 — comments on files (issue #16): a file's comments are the thread on its
 * timeline entry (messages with `thread_of` = the file's id, room/threads.ts);
 * the file keeps the live count, like a parent message.
 */
const V8 = `
ALTER TABLE files ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN last_reply_at INTEGER;
`;

export const ROOM_MIGRATIONS: readonly string[] = [V1, V2, V3, V4, V5, V6, V7, V8];
