/**
 * Room — one Durable Object per room, the glue of its modules: the timeline
 * (room/log.ts), members and cursors with derived unread counts
 * (room/members.ts), the writes (room/writes.ts), D1's membership
 * (room/membership.ts), pushes to the badge hubs (room/pushes.ts), typing and
 * presence, and the viewers' hibernatable sockets (lib/socket-object.ts). The
 * Worker calls it with native RPC; only the socket upgrade goes through `fetch`.
 *
 * Cost rule: a message writes a bounded number of rows whatever the room's
 * size (the message row and its index entries, plus at most the sender's
 * cursor and the pushed-version mark; a mention row per member it mentions,
 * at most 50; for a thread reply its parent's row, its `thread_updated` event
 * and, once, the author's participant row); per member it only reads and sends.
 * Callers wait for the room's own commit, never for pushes to other objects.
 */
import {
  CLOSE,
  type CountTrigger,
  type FileInfo,
  LIMITS,
  MAX_SOCKETS_PER_USER,
  type Message,
  type Receipt,
  type RoomEvent,
  type SearchHit,
  type ServerFrame,
} from "#protocol";
import { newId } from "./lib/encoding";
import { type CountFor, hubShardName, hubShards } from "./lib/hub";
import { roomRates } from "./lib/limits";
import { migrate } from "./lib/sql-migrations";
import { ACCOUNT_DELETED, type BaseAttachment, SocketObject, userTag } from "./lib/socket-object";
import { safeClose } from "./lib/ws";
import { Activities } from "./room/activity";
import { AlarmClock } from "./room/alarm";
import { dispatch } from "./room/dispatch";
import { anonymise } from "./room/forget";
import { activityFrame, frameSize, parseFrame, send, sendError } from "./room/frames";
import { Latest } from "./room/latest";
import { type Actor, EventLog, type Failure } from "./room/log";
import { applyMembership, type D1View, membershipVersion, readMembership, recordSynced } from "./room/membership";
import { Members, type MemberState } from "./room/members";
import { RoomMeta } from "./room/meta";
import { Presence } from "./room/presence";
import { Pushes } from "./room/pushes";
import { type ReactOutcome, type ReadOutcome, RoomWrites, type SendOutcome } from "./room/writes";
import { ROOM_MIGRATIONS } from "./room/schema";
import { handshake, identityOf } from "./room/upgrade";

export type { Actor, Failure, ReactOutcome, ReadOutcome, SendOutcome };

interface Attachment extends BaseAttachment {
  username: string;
}

/** A member as tests and the Worker see it. */
export type StoredMember = Pick<MemberState, "userId" | "username" | "role" | "readSeq" | "unread" | "mentions">;

/** How often the alarm runs while sockets are open (half-open detection: idleMs + this ≤ 60 s). */
export const ALARM_EVERY_MS = 25_000;

