/**
 * The Room object's storage: its event log, messages, members, read cursors,
 * rate-limit buckets and typing state, all in the object's SQLite.
 *
 * Every write that creates an event runs in one `transactionSync` that takes
 * the next `seq`, stores the event and its effects, and advances the head —
 * so `seq` is contiguous and an event exists before anyone can hear of it.
 */
import { newId } from "../lib/encoding";
import { ReadState } from "./read-state";
import { type FileInfo, type Message, RATE_LIMIT, REPLAY_WINDOW, type RoomEvent, type Role } from "../protocol";

/** Distributive Omit, so each member of the union keeps its own fields. */
type EventBody<E> = E extends RoomEvent ? Omit<E, "seq" | "ts"> : never;
export type NewEvent = EventBody<RoomEvent>;

export interface Actor {
  id: string;
  username: string;
}

/** Ephemeral things a member is doing, shown to the others ("… is typing"). */
export type Activity = "typing" | "uploading";
export interface ActiveUser extends Actor {
  activity: Activity;
}
type ActivityRow = { user_id: string; activity: Activity; username: string; until: number };
const toActive = (r: ActivityRow): ActiveUser => ({ id: r.user_id, username: r.username, activity: r.activity });

export interface StoredMember {
  userId: string;
  username: string;
  role: Role;
  readSeq: number;
  unread: number;
}

type MemberRow = { user_id: string; username: string; role: Role; read_seq: number; unread: number };
const toMember = (r: MemberRow): StoredMember => ({ userId: r.user_id, username: r.username, role: r.role, readSeq: r.read_seq, unread: r.unread });

/** A failed write, as data (RPC carries it to the Worker intact). */
export interface Failure {
  ok: false;
  code: "not_found" | "forbidden" | "rate_limited" | "resync_required" | "bad_request";
  message: string;
  retryAfter?: number;
  seq?: number;
}

interface MessageRow {
  id: string;
  seq: number;
  user_id: string;
  username: string;
  client_id: string;
  text: string | null;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  [key: string]: SqlStorageValue;
}

