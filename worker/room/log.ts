/**
 * The room's log: messages, files and the other events, each with the next
 * `seq`, in the object's SQLite.
 *
 * A message is its own log entry: the `messages` row (taken at the next seq)
 * is what a replay sends as the `message` event, so a message writes one row,
 * not a message and a copy of it. Every other event (edits, deletions, files,
 * membership, renames) is a row of `events`, pruned beyond the replay window.
 * The head is the highest seq of either, cached in memory.
 *
 * Callers run each write inside `transactionSync` with its other effects, so
 * an event exists before anyone can hear of it and `seq` stays contiguous.
 */
import { newId } from "../lib/encoding";
import type { Sql } from "../lib/meter";
import { type FileInfo, type Message, REPLAY_WINDOW, type RoomEvent } from "#protocol";
import { countables, type Item, unreadAfter } from "./counts";
import { Mentions } from "./mentions";
import { Reactions } from "./reactions";
import { MessageIndex } from "./search";
import { type Parent, type ThreadCounts, Threads } from "./threads";

export type { Item };

/** Distributive Omit, so each member of the union keeps its own fields. */
type EventBody<E> = E extends RoomEvent ? Omit<E, "seq" | "ts"> : never;
/** An event other than `message`, before it has a seq. */
export type NewEvent = Exclude<EventBody<RoomEvent>, { type: "message" }>;

export interface Actor {
  id: string;
  username: string;
}

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
  thread_of: string | null;
  reply_count: number;
  last_reply_at: number | null;
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
  threadOf: r.thread_of,
  replyCount: r.reply_count,
  lastReplyAt: r.last_reply_at,
});

const messageEvent = (m: Message): RoomEvent => ({ type: "message", seq: m.seq, ts: m.createdAt, message: m });

export class EventLog {
  #head: number | undefined;
  /** The messages' reactions (what leaves the log carries them). */
  readonly reactions: Reactions;
  /** The messages' full-text index (kept in step by the writes below). */
  readonly index: MessageIndex;
  /** Who each message mentions. */
  readonly mentions: Mentions;
  /** Threads: replies' parents, participants. */
  readonly threads: Threads;

  constructor(private readonly sql: Sql) {
    this.reactions = new Reactions(sql);
    this.index = new MessageIndex(sql);
    this.mentions = new Mentions(sql);
    this.threads = new Threads(sql);
  }

