/**
 * Room — one Durable Object per room: its timeline (room/log.ts), members and
 * read cursors with derived unread counts (room/members.ts), pushes to the
 * badge hubs (room/pushes.ts), typing (room/activity.ts), and the viewers'
 * hibernatable sockets (lib/socket-object.ts). The Worker calls it with
 * native RPC; only the socket upgrade goes through `fetch`.
 *
 * Cost rule: a message writes a bounded number of rows whatever the room's
 * size (the message row and its index entries, plus at most the sender's
 * cursor and the pushed-version mark); per member it only reads and sends.
 * Callers wait for the room's own commit, never for pushes to other objects.
 */
import {
  type ClientFrame,
  CLOSE,
  type CountTrigger,
  type FileInfo,
  HEARTBEAT,
  LIMITS,
  MAX_SOCKETS_PER_USER,
  type Message,
  RATE_LIMIT,
  READ_RATE_LIMIT,
  type Receipt,
  type Role,
  type RoomEvent,
  type ServerFrame,
  TYPING_TTL_MS,
} from "./protocol";
import { newId } from "./lib/encoding";
import { type CountFor, hubShardName, hubShards } from "./lib/hub";
import { migrate } from "./lib/sql-migrations";
import { type BaseAttachment, SocketObject, userTag } from "./lib/socket-object";
import { TokenBuckets } from "./lib/rate";
import { safeClose } from "./lib/ws";
import { Activities, type Activity } from "./room/activity";
import { activityFrame, frameSize, parseFrame, send, sendError, socketCode } from "./room/frames";
import { type Actor, EventLog, type Failure } from "./room/log";
import { applyMembership, type D1Room } from "./room/membership";
import { type MemberInput, Members } from "./room/members";
import { RoomMeta } from "./room/meta";
import { Presence } from "./room/presence";
import { Pushes } from "./room/pushes";
import { ROOM_MIGRATIONS } from "./room/schema";
import { UPGRADE_HEADERS } from "./room/contract";

export { UPGRADE_HEADERS };
export type { Actor, Failure };

interface Attachment extends BaseAttachment {
  username: string;
}

export type SendOutcome = { ok: true; message: Message; seq: number; duplicate: boolean } | Failure;
export type ReadOutcome = { ok: true; readSeq: number; unread: number; changed: boolean } | Failure;

/** A member as tests and the Worker see it. */
export interface StoredMember {
  userId: string;
  username: string;
  role: Role;
  readSeq: number;
  unread: number;
}

/** How often the alarm runs while sockets are open (half-open detection: idleMs + this ≤ 60 s). */
export const ALARM_EVERY_MS = 25_000;
/** An upload shows "… is uploading" at most this long if nobody clears it. */
const UPLOADING_TTL_MS = 10 * 60 * 1000;

