/**
 * The room's writes: messages (send, edit, delete; thread replies and
 * mentions with them), read cursors, files and "… is typing / uploading". Each one validates, runs one transaction (log
 * and members together), then broadcasts and hands the changed counts to the
 * pushes — never waiting for them. Rate limits are in-memory token buckets
 * per user per room (lib/rate.ts), shared by the HTTP and socket paths.
 */
import { type CountTrigger, countedMentions, type FileInfo, LIMITS, type Message, type Reaction, type RoomEvent, type ServerFrame, TYPING_TTL_MS } from "#protocol";
import type { Rate, RoomRates } from "../lib/limits";
import { TokenBuckets } from "../lib/rate";
import type { Activities, Activity } from "./activity";
import type { Item } from "./counts";
import { activityFrame } from "./frames";
import type { Latest } from "./latest";
import type { Actor, EventLog, Failure } from "./log";
import type { Members } from "./members";
import { sameMembers } from "./mentions";
import type { Parent } from "./threads";

export type SendOutcome = { ok: true; message: Message; seq: number; duplicate: boolean } | Failure;
export type ReadOutcome = { ok: true; readSeq: number; unread: number; changed: boolean } | Failure;
/** A reaction toggled: the message's reactions now, and the event (null when it changed nothing). */
export type ReactOutcome = { ok: true; event: RoomEvent | null; reactions: Reaction[] } | Failure;

/** An upload shows "… is uploading" at most this long if nobody clears it. */
const UPLOADING_TTL_MS = 10 * 60 * 1000;

export interface WriteDeps {
  log: EventLog;
  members: Members;
  activity: Activities;
  /** The room's latest activity (the rooms list), kept in memory. */
  latest: Latest;
  /** Run a write transaction (and forget memory on failure). */
  write<T>(fn: () => T): T;
  broadcast(frame: RoomEvent | ServerFrame, except?: WebSocket): void;
  /** These members' counts changed: push them, off the caller's path (with the latest activity when `author` made something new). */
  pushed(changed: string[], trigger: CountTrigger, author?: string): void;
  /** The preview of the room's newest message changed (an edit or deletion by `author`): the other watched members' tabs hear it. */
  previewChanged(author: string): void;
  scheduleAlarm(at: number): void;
  /** Someone unknown to the room wrote: look them up in D1 once (R14: an addition the room missed). */
  resync(): Promise<void>;
}

const bucket = (rate: Rate) => new TokenBuckets({ burst: rate.count, perSecond: rate.count / rate.seconds });

const slowDown = (retryAfter: number): Failure => ({ ok: false, code: "rate_limited", message: `Slow down: try again in ${retryAfter} s`, retryAfter });

export class RoomWrites {
  readonly #sends: TokenBuckets;
  /** Edits and deletes. */
  readonly #edits: TokenBuckets;
  /** Read and mark-unread. */
  readonly #reads: TokenBuckets;
  /** "Is typing" on/off frames. */
  readonly #typing: TokenBuckets;
  /** Reactions added or removed. */
  readonly #reacts: TokenBuckets;

  constructor(
    private readonly d: WriteDeps,
    rates: RoomRates,
  ) {
    this.#sends = bucket(rates.send);
    this.#edits = bucket(rates.edit);
    this.#reads = bucket(rates.read);
    this.#reacts = bucket(rates.react);
    this.#typing = bucket(rates.typing);
  }