  /** The seq of the newest event (0 for an empty room). */
  head(): number {
    this.#head ??= Number(
      this.sql
        .exec<{ h: number | null }>("SELECT MAX(h) AS h FROM (SELECT MAX(seq) AS h FROM messages UNION ALL SELECT MAX(seq) FROM events)")
        .one().h ?? 0,
    );
    return this.#head;
  }

  /** Forget cached state (after a failed transaction). */
  invalidate(): void {
    this.#head = undefined;
    this.index.invalidate();
  }

  /** Store a non-message event as the next seq; prunes events beyond the replay window. */
  append(event: NewEvent, now: number): RoomEvent {
    const seq = this.head() + 1;
    const full = { ...event, seq, ts: now } as RoomEvent;
    this.sql.exec("INSERT INTO events (seq, type, data) VALUES (?, ?, ?)", seq, full.type, JSON.stringify(full));
    this.sql.exec("DELETE FROM events WHERE seq <= ?", seq - REPLAY_WINDOW);
    this.#head = seq;
    return full;
  }

  // ------------------------------------------------------------ messages

  messageById(id: string): Message | undefined {
    const row = this.sql.exec<MessageRow>("SELECT * FROM messages WHERE id = ?", id).toArray()[0];
    return row && toMessage(row);
  }

  messageByClientId(userId: string, clientId: string): Message | undefined {
    const row = this.sql.exec<MessageRow>("SELECT * FROM messages WHERE user_id = ? AND client_id = ?", userId, clientId).toArray()[0];
    return row && toMessage(row);
  }

  /** Store a new message as the next seq (the caller checked `clientId` is new, and that a `threadOf` parent is live and top-level). */
  addMessage(actor: Actor, clientId: string, text: string, now: number, threadOf: string | null = null): { message: Message; event: RoomEvent } {
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
      threadOf,
      replyCount: 0,
      lastReplyAt: null,
    };
    this.sql.exec(
      "INSERT INTO messages (id, seq, user_id, username, client_id, text, created_at, thread_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      message.id,
      message.seq,
      message.userId,
      message.username,
      message.clientId,
      message.text,
      message.createdAt,
      threadOf,
    );
    this.index.added(message.seq);
    this.#head = message.seq;
    return { message, event: messageEvent(message) };
  }

  /** Change a message's text (`message_edited`). */
  editMessage(message: Message, text: string, now: number): { message: Message; event: RoomEvent } {
    if (message.text !== null) this.index.changing(message.seq, message.text);
    this.sql.exec("UPDATE messages SET text = ?, edited_at = ? WHERE id = ?", text, now, message.id);
    this.index.changed(message.seq, text);
    const edited: Message = { ...message, text, editedAt: now };
    return { message: edited, event: this.append({ type: "message_edited", message: edited }, now) };
  }

  /** Delete a message: its text leaves storage, including the edits that carried it. */
  deleteMessage(message: Message, now: number): RoomEvent {
    if (message.text !== null) this.index.changing(message.seq, message.text);
    this.sql.exec("UPDATE messages SET text = NULL, deleted_at = ? WHERE id = ?", now, message.id);
    this.reactions.removeAll(message.id);
    this.mentions.removeAll(message.seq);
    this.#scrubEdits(message.id, now);
    return this.append({ type: "message_deleted", messageId: message.id, userId: message.userId }, now);
  }

  /** Up to `limit` top-level messages (no thread replies) before `before` (a seq), oldest first. */
  history(before: number | undefined, limit: number): { messages: Message[]; hasMore: boolean } {
    const rows = this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE seq < ? AND thread_of IS NULL ORDER BY seq DESC LIMIT ?", before ?? Number.MAX_SAFE_INTEGER, limit + 1)
      .toArray();
    return { messages: this.reactions.attach(rows.slice(0, limit).reverse().map(toMessage)), hasMore: rows.length > limit };
  }

  /** Up to `limit` replies in `parentId`'s thread after `after` (a seq), oldest first; `hasMore` when newer ones exist. */
  replies(parentId: string, after: number, limit: number): { messages: Message[]; hasMore: boolean } {
    const rows = this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE thread_of = ? AND seq > ? ORDER BY seq LIMIT ?", parentId, after, limit + 1)
      .toArray();
    return { messages: this.reactions.attach(rows.slice(0, limit).map(toMessage)), hasMore: rows.length > limit };
  }

  /**
   * Reply `replyId` was stored (`added`) or deleted: the parent's new counts, as a `thread_updated`
   * event — or for a file's comments `file_comment_added` / `file_comment_removed`.
   */
  threadChanged(parent: Parent, counts: ThreadCounts, replyId: string, added: boolean, now: number): RoomEvent {
    if (parent.kind !== "file") return this.append({ type: "thread_updated", messageId: parent.id, ...counts }, now);
    const body = { fileId: parent.id, messageId: replyId, commentCount: counts.replyCount, lastCommentAt: counts.lastReplyAt };
    return this.append({ type: added ? "file_comment_added" : "file_comment_removed", ...body }, now);
  }

  /** A thread's parent: a message of this room, or a live file of it (its comments); undefined otherwise. */
  parentOf(id: string): (Parent & { deleted: boolean; threadOf: string | null }) | undefined {
    const m = this.messageById(id);
    if (m) return { id, userId: m.userId, kind: "message", deleted: m.deletedAt !== null, threadOf: m.threadOf ?? null };
    const f = this.sql.exec<{ user_id: string; deleted: number }>("SELECT user_id, deleted FROM files WHERE id = ?", id).toArray()[0];
    return f && { id, userId: f.user_id, kind: "file", deleted: f.deleted !== 0, threadOf: null };
  }

  /** The live replies of a thread (a deleted file's comments, before they go). */
  liveReplies(parentId: string): Message[] {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE thread_of = ? AND deleted_at IS NULL ORDER BY seq", parentId).toArray().map(toMessage);
  }

  /** Erase these replies' text, reactions and mentions at once (their file was deleted; no event each: `file_deleted` says it). */
  eraseReplies(replies: readonly Message[], now: number): void {
    for (const m of replies) {
      if (m.text !== null) this.index.changing(m.seq, m.text);
      this.reactions.removeAll(m.id);
      this.mentions.removeAll(m.seq);
      this.sql.exec("UPDATE messages SET text = NULL, deleted_at = ? WHERE id = ?", now, m.id);
      this.#scrubEdits(m.id, now);
    }
  }

  /** The stored edits of a deleted message keep no text either. */
  #scrubEdits(messageId: string, now: number): void {
    this.sql.exec(
      `UPDATE events SET data = json_set(data, '$.message.text', json('null'), '$.message.deletedAt', ?)
       WHERE type = 'message_edited' AND json_extract(data, '$.message.id') = ?`,
      now,
      messageId,
    );
  }

  // ------------------------------------------------------------ files

  /** The seq a file was announced at, if it was. */
  fileSeq(fileId: string): number | undefined {
    return this.sql.exec<{ seq: number }>("SELECT seq FROM files WHERE id = ?", fileId).toArray()[0]?.seq;
  }

  addFile(file: Omit<FileInfo, "seq">, now: number): RoomEvent {
    const seq = this.head() + 1;
    const event = this.append({ type: "file_uploaded", file: { ...file, seq } }, now);
    // The file's own time (when its bytes were stored), as its FileInfo says: the rooms list's last activity.
    this.sql.exec("INSERT INTO files (id, seq, user_id, created_at) VALUES (?, ?, ?, ?)", file.file_id, seq, file.uploader_id, file.uploaded_at);
    return event;
  }

  /** Whether a file was announced here and is not deleted. */
  fileLive(fileId: string): boolean {
    return this.sql.exec<{ deleted: number }>("SELECT deleted FROM files WHERE id = ?", fileId).toArray()[0]?.deleted === 0;
  }

  /** The seq version `n` of a file was announced at, if it was. */
  versionSeq(fileId: string, n: number): number | undefined {
    return this.sql.exec<{ seq: number }>("SELECT seq FROM file_versions WHERE file_id = ? AND n = ?", fileId, n).toArray()[0]?.seq;
  }

  /** A later version of a live file (`file_version_added`): one event row, one item row. */
  addVersion(file: Omit<FileInfo, "seq"> & { version: number }, by: string, at: number, now: number): RoomEvent {
    const seq = this.head() + 1;
    const event = this.append({ type: "file_version_added", file: { ...file, seq } }, now);
    this.sql.exec("INSERT INTO file_versions (seq, file_id, n, user_id, created_at) VALUES (?, ?, ?, ?, ?)", seq, file.file_id, file.version, by, at);
    return event;
  }

  /** Mark a file deleted (`file_deleted`) with all its versions; null when it was unknown or already deleted. */
  deleteFile(fileId: string, now: number): { event: RoomEvent; items: Item[] } | null {
    const row = this.sql.exec<{ seq: number; user_id: string; deleted: number }>("SELECT seq, user_id, deleted FROM files WHERE id = ?", fileId).toArray()[0];
    if (!row || row.deleted) return null;
    this.sql.exec("UPDATE files SET deleted = 1 WHERE id = ?", fileId);
    const versions = this.sql.exec<{ seq: number; user_id: string }>("SELECT seq, user_id FROM file_versions WHERE file_id = ? ORDER BY seq", fileId).toArray();
    const items = [{ seq: row.seq, userId: row.user_id }, ...versions.map((v) => ({ seq: v.seq, userId: v.user_id }))];
    return { event: this.append({ type: "file_deleted", file_id: fileId, uploader_id: row.user_id }, now), items };
  }

  // ------------------------------------------------------------ replay

  /**
   * Events after `after`, in order. When `after` is ahead of head, or older
   * than the replay window, the caller must resync from a snapshot.
   */
  eventsAfter(after: number): { ok: true; events: RoomEvent[]; seq: number } | Failure {
    const head = this.head();
    if (!Number.isInteger(after) || after < 0 || after > head) {
      return { ok: false, code: "resync_required", message: "Reload the room: that position is ahead of the room", seq: head };
    }
    if (after + 1 < head - REPLAY_WINDOW + 1) {
      return { ok: false, code: "resync_required", message: "Reload the room: those events are no longer kept", seq: head };
    }
    const messages = this.reactions.attach(this.sql.exec<MessageRow>("SELECT * FROM messages WHERE seq > ? ORDER BY seq", after).toArray().map(toMessage));
    const others = this.sql.exec<{ data: string }>("SELECT data FROM events WHERE seq > ? ORDER BY seq", after).toArray();
    const events: RoomEvent[] = [];
    let i = 0;
    let j = 0;
    while (i < messages.length || j < others.length) {
      const m = messages[i];
      const o = others[j] && (JSON.parse(others[j]!.data) as RoomEvent);
      if (m && (!o || m.seq < o.seq)) {
        events.push(messageEvent(m));
        i++;
      } else if (o) {
        events.push(o);
        j++;
      }
    }
    return { ok: true, events, seq: head };
  }

  // ------------------------------------------------------------ countable items

  /** Unread items for `userId` after `readSeq` (reads only what lies after the cursor; room/counts.ts). */
  countAfter(readSeq: number, userId: string): number {
    return unreadAfter(this.sql, readSeq, userId);
  }

  /** Every countable item after `seq`, in seq order, with replies' audiences and mentions (to derive many members' counts at once). */
  itemsAfter(seq: number): Item[] {
    return countables(this.sql, seq);
  }
}