export class Room extends SocketObject<Attachment> {
  readonly log: EventLog;
  readonly members: Members;
  readonly pushes: Pushes;
  readonly #activity: Activities;
  readonly #sends = new TokenBuckets(RATE_LIMIT);
  readonly #reads = new TokenBuckets(READ_RATE_LIMIT);
  /** The alarm time as this instance last set or saw it (undefined: not known yet). */
  #alarmAt: number | null | undefined;
  readonly #meta: RoomMeta;
  readonly #presence: Presence;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage, this.sql, ROOM_MIGRATIONS);
    this.#meta = new RoomMeta(this.sql);
    this.#presence = new Presence(
      () => this.openSockets().flatMap((ws) => this.attachment(ws) ?? []),
      (frame) => this.#broadcastFrame(frame),
    );
    this.log = new EventLog(this.sql);
    this.members = new Members(this.sql, this.log, () => this.#onMembersLoaded());
    this.#activity = new Activities(this.sql);
    const shards = hubShards(env);
    this.pushes = new Pushes(
      {
        sql: this.sql,
        members: this.members,
        meter: this.meter,
        roomId: () => this.#meta.get("room_id"),
        shardOf: (userId) => hubShardName(userId, shards),
        retryAt: (at) => this.#scheduleAlarm(at),
      },
      (shard, batch) => this.env.USER_HUB.getByName(shard).deliver(batch),
    );
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
    const [room, members] = await this.env.DB.batch<Record<string, unknown>>([
      this.env.DB.prepare("SELECT id, name, owner_id, created_at, version FROM rooms WHERE id = ?").bind(roomId),
      this.env.DB.prepare(
        `SELECT m.user_id AS userId, u.username AS username, m.role AS role, m.joined_at AS joinedAt
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?`,
      ).bind(roomId),
    ]);
    const row = room!.results[0] as D1Room | undefined;
    this.#applyMembership(roomId, row, (members!.results as unknown as MemberInput[]) ?? []);
    return this.membersList();
  }

  /** The members this room knows, with their cursors and counts. */
  membersList(): StoredMember[] {
    return this.members
      .list()
      .map((m) => ({ userId: m.userId, username: m.username, role: m.role, readSeq: m.readSeq, unread: m.unread }))
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
    return { n: m.unread, version: this.members.version(m) };
  }

  // ================================================================ RPC: reading

  /** Latest messages, everyone's cursors and the caller's own, and the head they are current at. */
  snapshot(
    userId: string,
    limit = 50,
  ): { messages: Message[]; hasMore: boolean; seq: number; receipts: Receipt[]; readSeq: number; unread: number } {
    this.meter.count("requests");
    const seq = this.log.head();
    const me = this.members.get(userId);
    return {
      ...this.log.history(undefined, limit),
      seq,
      receipts: this.members.list().map((m) => this.members.receipt(m)),
      readSeq: me?.readSeq ?? seq,
      unread: me?.unread ?? 0,
    };
  }

  history(before: number | undefined, limit: number) {
    this.meter.count("requests");
    return this.log.history(before, limit);
  }

  eventsAfter(after: number) {
    this.meter.count("requests");
    return this.log.eventsAfter(after);
  }

  /** Who has the room open (distinct users with an open socket). */
  presence(): { userId: string; username: string }[] {
    return this.#presence.list();
  }

  // ================================================================ RPC: writing

  /** Send a message (the HTTP path; the socket path shares it). */
  async sendMessage(actor: Actor, clientId: string, text: string): Promise<SendOutcome> {
    this.meter.count("requests");
    return this.#send(actor, clientId, text);
  }

  editMessage(actor: Actor, messageId: string, text: string): { ok: true; event: RoomEvent | null; message: Message } | Failure {
    this.meter.count("requests");
    const message = this.log.messageById(messageId);
    if (!message || message.deletedAt !== null) return { ok: false, code: "not_found", message: "That message does not exist" };
    if (message.userId !== actor.id) return { ok: false, code: "forbidden", message: "You can only edit your own messages" };
    if (message.text === text) return { ok: true, event: null, message };
    const res = this.#write(() => this.log.editMessage(message, text, Date.now()));
    this.#broadcast(res.event);
    return { ok: true, ...res };
  }

  deleteMessage(actor: Actor, messageId: string): { ok: true; event: RoomEvent | null } | Failure {
    this.meter.count("requests");
    const message = this.log.messageById(messageId);
    if (!message) return { ok: false, code: "not_found", message: "That message does not exist" };
    if (message.userId !== actor.id && this.members.get(actor.id)?.role !== "owner") {
      return { ok: false, code: "forbidden", message: "You can only delete your own messages" };
    }
    if (message.deletedAt !== null) return { ok: true, event: null };
    const { event, changed } = this.#write(() => {
      const event = this.log.deleteMessage(message, Date.now());
      return { event, changed: this.members.itemRemoved({ seq: message.seq, userId: message.userId }) };
    });
    this.#broadcast(event);
    this.#pushed(changed, "message_deleted");
    return { ok: true, event };
  }

  /**
   * Move the caller's read cursor to `seq` (forward only), or back to before
   * `seq` with `back` ("mark unread from here"). A receipt goes to the room's
   * sockets (not into the log) and the new count to the caller's badge.
   * Rate-limited; a no-op changes nothing.
   */
  markRead(actor: Actor, seq: number, back = false): ReadOutcome {
    this.meter.count("requests");
    const now = Date.now();
    const me = this.members.get(actor.id);
    if (!me) return { ok: false, code: "forbidden", message: "You are not a member of this room" };
    const wait = this.#reads.take(actor.id, now);
    if (wait > 0) return { ok: false, code: "rate_limited", message: `Slow down: try again in ${wait} s`, retryAfter: wait };
    const changed = this.#write(() => this.members.moveCursor(actor.id, back ? seq - 1 : seq, back));
    if (changed) {
      this.broadcastRaw(JSON.stringify({ type: "message_read", ts: now, receipt: this.members.receipt(me) } satisfies ServerFrame));
      this.#pushed([actor.id], "message_read");
    }
    return { ok: true, readSeq: me.readSeq, unread: me.unread, changed };
  }

  /**
   * Announce a file whose bytes are stored and whose metadata is committed:
   * `file_uploaded` to the room, counts to the hubs. Idempotent by file id.
   */
  announceFile(file: Omit<FileInfo, "seq">): { seq: number; duplicate: boolean } {
    this.meter.count("requests");
    const known = this.log.fileSeq(file.file_id);
    if (known !== undefined) return { seq: known, duplicate: true };
    const { event, changed } = this.#write(() => {
      const event = this.log.addFile(file, Date.now());
      const changed = this.members.itemAdded({ seq: event.seq, userId: file.uploader_id });
      return { event, changed: [...changed, ...this.#catchUp(file.uploader_id, event.seq)] };
    });
    for (const t of this.#activity.clear(file.uploader_id, "uploading")) this.#broadcastFrame(activityFrame(t, false));
    this.#broadcast(event);
    this.#pushed(changed, "file_upload");
    return { seq: event.seq, duplicate: false };
  }

  /** Announce a deleted file: every member's Files list drops it live. */
  removeFile(fileId: string): number | null {
    this.meter.count("requests");
    const res = this.#write(() => {
      const gone = this.log.deleteFile(fileId, Date.now());
      return gone && { event: gone.event, changed: this.members.itemRemoved(gone.item) };
    });
    if (!res) return null;
    this.#broadcast(res.event);
    this.#pushed(res.changed, "file_deleted");
    return res.event.seq;
  }

  /** "… is uploading" while an upload is in flight (the Worker sets and clears it). */
  setUploading(actor: Actor, on: boolean): void {
    this.meter.count("requests");
    this.#setActivity(actor, "uploading", on);
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
    const roomId = request.headers.get(UPGRADE_HEADERS.roomId);
    const userId = request.headers.get(UPGRADE_HEADERS.userId);
    const username = request.headers.get(UPGRADE_HEADERS.username);
    const session = request.headers.get(UPGRADE_HEADERS.session);
    if (!roomId || !userId || !username || !session) return new Response("Missing identity", { status: 400 });
    // The room authorises its sockets from its own member list (D1's, as last synced); someone it does
    // not know is looked up in D1 once, so a member added a moment ago gets in.
    if (!this.members.get(userId)) await this.syncMembers(roomId);
    if (!this.#meta.get("room_id")) return new Response("Room not found", { status: 404 });
    if (!this.members.get(userId)) return new Response("Not a member", { status: 403 });

    const att: Attachment = { userId, username, connectionId: newId(), connectedAt: Date.now() };
    const { client, server, refused } = this.accept(att, session, MAX_SOCKETS_PER_USER, `too many connections (at most ${MAX_SOCKETS_PER_USER} per user per room)`);
    if (refused) return new Response(null, { status: 101, webSocket: client });

    const afterParam = new URL(request.url).searchParams.get("after");
    const head = this.log.head();
    send(server, { type: "hello", seq: head, userId, connectionId: att.connectionId });
    let since: number | undefined;
    if (afterParam !== null) {
      const after = /^\d{1,15}$/.test(afterParam) ? Number(afterParam) : -1;
      const replay = this.log.eventsAfter(after);
      if (replay.ok) {
        for (const event of replay.events) send(server, event);
        since = after;
      } else send(server, { type: "resync_required", seq: head });
    }
    send(server, { type: "receipts", receipts: this.members.receiptsSince(since) });
    send(server, { type: "live", seq: head });
    this.#presence.joined(userId, username);
    send(server, { type: "presence", users: this.presence() });
    for (const t of this.#activity.current(Date.now())) send(server, activityFrame(t, true));
    this.#scheduleAlarm(Date.now() + ALARM_EVERY_MS);
    return new Response(null, { status: 101, webSocket: client });
  }

  protected override async onMessage(ws: WebSocket, att: Attachment, raw: string | ArrayBuffer): Promise<void> {
    if (frameSize(raw) > LIMITS.frameMaxBytes) return sendError(ws, "frame_too_large", `Frames must be at most ${LIMITS.frameMaxBytes / 1024} KiB`);
    if (typeof raw !== "string") return sendError(ws, "invalid_frame", "Binary frames are not supported");
    const frame = parseFrame(raw);
    if (!frame.ok) return sendError(ws, "invalid_frame", frame.message, { clientId: frame.clientId });
    if (!this.members.get(att.userId)) return safeClose(ws, CLOSE.policy, "removed from room");
    await this.#handle(ws, { id: att.userId, username: att.username }, frame.value);
  }

  protected override onClose(ws: WebSocket, att: Attachment): void {
    if (this.userOnline(att.userId, ws)) return;
    for (const t of this.#activity.clear(att.userId)) this.#broadcastFrame(activityFrame(t, false), ws);
    this.#presence.left(att.userId, att.username);
  }

  /**
   * While sockets are open, every ALARM_EVERY_MS: drop half-open sockets,
   * expire typing, retry failed pushes, and compare the membership version
   * with D1's (R14). Idempotent: it compares stored state with now.
   */
  protected override async onAlarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    void this.members.size; // load (and recover pushes) on a fresh instance
    for (const ws of this.idleSockets(now, HEARTBEAT.idleMs)) {
      safeClose(ws, CLOSE.idle, "no heartbeat");
      const att = this.attachment(ws);
      if (att) this.onClose(ws, att);
    }
    for (const gone of this.#activity.expire(now)) this.#broadcastFrame(activityFrame(gone, false));
    if (this.pushes.busy) this.pushes.retry();
    const roomId = this.#meta.get("room_id");
    if (roomId && this.openSockets().length > 0) {
      const row = await this.env.DB.prepare("SELECT version FROM rooms WHERE id = ?").bind(roomId).first<{ version: number }>();
      if ((row?.version ?? Number.MAX_SAFE_INTEGER) !== Number(this.#meta.get("synced_version") ?? 0)) await this.syncMembers(roomId);
    }
    this.#scheduleNextAlarm(now);
  }

  // ================================================================ internals

  async #handle(ws: WebSocket, actor: Actor, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case "send": {
        const res = await this.#send(actor, frame.clientId, frame.text);
        if (!res.ok) return sendError(ws, socketCode(res.code), res.message, { clientId: frame.clientId, retryAfter: res.retryAfter });
        send(ws, { type: "ack", clientId: frame.clientId, messageId: res.message.id, seq: res.seq, duplicate: res.duplicate });
        return;
      }
      case "read":
      case "mark_unread": {
        const res = this.markRead(actor, frame.seq, frame.type === "mark_unread");
        if (!res.ok) sendError(ws, socketCode(res.code), res.message, { retryAfter: res.retryAfter });
        return;
      }
      case "edit":
      case "delete": {
        const res = frame.type === "edit" ? this.editMessage(actor, frame.messageId, frame.text) : this.deleteMessage(actor, frame.messageId);
        if (!res.ok) return sendError(ws, socketCode(res.code), res.message, { ref: frame.ref });
        if (frame.ref) send(ws, { type: "done", ref: frame.ref, seq: res.event?.seq ?? this.log.head() });
        return;
      }
      case "typing":
        this.#setActivity(actor, "typing", frame.typing, ws);
        return;
    }
  }

  /** Rate-limit, store (or find the original), then broadcast what is new. */
  async #send(actor: Actor, clientId: string, text: string): Promise<SendOutcome> {
    const now = Date.now();
    let member = this.members.get(actor.id);
    // Added in D1 but the room did not hear of it (R14): ask D1 once.
    if (!member && this.#meta.get("room_id")) {
      await this.syncMembers(this.#meta.get("room_id")!);
      member = this.members.get(actor.id);
    }
    if (!member) return { ok: false, code: "forbidden", message: "You are not a member of this room" };
    // A retry of a stored send is answered with the original, without spending a token.
    const original = this.log.messageByClientId(actor.id, clientId);
    if (original) return { ok: true, message: original, seq: original.seq, duplicate: true };
    const wait = this.#sends.take(actor.id, now);
    if (wait > 0) return { ok: false, code: "rate_limited", message: `Slow down: try again in ${wait} s`, retryAfter: wait };
    const { message, event, changed } = this.#write(() => {
      const { message, event } = this.log.addMessage({ id: actor.id, username: member.username || actor.username }, clientId, text, now);
      const changed = this.members.itemAdded({ seq: message.seq, userId: actor.id });
      return { message, event, changed: [...changed, ...this.#catchUp(actor.id, message.seq)] };
    });
    for (const t of this.#activity.clear(actor.id, "typing")) this.#broadcastFrame(activityFrame(t, false));
    this.#broadcast(event);
    this.#pushed(changed, "new_message");
    return { ok: true, message, seq: message.seq, duplicate: false };
  }

  /**
   * Someone who posts has read what came before: move their cursor to their
   * own item — but only when that changes their count (no row otherwise).
   */
  #catchUp(userId: string, seq: number): string[] {
    const m = this.members.get(userId);
    return m && m.unread > 0 && this.members.moveCursor(userId, seq, false) ? [userId] : [];
  }

  #setActivity(actor: Actor, activity: Activity, on: boolean, except?: WebSocket): void {
    if (on) {
      const ttl = activity === "typing" ? TYPING_TTL_MS : UPLOADING_TTL_MS;
      if (this.#activity.set(actor, activity, Date.now() + ttl)) this.#broadcastFrame(activityFrame({ ...actor, activity }, true), except);
      this.#scheduleAlarm(Date.now() + ttl);
    } else {
      for (const t of this.#activity.clear(actor.id, activity)) this.#broadcastFrame(activityFrame(t, false), except);
    }
  }

  /** D1's view of the room, applied in one transaction (room/membership.ts); then its effects. */
  #applyMembership(roomId: string, room: D1Room | undefined, list: MemberInput[]): void {
    const deps = { meta: this.#meta, members: this.members, log: this.log, activity: this.#activity, pushes: this.pushes, shardOf: (u: string) => this.#shard(u) };
    const res = this.#write(() => applyMembership(deps, roomId, room, list, Date.now()));
    if (!res) return;
    for (const m of res.removed) {
      this.closeTagged(userTag(m.userId), CLOSE.policy, "removed from room");
      this.#presence.left(m.userId, m.username);
    }
    for (const e of res.events) this.#broadcast(e);
    this.#pushed([], "membership");
    // Tell D1 this version is applied, so the repair cron passes this room by (a failure only repeats the sync).
    if (room) {
      this.ctx.waitUntil(
        this.env.DB.prepare("UPDATE rooms SET synced_version = ? WHERE id = ? AND synced_version < ?")
          .bind(res.version, roomId, res.version)
          .run()
          .catch((err) => console.error(`${this.label()}: recording the synced version failed`, err)),
      );
    }
  }

  #shard(userId: string): string {
    return hubShardName(userId, hubShards(this.env));
  }

  /** After a write that changed these members' counts: push, off the caller's path, with the alarm as backstop. */
  #pushed(changed: Iterable<string>, trigger: CountTrigger): void {
    this.pushes.markDirty(changed, trigger);
    this.pushes.kick();
    this.#scheduleAlarm(Date.now() + ALARM_EVERY_MS);
  }

  /** Run a write transaction; on failure, drop what memory may hold of it. */
  #write<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (err) {
      this.log.invalidate();
      this.members.invalidate();
      this.#meta.invalidate();
      throw err;
    }
  }

  #onMembersLoaded(): void {
    this.pushes.recover();
    if (this.pushes.busy) {
      this.pushes.kick();
      this.#scheduleAlarm(Date.now() + ALARM_EVERY_MS);
    }
  }

  /** Have the alarm run at `at` or sooner. Set in the same turn as the write it protects. */
  #scheduleAlarm(at: number): void {
    if (this.#alarmAt !== undefined && this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  #scheduleNextAlarm(now: number): void {
    const wants = [
      this.openSockets().length > 0 ? now + ALARM_EVERY_MS : Infinity,
      this.#activity.nextExpiry() ?? Infinity,
      this.pushes.busy ? now + ALARM_EVERY_MS : Infinity,
    ];
    const at = Math.min(...wants);
    if (at !== Infinity) this.#scheduleAlarm(Math.max(at, now + 1));
  }

  #broadcast(event: RoomEvent | null): void {
    if (event) this.broadcastRaw(JSON.stringify(event));
  }

  #broadcastFrame(frame: ServerFrame, except?: WebSocket): void {
    this.broadcastRaw(JSON.stringify(frame), except);
  }

}