const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  seq: r.seq,
  userId: r.user_id,
  username: r.username,
  clientId: r.client_id,
  text: r.text,
  createdAt: r.created_at,
  editedAt: r.edited_at,
  deletedAt: r.deleted_at,
});

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  username TEXT NOT NULL,
  client_id TEXT NOT NULL,
  text TEXT,
  created_at INTEGER NOT NULL,
  edited_at INTEGER,
  deleted_at INTEGER
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_client ON messages (user_id, client_id);
CREATE TABLE IF NOT EXISTS members (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0,
  unread INTEGER NOT NULL DEFAULT 0 CHECK (unread >= 0)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rate (user_id TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity (
  user_id TEXT NOT NULL,
  activity TEXT NOT NULL,
  username TEXT NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (user_id, activity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
`;

export class RoomStore {
  private readonly sql: SqlStorage;
  /** Read cursors and unread counts (same SQLite, same transactions). */
  readonly reads: ReadState;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
    this.reads = new ReadState(this.sql);
  }

  // ------------------------------------------------------------ meta

  private getMeta(key: string): SqlStorageValue | undefined {
    return this.sql.exec<{ value: SqlStorageValue }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  private setMeta(key: string, value: SqlStorageValue): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  get roomId(): string | undefined {
    const v = this.getMeta("room_id");
    return typeof v === "string" ? v : undefined;
  }

  set roomId(id: string) {
    this.setMeta("room_id", id);
  }

  /** The seq of the newest event (0 for an empty room). */
  head(): number {
    return Number(this.getMeta("head") ?? 0);
  }

  // ------------------------------------------------------------ event log

  /**
   * Store `event` as the next seq. Call inside `transactionSync` together with
   * the event's effects. Old events beyond the replay window are pruned.
   */
  private append(event: NewEvent, now: number): RoomEvent {
    const seq = this.head() + 1;
    const full = { ...event, seq, ts: now } as RoomEvent;
    this.sql.exec("INSERT INTO events (seq, type, data) VALUES (?, ?, ?)", seq, full.type, JSON.stringify(full));
    this.setMeta("head", seq);
    this.sql.exec("DELETE FROM events WHERE seq <= ?", seq - REPLAY_WINDOW);
    return full;
  }

  /**
   * Events after `after`, in order. When `after` is ahead of head, or older
   * than the oldest event kept, the caller must resync from a snapshot.
   */
  eventsAfter(after: number): { ok: true; events: RoomEvent[]; seq: number } | Failure {
    const head = this.head();
    if (!Number.isInteger(after) || after < 0 || after > head) {
      return { ok: false, code: "resync_required", message: "Reload the room: that position is ahead of the room", seq: head };
    }
    const oldest = Number(this.sql.exec<{ s: number | null }>("SELECT MIN(seq) AS s FROM events").one().s ?? head + 1);
    if (after + 1 < oldest) {
      return { ok: false, code: "resync_required", message: "Reload the room: those events are no longer kept", seq: head };
    }
    const events = this.sql
      .exec<{ data: string }>("SELECT data FROM events WHERE seq > ? ORDER BY seq", after)
      .toArray()
      .map((r) => JSON.parse(r.data) as RoomEvent);
    return { ok: true, events, seq: head };
  }

  // ------------------------------------------------------------ messages

  private messageById(id: string): MessageRow | undefined {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE id = ?", id).toArray()[0];
  }

  /**
   * Store a message, or — when this user already sent `clientId` — return the
   * original untouched (`duplicate`), creating no event.
   */
  sendMessage(actor: Actor, clientId: string, text: string, now: number): { message: Message; event: RoomEvent | null } {
    return this.storage.transactionSync(() => {
      const existing = this.sql
        .exec<MessageRow>("SELECT * FROM messages WHERE user_id = ? AND client_id = ?", actor.id, clientId)
        .toArray()[0];
      if (existing) return { message: toMessage(existing), event: null };
      const message: Message = {
        id: newId(),
        seq: this.head() + 1,
        userId: actor.id,
        username: actor.username,
        clientId,
        text,
        createdAt: now,
        editedAt: null,
        deletedAt: null,
      };
      this.sql.exec(
        "INSERT INTO messages (id, seq, user_id, username, client_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        message.id,
        message.seq,
        message.userId,
        message.username,
        message.clientId,
        message.text,
        message.createdAt,
      );
      const event = this.append({ type: "message", message }, now);
      this.reads.itemAdded(actor.id, message.seq);
      // The sender has read everything up to their own message.
      if (this.reads.moveCursor(actor.id, message.seq, false)) this.reads.queueMember(actor.id);
      return { message, event };
    });
  }

  /** Edit your own message. Editing to the same text changes nothing. */
  editMessage(actor: Actor, messageId: string, text: string, now: number): { ok: true; event: RoomEvent | null; message: Message } | Failure {
    return this.storage.transactionSync(() => {
      const row = this.messageById(messageId);
      if (!row || row.deleted_at !== null) return { ok: false, code: "not_found", message: "That message does not exist" } as const;
      if (row.user_id !== actor.id) return { ok: false, code: "forbidden", message: "You can only edit your own messages" } as const;
      if (row.text === text) return { ok: true, event: null, message: toMessage(row) } as const;
      this.sql.exec("UPDATE messages SET text = ?, edited_at = ? WHERE id = ?", text, now, messageId);
      const message = toMessage(this.messageById(messageId)!);
      const event = this.append({ type: "message_edited", message }, now);
      return { ok: true, event, message } as const;
    });
  }

  /**
   * Delete a message (its author, or the room's owner). The text is removed
   * from storage, including from the events that carried it.
   */
  deleteMessage(actor: Actor, messageId: string, now: number): { ok: true; event: RoomEvent | null } | Failure {
    return this.storage.transactionSync(() => {
      const row = this.messageById(messageId);
      if (!row) return { ok: false, code: "not_found", message: "That message does not exist" } as const;
      if (row.user_id !== actor.id && this.member(actor.id)?.role !== "owner") {
        return { ok: false, code: "forbidden", message: "You can only delete your own messages" } as const;
      }
      if (row.deleted_at !== null) return { ok: true, event: null } as const;
      this.sql.exec("UPDATE messages SET text = NULL, deleted_at = ? WHERE id = ?", now, messageId);
      this.sql.exec(
        `UPDATE events SET data = json_set(data, '$.message.text', json('null'), '$.message.deletedAt', ?)
         WHERE type IN ('message', 'message_edited') AND json_extract(data, '$.message.id') = ?`,
        now,
        messageId,
      );
      const event = this.append({ type: "message_deleted", messageId, userId: row.user_id }, now);
      this.reads.itemRemoved(row.user_id, row.seq);
      return { ok: true, event } as const;
    });
  }

  /** The message this user sent with `clientId`, if any. */
  messageByClientId(userId: string, clientId: string): Message | undefined {
    const row = this.sql.exec<MessageRow>("SELECT * FROM messages WHERE user_id = ? AND client_id = ?", userId, clientId).toArray()[0];
    return row && toMessage(row);
  }

  /** Up to `limit` messages before `before` (a seq), oldest first. */
  history(before: number | undefined, limit: number): { messages: Message[]; hasMore: boolean } {
    const rows = this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?", before ?? Number.MAX_SAFE_INTEGER, limit + 1)
      .toArray();
    const hasMore = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessage), hasMore };
  }

  // ------------------------------------------------------------ read state

  /**
   * Move `actor`'s read cursor to `upTo` (clamped to head) and record a
   * `message_read` receipt. Forward only unless `back` ("mark unread from
   * here"); a move that changes nothing creates no event.
   */
  markRead(actor: Actor, upTo: number, back: boolean, now: number): { event: RoomEvent | null; unread: number } {
    return this.storage.transactionSync(() => {
      const target = Math.max(0, Math.min(upTo, this.head()));
      if (!this.reads.moveCursor(actor.id, target, back)) return { event: null, unread: this.member(actor.id)?.unread ?? 0 };
      const event = this.append({ type: "message_read", receipt: { userId: actor.id, username: actor.username, upTo: target } }, now);
      this.reads.queueMember(actor.id);
      return { event, unread: this.member(actor.id)?.unread ?? 0 };
    });
  }

  // ------------------------------------------------------------ members

  member(userId: string): StoredMember | undefined {
    const r = this.sql.exec<MemberRow>("SELECT * FROM members WHERE user_id = ?", userId).toArray()[0];
    return r && toMember(r);
  }

  members(): StoredMember[] {
    return this.sql.exec<MemberRow>("SELECT * FROM members ORDER BY user_id").toArray().map(toMember);
  }

  /**
   * Replace the member list (D1 is the source of truth), keeping the read
   * cursors of those who stay. New members start with everything read.
   * Returns the ids of members who were removed.
   */
  replaceMembers(list: { userId: string; username: string; role: Role }[]): string[] {
    return this.storage.transactionSync(() => {
      const before = new Set(this.members().map((m) => m.userId));
      const head = this.head();
      for (const m of list) {
        if (!before.has(m.userId)) this.reads.queueMember(m.userId);
        this.sql.exec(
          `INSERT INTO members (user_id, username, role, read_seq) VALUES (?, ?, ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, role = excluded.role`,
          m.userId,
          m.username,
          m.role,
          head,
        );
        before.delete(m.userId);
      }
      for (const gone of before) {
        this.reads.queueGone(gone);
        this.sql.exec("DELETE FROM members WHERE user_id = ?", gone);
        this.sql.exec("DELETE FROM activity WHERE user_id = ?", gone);
      }
      return [...before];
    });
  }

  // ------------------------------------------------------------ rate limit

  /**
   * Take one token from the user's bucket (burst RATE_LIMIT.burst, refilling
   * RATE_LIMIT.perSecond). Kept in storage so it survives hibernation.
   * Returns 0 when allowed, else the seconds to wait.
   */
  takeToken(userId: string, now: number): number {
    const row = this.sql
      .exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM rate WHERE user_id = ?", userId)
      .toArray()[0];
    const refill = row ? ((now - row.updated_at) / 1000) * RATE_LIMIT.perSecond : RATE_LIMIT.burst;
    const tokens = Math.min(RATE_LIMIT.burst, (row?.tokens ?? 0) + Math.max(0, refill));
    if (tokens < 1) {
      this.sql.exec("INSERT OR REPLACE INTO rate (user_id, tokens, updated_at) VALUES (?, ?, ?)", userId, tokens, now);
      return Math.max(1, Math.ceil((1 - tokens) / RATE_LIMIT.perSecond));
    }
    this.sql.exec("INSERT OR REPLACE INTO rate (user_id, tokens, updated_at) VALUES (?, ?, ?)", userId, tokens - 1, now);
    return 0;
  }

  // ------------------------------------------------------------ typing / uploading

  /** Mark a user busy (typing, uploading) until `until`; returns true when they were not before. */
  setActivity(actor: Actor, activity: Activity, until: number): boolean {
    const was = this.sql.exec("SELECT 1 FROM activity WHERE user_id = ? AND activity = ?", actor.id, activity).toArray().length > 0;
    this.sql.exec(
      "INSERT OR REPLACE INTO activity (user_id, activity, username, until) VALUES (?, ?, ?, ?)",
      actor.id,
      activity,
      actor.username,
      until,
    );
    return !was;
  }

  /** Clear a user's activities (one kind, or all); returns those that were on. */
  clearActivity(userId: string, activity?: Activity): ActiveUser[] {
    const rows = activity
      ? this.sql.exec<ActivityRow>("DELETE FROM activity WHERE user_id = ? AND activity = ? RETURNING *", userId, activity)
      : this.sql.exec<ActivityRow>("DELETE FROM activity WHERE user_id = ? RETURNING *", userId);
    return rows.toArray().map(toActive);
  }

  /** Remove and return activities that expired by `now`. */
  expireActivity(now: number): ActiveUser[] {
    return this.sql.exec<ActivityRow>("DELETE FROM activity WHERE until <= ? RETURNING *", now).toArray().map(toActive);
  }

  /** Who is busy now (entries not yet expired). */
  activities(now: number): ActiveUser[] {
    return this.sql.exec<ActivityRow>("SELECT * FROM activity WHERE until > ?", now).toArray().map(toActive);
  }

  /** The soonest activity expiry, if any. */
  nextActivityExpiry(): number | undefined {
    const v = this.sql.exec<{ t: number | null }>("SELECT MIN(until) AS t FROM activity").one().t;
    return v ?? undefined;
  }

  // ------------------------------------------------------------ files

  /**
   * Announce a stored file: the `file_uploaded` event, and one more unread
   * item for every other member. Idempotent by file id: announcing again
   * returns the original seq and creates no event.
   */
  fileUploaded(file: Omit<FileInfo, "seq">, now: number): { seq: number; event: RoomEvent | null } {
    return this.storage.transactionSync(() => {
      const existing = this.sql.exec<{ seq: number }>("SELECT seq FROM files WHERE id = ?", file.file_id).toArray()[0];
      if (existing) return { seq: existing.seq, event: null };
      const seq = this.head() + 1;
      const event = this.append({ type: "file_uploaded", file: { ...file, seq } }, now);
      this.sql.exec("INSERT INTO files (id, seq, user_id) VALUES (?, ?, ?)", file.file_id, seq, file.uploader_id);
      this.reads.itemAdded(file.uploader_id, seq);
      if (this.reads.moveCursor(file.uploader_id, seq, false)) this.reads.queueMember(file.uploader_id);
      return { seq, event };
    });
  }

  /** Announce a deleted file (`file_deleted`); unread counts drop for those who had not read it. */
  fileDeleted(fileId: string, now: number): RoomEvent | null {
    return this.storage.transactionSync(() => {
      const row = this.sql.exec<{ seq: number; user_id: string; deleted: number }>("SELECT * FROM files WHERE id = ?", fileId).toArray()[0];
      if (!row || row.deleted) return null;
      this.sql.exec("UPDATE files SET deleted = 1 WHERE id = ?", fileId);
      const event = this.append({ type: "file_deleted", file_id: fileId, uploader_id: row.user_id }, now);
      this.reads.itemRemoved(row.user_id, row.seq);
      return event;
    });
  }
}