  /**
   * Rate-limit, store (or find the original by client id), then broadcast what is new. With
   * `threadOf`, a reply in that message's thread: it must be a live top-level message of this room.
   */
  async send(actor: Actor, clientId: string, text: string, threadOf?: string): Promise<SendOutcome> {
    const { log, members } = this.d;
    const now = Date.now();
    if (!members.get(actor.id)) await this.d.resync();
    const member = members.get(actor.id);
    if (!member) return { ok: false, code: "forbidden", message: "You are not a member of this room" };
    // A retry of a stored send is answered with the original, without spending a token.
    const original = log.messageByClientId(actor.id, clientId);
    if (original) return { ok: true, message: original, seq: original.seq, duplicate: true };
    // A thread hangs on a live top-level message or, for a file's comments, a live file of this room.
    const parent = threadOf === undefined ? undefined : log.parentOf(threadOf);
    if (threadOf !== undefined) {
      if (!parent || parent.deleted) return { ok: false, code: "not_found", message: "The message or file you are replying to does not exist in this room" };
      if (parent.threadOf) return { ok: false, code: "bad_request", message: "Reply in the thread of the first message, not to a reply" };
    }
    const wait = this.#sends.take(actor.id, now);
    if (wait > 0) return slowDown(wait);
    const { message, events, changed } = this.d.write(() => {
      const { message, event } = log.addMessage({ id: actor.id, username: member.username || actor.username }, clientId, text, now, parent?.id ?? null);
      const mentioned = this.#mentions(text, actor.id);
      log.mentions.add(message.seq, mentioned);
      const item: Item = { seq: message.seq, userId: actor.id, mentioned };
      const events = [event];
      if (parent) {
        item.audience = log.threads.audience(parent, message.seq, mentioned);
        log.threads.join(parent, actor.id, message.seq);
        events.push(log.threadChanged(parent, log.threads.replyAdded(parent, now), message.id, true, now));
      }
      const changed = members.itemAdded(item);
      return { message, events, changed: [...changed, ...this.#catchUp(actor.id, message.seq)] };
    });
    // A reply is not the room's latest activity (the rooms list's order and preview follow top-level messages).
    if (!parent) this.d.latest.message(message, member.displayName);
    for (const t of this.d.activity.clear(actor.id, "typing")) this.d.broadcast(activityFrame(t, false));
    for (const e of events) this.d.broadcast(e);
    this.d.pushed(changed, "new_message", parent ? undefined : actor.id);
    return { ok: true, message, seq: message.seq, duplicate: false };
  }

  /** Who a text by `authorId` mentions (current members, not the author, at most LIMITS.mentionsPerMessage). */
  #mentions(text: string, authorId: string): string[] {
    return countedMentions(text, authorId, (id) => this.d.members.get(id) !== undefined);
  }

  /** How the message at `seq` counts, mentioning `mentioned` (a reply: for its audience only). */
  #item(message: Message, mentioned: readonly string[]): Item {
    const item: Item = { seq: message.seq, userId: message.userId, mentioned };
    if (message.threadOf) item.audience = this.d.log.threads.audience(this.#parentOf(message.threadOf), message.seq, mentioned);
    return item;
  }

  #parentOf(id: string): Parent {
    return this.d.log.parentOf(id) ?? { id, userId: "" };
  }