export class Room extends SocketObject<Attachment> {
  readonly log: EventLog;
  readonly members: Members;
  readonly pushes: Pushes;
  readonly #activity: Activities;
  readonly #latest: Latest;
  readonly #writes: RoomWrites;
  readonly #alarm: AlarmClock;
  readonly #meta: RoomMeta;
  readonly #presence: Presence;
  /** The UserHub shard of a user. */
  readonly #shardOf: (userId: string) => string;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage, this.sql, ROOM_MIGRATIONS);
    this.#alarm = new AlarmClock(ctx.storage);
    this.#meta = new RoomMeta(this.sql);
    this.#presence = new Presence(
      () => this.openSockets().flatMap((ws) => this.attachment(ws) ?? []),
      (frame) => this.#broadcast(frame),
    );
    this.log = new EventLog(this.sql);
    this.members = new Members(this.sql, this.log, () => this.#onMembersLoaded());
    this.#activity = new Activities(this.sql);
    this.#latest = new Latest(this.sql, () => Number(this.#meta.get("created_at") ?? 0), (id) => this.members.get(id)?.displayName ?? null);
    const shards = hubShards(env);
    this.#shardOf = (userId) => hubShardName(userId, shards);
    this.pushes = new Pushes(
      {
        sql: this.sql,
        members: this.members,
        meter: this.meter,
        roomId: () => this.#meta.get("room_id"),
        shardOf: this.#shardOf,
        retryAt: (at) => this.#alarm.atOrBefore(at),
        latest: () => this.#latest.get(),
      },
      (shard, batch) => this.env.USER_HUB.getByName(shard).deliver(batch),
    );
    this.#writes = new RoomWrites({
      log: this.log,
      members: this.members,
      activity: this.#activity,
      latest: this.#latest,
      write: (fn) => this.#write(fn),
      broadcast: (frame, except) => this.#broadcast(frame, except),
      pushed: (changed, trigger, author) => this.#pushed(changed, trigger, author),
      previewChanged: (author) => this.#previewChanged(author),
      scheduleAlarm: (at) => this.#alarm.atOrBefore(at),
      resync: async () => {
        const roomId = this.#meta.get("room_id");
        if (roomId) await this.syncMembers(roomId);
      },
    }, roomRates(env));
  }

  protected label(): string {
    return `room ${this.#meta.get("room_id") ?? "?"}`;
  }

  // ================================================================ RPC: membership

  /**
   * Make this room's members, name and owner equal D1's (the authority), and
   * close the sockets of anyone no longer a member (1008). Idempotent, and
   * never goes backwards: a read of an older D1 version than the one applied
   * is ignored. Called after every membership change, by the alarm while
   * sockets are open and by the cron for rooms whose synced version lags.
   */
  async syncMembers(roomId: string): Promise<StoredMember[]> {
    this.meter.count("requests");
    const view = await readMembership(this.env.DB, roomId, this.members.list().map((m) => m.userId));
    this.#applyMembership(roomId, view);
    return this.membersList();
  }

  /**
   * An account was deleted (D1 has the tombstone): its sockets here close
   * (1008, `signed out: account deleted`), it stops being a member (a
   * `member_left` with `accountDeleted`), and its name leaves the log —
   * messages, history, replays, file events (room/forget.ts). Also for rooms
   * it had left. Idempotent.
   */
  async forgetUser(roomId: string, userId: string): Promise<void> {
    this.meter.count("requests");
    this.closeTagged(userTag(userId), CLOSE.policy, ACCOUNT_DELETED);
    const wasMember = this.members.get(userId) !== undefined;
    await this.syncMembers(roomId); // a member is removed and anonymised there, as D1 says the account is gone
    if (!wasMember && this.#meta.get("room_id")) {
      this.#write(() => anonymise(this.sql, userId));
      this.#latest.invalidate();
    }
  }

  /** The members this room knows, with their cursors and counts. */
  membersList(): StoredMember[] {
    return this.members
      .list()
      .map((m) => ({ userId: m.userId, username: m.username, role: m.role, readSeq: m.readSeq, unread: m.unread, mentions: m.mentions }))
      .sort((a, b) => (a.userId < b.userId ? -1 : 1));
  }

  /**
   * One member's count and its version, or null if not a member. A hub
   * building the badge of a user whose tab connected asks with `watch`: from
   * then on this room pushes that user's changes (until a hub says no tab of
   * theirs is open). A one-off question (`GET /api/me/unread` while offline) does not.
   */
  countFor(userId: string, watch = true): CountFor {
    this.meter.count("requests");
    const m = this.members.get(userId);
    if (!m) return null;
    if (watch) this.pushes.watch(userId);
    return { n: m.unread, mentions: m.mentions, version: this.members.version(m), ...this.#latest.get() };
  }

  // ================================================================ RPC: reading

  /** Latest (top-level) messages, everyone's cursors and the caller's own, and the head they are current at. */
  snapshot(
    userId: string,
    limit = 50,
  ): { messages: Message[]; hasMore: boolean; seq: number; receipts: Receipt[]; readSeq: number; unread: number; mentions: number } {
    this.meter.count("requests");
    const seq = this.log.head();
    const me = this.members.get(userId);
    return {
      ...this.log.history(undefined, limit),
      seq,
      receipts: this.members.list().map((m) => this.members.receipt(m)),
      readSeq: me?.readSeq ?? seq,
      unread: me?.unread ?? 0,
      mentions: me?.mentions ?? 0,
    };
  }

  history(before: number | undefined, limit: number) {
    this.meter.count("requests");
    return this.log.history(before, limit);
  }

  /** A thread: its parent as it is now and its replies after `after`, oldest first; not_found unless a top-level message of this room. */
  thread(parentId: string, after: number, limit: number): ({ ok: true; parent: Message } & ReturnType<EventLog["replies"]>) | Failure {
    this.meter.count("requests");
    const parent = this.log.messageById(parentId);
    if (!parent || parent.threadOf) return { ok: false, code: "not_found", message: "That thread does not exist" };
    const [withReactions] = this.log.reactions.attach([parent]);
    return { ok: true, parent: withReactions!, ...this.log.replies(parentId, after, limit) };
  }

  /** A file's comments (its thread) after `after`, oldest first; not_found unless a live file of this room. */
  fileComments(fileId: string, after: number, limit: number): ({ ok: true; count: number } & ReturnType<EventLog["replies"]>) | Failure {
    this.meter.count("requests");
    if (!this.log.fileLive(fileId)) return { ok: false, code: "not_found", message: "That file does not exist" };
    return { ok: true, count: this.log.threads.fileCounts([fileId])[fileId] ?? 0, ...this.log.replies(fileId, after, limit) };
  }

  /** The live comment counts of these files (a files list's numbers; files without comments are left out). */
  commentCounts(fileIds: string[]): Record<string, number> {
    this.meter.count("requests");
    return this.log.threads.fileCounts(fileIds);
  }

  eventsAfter(after: number) {
    this.meter.count("requests");
    return this.log.eventsAfter(after);
  }

  /**
   * Messages matching an FTS5 expression (made safe by lib/search-query.ts), newest first.
   * Members only: the room checks for itself, whatever the Worker checked.
   */
  search(userId: string, match: string, limit: number, before?: number): Omit<SearchHit, "roomId">[] | null {
    this.meter.count("requests");
    if (!this.members.get(userId)) return null;
    if (this.log.index.behind) this.#write(() => this.log.index.catchUp(this.log.head()));
    return this.log.index.search(match, limit, before);
  }

  /** Who has the room open (distinct users with an open socket). */
  presence(): { userId: string; username: string }[] {
    return this.#presence.list();
  }

  // ================================================================ RPC: writing

  /** Send a message, or with `threadOf` a reply in that message's thread (the HTTP path; the socket path shares it). */
  async sendMessage(actor: Actor, clientId: string, text: string, threadOf?: string): Promise<SendOutcome> {
    this.meter.count("requests");
    return this.#writes.send(actor, clientId, text, threadOf);
  }

  editMessage(actor: Actor, messageId: string, text: string) {
    this.meter.count("requests");
    return this.#writes.edit(actor, messageId, text);
  }

  deleteMessage(actor: Actor, messageId: string) {
    this.meter.count("requests");
    return this.#writes.delete(actor, messageId);
  }

  /** Move the caller's read cursor (room/writes.ts); `back` is "mark unread from here". */
  markRead(actor: Actor, seq: number, back = false): ReadOutcome {
    this.meter.count("requests");
    return this.#writes.markRead(actor, seq, back);
  }

  /** Add or take back a reaction (idempotent per user, emoji and message). */
  react(actor: Actor, messageId: string, emoji: string, on: boolean): ReactOutcome {
    this.meter.count("requests");
    return this.#writes.react(actor, messageId, emoji, on);
  }

  /** Announce a file whose bytes are stored and whose metadata is committed (idempotent by file id). */
  announceFile(file: Omit<FileInfo, "seq">): { seq: number; duplicate: boolean } {
    this.meter.count("requests");
    return this.#writes.announceFile(file);
  }

  /** Announce a file's new version (idempotent by file id and version; not_found for a deleted file). */
  announceVersion(file: Parameters<RoomWrites["announceVersion"]>[0]) {
    this.meter.count("requests");
    return this.#writes.announceVersion(file);
  }

  /** Announce a deleted file: every member's Files list drops it live. */
  removeFile(fileId: string): number | null {
    this.meter.count("requests");
    return this.#writes.removeFile(fileId);
  }

  /** "… is uploading" while an upload is in flight (the Worker sets and clears it). */
  setUploading(actor: Actor, on: boolean): void {
    this.meter.count("requests");
    this.#writes.setActivity(actor, "uploading", on);
  }

  /** Store these messages by `actor` in one go, no pushes (benchmark hook only: the search scenario's corpus). */
  benchInsert(actor: Actor, texts: string[]): number {
    this.#write(() => {
      for (const text of texts) this.log.addMessage(actor, crypto.randomUUID(), text, Date.now());
    });
    this.members.invalidate(); // counts and the latest activity are derived again on next use
    this.#latest.invalidate();
    return this.log.head();
  }

  /** Reset the object as a crash or redeploy would (benchmark hook only). */
  reset(): void {
    this.ctx.abort("reset by the benchmark");
  }

  // ================================================================ sockets

  /** The WebSocket upgrade, forwarded by the Worker after auth, Origin and membership checks. */
  override async fetch(request: Request): Promise<Response> {
    this.meter.count("requests");
    try {
      return await this.#upgrade(request);
    } catch (err) {
      console.error(`${this.label()}: upgrade failed`, err);
      return new Response("Something went wrong", { status: 500 });
    }
  }

  async #upgrade(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
    const who = identityOf(request);
    if (!who) return new Response("Missing identity", { status: 400 });
    const { roomId, userId, username, session, expiresAt } = who;
    // The room authorises its sockets from its own member list (D1's, as last synced); someone it does
    // not know is looked up in D1 once, so a member added a moment ago gets in.
    if (!this.members.get(userId)) await this.syncMembers(roomId);
    if (!this.#meta.get("room_id")) return new Response("Room not found", { status: 404 });
    if (!this.members.get(userId)) return new Response("Not a member", { status: 403 });

    const att: Attachment = { userId, username, connectionId: newId(), connectedAt: Date.now(), expiresAt };
    const { client, server, refused } = this.accept(att, session, MAX_SOCKETS_PER_USER, `too many connections (at most ${MAX_SOCKETS_PER_USER} per user per room)`);
    if (refused) return new Response(null, { status: 101, webSocket: client });
    this.#alarm.atOrBefore(expiresAt);

    const log = this.log;
    const source = { head: () => log.head(), eventsAfter: (after: number) => log.eventsAfter(after), receiptsSince: (since?: number) => this.members.receiptsSince(since) };
    handshake(server, source, new URL(request.url).searchParams.get("after"), { userId, connectionId: att.connectionId });
    this.#presence.joined(userId, username);
    send(server, { type: "presence", users: this.presence() });
    for (const t of this.#activity.current(Date.now())) send(server, activityFrame(t, true));
    this.#alarm.atOrBefore(Date.now() + ALARM_EVERY_MS);
    return new Response(null, { status: 101, webSocket: client });
  }

  protected override async onMessage(ws: WebSocket, att: Attachment, raw: string | ArrayBuffer): Promise<void> {
    if (frameSize(raw) > LIMITS.frameMaxBytes) return sendError(ws, "frame_too_large", `Frames must be at most ${LIMITS.frameMaxBytes / 1024} KiB`);
    if (typeof raw !== "string") return sendError(ws, "invalid_frame", "Binary frames are not supported");
    const frame = parseFrame(raw);
    if (!frame.ok) return sendError(ws, "invalid_frame", frame.message, { clientId: frame.clientId });
    if (!this.members.get(att.userId)) return safeClose(ws, CLOSE.policy, "removed from room");
    await dispatch(this.#writes, this.log, ws, { id: att.userId, username: att.username }, frame.value);
  }

  protected override onClose(ws: WebSocket, att: Attachment): void {
    if (this.userOnline(att.userId, ws)) return;
    for (const t of this.#activity.clear(att.userId)) this.#broadcast(activityFrame(t, false), ws);
    this.#presence.left(att.userId, att.username);
  }

  /**
   * While sockets are open, every ALARM_EVERY_MS: drop half-open sockets and expired sessions' ones,
   * expire typing, retry failed pushes, and compare the membership version
   * with D1's (R14). Idempotent: it compares stored state with now.
   */
  protected override async onAlarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    void this.members.size; // load (and recover pushes) on a fresh instance
    this.reap(now);
    for (const gone of this.#activity.expire(now)) this.#broadcast(activityFrame(gone, false));
    if (this.pushes.busy) this.pushes.retry();
    const roomId = this.#meta.get("room_id");
    if (roomId && this.openSockets().length > 0) {
      const version = (await membershipVersion(this.env.DB, roomId)) ?? Number.MAX_SAFE_INTEGER;
      if (version !== Number(this.#meta.get("synced_version") ?? 0)) await this.syncMembers(roomId);
    }
    const soon = now + ALARM_EVERY_MS;
    this.#alarm.next(now, [this.openSockets().length > 0 ? soon : Infinity, this.#activity.nextExpiry() ?? Infinity, this.pushes.busy ? soon : Infinity, this.nextExpiry() ?? Infinity]);
  }

  // ================================================================ internals

  /** D1's view of the room, applied in one transaction (room/membership.ts); then its effects. */
  #applyMembership(roomId: string, view: D1View): void {
    const { room } = view;
    const deps = { meta: this.#meta, members: this.members, log: this.log, activity: this.#activity, pushes: this.pushes, latest: this.#latest };
    const forget = (userId: string) => anonymise(this.sql, userId);
    const res = this.#write(() => applyMembership({ ...deps, shardOf: this.#shardOf, anonymise: forget }, roomId, view, Date.now()));
    if (!res) return;
    for (const m of res.removed) {
      this.closeTagged(userTag(m.userId), CLOSE.policy, res.deleted.has(m.userId) ? ACCOUNT_DELETED : "removed from room");
      this.#presence.left(m.userId, m.username);
    }
    for (const e of res.events) this.#broadcast(e);
    this.#pushed([], "membership");
    // Tell D1 this version is applied, so the repair cron passes this room by (a failure only repeats the sync).
    if (room) this.ctx.waitUntil(recordSynced(this.env.DB, roomId, res.version).catch((err) => console.error(`${this.label()}: recording the synced version failed`, err)));
  }

  /** After a write that changed these members' counts: push, off the caller's path, with the alarm as backstop. */
  #pushed(changed: string[], trigger: CountTrigger, author?: string): void {
    this.pushes.markDirty(changed, trigger);
    if (author !== undefined) this.pushes.markActivity(changed.filter((id) => id !== author));
    this.pushes.kick();
    this.#alarm.atOrBefore(Date.now() + ALARM_EVERY_MS);
  }

  /** The newest message was edited or deleted: the other members' tabs get the new preview (`room_activity`; no count changed). */
  #previewChanged(author: string): void {
    this.pushes.markActivity(this.members.list().flatMap((m) => (m.userId === author ? [] : [m.userId])));
    this.pushes.kick();
    this.#alarm.atOrBefore(Date.now() + ALARM_EVERY_MS);
  }

  /** Run a write transaction; on failure, drop what memory may hold of it. */
  #write<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (err) {
      this.log.invalidate();
      this.members.invalidate();
      this.#meta.invalidate();
      this.#latest.invalidate();
      throw err;
    }
  }

  #onMembersLoaded(): void {
    this.pushes.recover();
    if (this.pushes.busy) {
      this.pushes.kick();
      this.#alarm.atOrBefore(Date.now() + ALARM_EVERY_MS);
    }
  }

  #broadcast(frame: RoomEvent | ServerFrame, except?: WebSocket): void {
    this.broadcastRaw(JSON.stringify(frame), except);
  }

}