  edit(actor: Actor, messageId: string, text: string): { ok: true; event: RoomEvent | null; message: Message } | Failure {
    const message = this.d.log.messageById(messageId);
    if (!message || message.deletedAt !== null) return { ok: false, code: "not_found", message: "That message does not exist" };
    if (message.userId !== actor.id) return { ok: false, code: "forbidden", message: "You can only edit your own messages" };
    if (message.text === text) return { ok: true, event: null, message };
    const wait = this.#edits.take(actor.id, Date.now());
    if (wait > 0) return slowDown(wait);
    // The mentions are those of the new text: someone it adds counts it (if they have not read past it), someone it drops no longer does.
    const { changed, ...res } = this.d.write(() => {
      const res = this.d.log.editMessage(message, text, Date.now());
      const next = this.#mentions(text, message.userId);
      const before = this.d.log.mentions.of(message.seq);
      if (sameMembers(before, next)) return { ...res, changed: [] };
      this.d.log.mentions.replace(message.seq, next);
      return { ...res, changed: this.d.members.itemChanged(this.#item(message, before), this.#item(message, next)) };
    });
    const preview = this.d.latest.changed(res.message);
    this.d.broadcast(res.event);
    if (changed.length) this.d.pushed(changed, "message_edited");
    if (preview) this.d.previewChanged(actor.id);
    return { ok: true, ...res };
  }

  /** Delete a message (its author, or the room's owner); counts drop for those who had not read it. */
  delete(actor: Actor, messageId: string): { ok: true; event: RoomEvent | null } | Failure {
    const { log, members } = this.d;
    const message = log.messageById(messageId);
    if (!message) return { ok: false, code: "not_found", message: "That message does not exist" };
    if (message.userId !== actor.id && members.get(actor.id)?.role !== "owner") {
      return { ok: false, code: "forbidden", message: "You can only delete your own messages" };
    }
    if (message.deletedAt !== null) return { ok: true, event: null };
    const wait = this.#edits.take(actor.id, Date.now());
    if (wait > 0) return slowDown(wait);
    // A deleted reply lowers its thread's count; a deleted parent keeps its thread (its replies stay).
    const { event, thread, changed } = this.d.write(() => {
      const now = Date.now();
      const item = this.#item(message, log.mentions.of(message.seq));
      const event = log.deleteMessage(message, now);
      const parent = message.threadOf ? this.#parentOf(message.threadOf) : null;
      const thread = parent ? log.threadChanged(parent, log.threads.replyRemoved(parent), message.id, false, now) : null;
      return { event, thread, changed: members.itemRemoved(item) };
    });
    const preview = this.d.latest.changed({ ...message, text: null, deletedAt: event.ts });
    this.d.broadcast(event);
    if (thread) this.d.broadcast(thread);
    this.d.pushed(changed, "message_deleted");
    if (preview) this.d.previewChanged(actor.id);
    return { ok: true, event };
  }

  /**
   * Add (`on`) or take back a reaction. Idempotent per user, emoji and
   * message: a repeat changes nothing, costs no token and broadcasts nothing.
   * Not an unread item: no count moves.
   */
  react(actor: Actor, messageId: string, emoji: string, on: boolean): ReactOutcome {
    const { log, members } = this.d;
    if (!members.get(actor.id)) return { ok: false, code: "forbidden", message: "You are not a member of this room" };
    const message = log.messageById(messageId);
    if (!message || message.deletedAt !== null) return { ok: false, code: "not_found", message: "That message does not exist" };
    const { reactions } = log;
    if (reactions.has(messageId, emoji, actor.id) === on) return { ok: true, event: null, reactions: reactions.of(messageId) };
    if (on && reactions.emojiCount(messageId) >= LIMITS.reactionsPerMessage && !reactions.of(messageId).some((r) => r.emoji === emoji)) {
      return { ok: false, code: "bad_request", message: `A message takes at most ${LIMITS.reactionsPerMessage} different reactions` };
    }
    const now = Date.now();
    const wait = this.#reacts.take(actor.id, now);
    if (wait > 0) return slowDown(wait);
    const event = this.d.write(() => {
      if (on) reactions.add(messageId, emoji, actor.id, now);
      else reactions.remove(messageId, emoji, actor.id);
      return log.append({ type: on ? "reaction_added" : "reaction_removed", messageId, emoji, userId: actor.id }, now);
    });
    this.d.broadcast(event);
    return { ok: true, event, reactions: reactions.of(messageId) };
  }

  /**
   * Move the caller's read cursor to `seq` (forward only), or back to before
   * `seq` with `back` ("mark unread from here"). A receipt goes to the room's
   * sockets (not into the log) and the new count to the caller's badge.
   * Rate-limited; a no-op changes nothing.
   */
  markRead(actor: Actor, seq: number, back: boolean): ReadOutcome {
    const now = Date.now();
    const me = this.d.members.get(actor.id);
    if (!me) return { ok: false, code: "forbidden", message: "You are not a member of this room" };
    const wait = this.#reads.take(actor.id, now);
    if (wait > 0) return slowDown(wait);
    const changed = this.d.write(() => this.d.members.moveCursor(actor.id, back ? seq - 1 : seq, back));
    if (changed) {
      this.d.broadcast({ type: "message_read", ts: now, receipt: this.d.members.receipt(me) });
      this.d.pushed([actor.id], "message_read");
    }
    return { ok: true, readSeq: me.readSeq, unread: me.unread, changed };
  }

  /** `file_uploaded` for a file whose bytes and metadata are stored. Idempotent by file id. */
  announceFile(file: Omit<FileInfo, "seq">): { seq: number; duplicate: boolean } {
    const { log, members } = this.d;
    const known = log.fileSeq(file.file_id);
    if (known !== undefined) return { seq: known, duplicate: true };
    const { event, changed } = this.d.write(() => {
      const event = log.addFile(file, Date.now());
      const changed = members.itemAdded({ seq: event.seq, userId: file.uploader_id });
      return { event, changed: [...changed, ...this.#catchUp(file.uploader_id, event.seq)] };
    });
    this.d.latest.file(file.uploaded_at);
    for (const t of this.d.activity.clear(file.uploader_id, "uploading")) this.d.broadcast(activityFrame(t, false));
    this.d.broadcast(event);
    this.d.pushed(changed, "file_upload", file.uploader_id);
    return { seq: event.seq, duplicate: false };
  }

  /**
   * `file_version_added` for a later version whose bytes and metadata are
   * stored: one more unread item for the others, exactly like an upload.
   * Idempotent by file id and version; not_found when the file is unknown
   * here or deleted (the caller then removes what it stored).
   */
  announceVersion(file: Omit<FileInfo, "seq"> & { version: number; version_uploader_id: string; version_uploaded_at: number }): { ok: true; seq: number; duplicate: boolean } | Failure {
    const { log, members } = this.d;
    const known = log.versionSeq(file.file_id, file.version);
    if (known !== undefined) return { ok: true, seq: known, duplicate: true };
    if (!log.fileLive(file.file_id)) return { ok: false, code: "not_found", message: "That file does not exist" };
    const by = file.version_uploader_id;
    const { event, changed } = this.d.write(() => {
      const event = log.addVersion(file, by, file.version_uploaded_at, Date.now());
      const changed = members.itemAdded({ seq: event.seq, userId: by });
      return { event, changed: [...changed, ...this.#catchUp(by, event.seq)] };
    });
    this.d.latest.file(file.version_uploaded_at);
    for (const t of this.d.activity.clear(by, "uploading")) this.d.broadcast(activityFrame(t, false));
    this.d.broadcast(event);
    this.d.pushed(changed, "file_upload", by);
    return { ok: true, seq: event.seq, duplicate: false };
  }

  /** `file_deleted`: every member's Files list drops it live (its versions' and comments' items go with it, and the comments' text). */
  removeFile(fileId: string): number | null {
    const { log } = this.d;
    const res = this.d.write(() => {
      const comments = log.fileLive(fileId) ? log.liveReplies(fileId) : [];
      const commentItems = comments.map((m) => this.#item(m, log.mentions.of(m.seq)));
      const now = Date.now();
      const gone = log.deleteFile(fileId, now);
      if (!gone) return null;
      log.eraseReplies(comments, now);
      const changed = new Set([...gone.items, ...commentItems].flatMap((item) => this.d.members.itemRemoved(item)));
      return { event: gone.event, changed: [...changed] };
    });
    if (!res) return null;
    this.d.broadcast(res.event);
    this.d.pushed(res.changed, "file_deleted");
    return res.event.seq;
  }

  /** "… is typing" / "… is uploading" on or off (told to everyone but `except`). Typing frames are rate-limited. */
  setActivity(actor: Actor, activity: Activity, on: boolean, except?: WebSocket): { ok: true } | Failure {
    if (activity === "typing") {
      const wait = this.#typing.take(actor.id, Date.now());
      if (wait > 0) return slowDown(wait);
    }
    if (on) {
      const ttl = activity === "typing" ? TYPING_TTL_MS : UPLOADING_TTL_MS;
      if (this.d.activity.set(actor, activity, Date.now() + ttl)) this.d.broadcast(activityFrame({ ...actor, activity }, true), except);
      this.d.scheduleAlarm(Date.now() + ttl);
    } else {
      for (const t of this.d.activity.clear(actor.id, activity)) this.d.broadcast(activityFrame(t, false), except);
    }
    return { ok: true };
  }

  /**
   * Someone who posts has read what came before: move their cursor to their
   * own item — but only when that changes their count (no row otherwise).
   */
  #catchUp(userId: string, seq: number): string[] {
    const m = this.d.members.get(userId);
    return m && m.unread > 0 && this.d.members.moveCursor(userId, seq, false) ? [userId] : [];
  }
}
