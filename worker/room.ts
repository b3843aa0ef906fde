/**
 * Room — one Durable Object per room. It owns the room's timeline (a
 * sequenced event log in its SQLite, see room/store.ts) and its viewers'
 * hibernatable WebSockets. The Worker calls it with native RPC; only the
 * socket upgrade goes through `fetch`.
 *
 * Hibernation-safe: nothing that matters lives in memory. A socket's identity
 * is in its attachment and tags; typing, rate limits and cursors are in
 * SQLite; timers are alarms.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type ClientFrame,
  ClientFrame as ClientFrameSchema,
  CLOSE,
  HEARTBEAT,
  LIMITS,
  MAX_SOCKETS_PER_USER,
  PING_FRAME,
  PONG_FRAME,
  type Role,
  type RoomEvent,
  type ServerFrame,
  type SocketErrorCode,
  TYPING_TTL_MS,
  type CountTrigger,
  type Message,
  type Receipt,
  type FileInfo,
} from "./protocol";
import { hubShardName, hubShards } from "./lib/hub";
import type { CountUpdate } from "./room/read-state";
import { type ActiveUser, type Activity, type Actor, type Failure, RoomStore, type StoredMember } from "./room/store";
import { newId } from "./lib/encoding";
import { safeClose, trySend } from "./lib/ws";

/** What a socket remembers across hibernation (ids only, well under 2 KB). */
interface Attachment {
  userId: string;
  username: string;
  connectionId: string;
  connectedAt: number;
}

/** Internal headers the Worker sets on the upgrade it forwards (never taken from a client). */
export const UPGRADE_HEADERS = {
  roomId: "X-Parley-Room",
  userId: "X-Parley-User-Id",
  username: "X-Parley-Username",
  session: "X-Parley-Session",
} as const;

const userTag = (userId: string) => `u:${userId}`;
const sessionTag = (sessionHash: string) => `s:${sessionHash}`;
const ALARM_EVERY_MS = 15_000;

export type SendOutcome = { ok: true; message: Message; seq: number; duplicate: boolean } | Failure;

/** An upload shows "… is uploading" at most this long if nobody clears it (the Worker died mid-upload). */
const UPLOADING_TTL_MS = 10 * 60 * 1000;

/** Presence changes are sent in batches this long apart. */
const PRESENCE_BATCH_MS = 250;

/** The least time between two pushes to the hubs while changes keep coming (the first goes at once). */
const FLUSH_GAP_MS = 40;

/** How soon the alarm retries count pushes that failed. */
const COUNT_RETRY_MS = 1000;

export class Room extends DurableObject<Env> {
  private readonly store: RoomStore;
  /** In-memory only to coalesce pushes; the outbox itself is durable. */
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private lastTrigger: CountTrigger = "new_message";
  private readonly presenceQueue = new Map<string, { username: string; online: boolean }>();
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage);
    // Pings are answered by the runtime without waking the object; the
    // answer's timestamp tells the alarm which sockets went silent.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // ================================================================ RPC

  /**
   * Reload the member list from D1 (the source of truth) and close the
   * sockets of anyone no longer a member (1008). Idempotent: the Worker calls
   * it after every membership change, and a failed call is repaired by the next.
   */
  async syncMembers(roomId: string): Promise<StoredMember[]> {
    const { results } = await this.env.DB.prepare(
      `SELECT m.user_id AS userId, u.username AS username, m.role AS role
       FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?`,
    )
      .bind(roomId)
      .all<{ userId: string; username: string; role: Role }>();
    this.store.roomId = roomId;
    const removed = this.store.replaceMembers(results);
    for (const userId of removed) {
      for (const ws of this.ctx.getWebSockets(userTag(userId))) safeClose(ws, CLOSE.policy, "removed from room");
    }
    await this.flushCounts("membership");
    return this.store.members();
  }

  /** The members this room knows, with their read cursors. */
  members(): StoredMember[] {
    return this.store.members();
  }

  /**
   * Latest messages, everyone's read cursors and the caller's own, and the
   * head they are all current at (fetch-then-subscribe loses nothing).
   */
  snapshot(
    userId: string,
    limit = 50,
  ): { messages: Message[]; hasMore: boolean; seq: number; receipts: Receipt[]; readSeq: number; unread: number } {
    const seq = this.store.head();
    const members = this.store.members();
    const me = members.find((m) => m.userId === userId);
    return {
      ...this.store.history(undefined, limit),
      seq,
      receipts: members.map((m) => ({ userId: m.userId, username: m.username, upTo: m.readSeq })),
      readSeq: me?.readSeq ?? seq,
      unread: me?.unread ?? 0,
    };
  }

  history(before: number | undefined, limit: number) {
    return this.store.history(before, limit);
  }

  eventsAfter(after: number) {
    return this.store.eventsAfter(after);
  }

  /** Send a message (the HTTP path; the socket path shares everything below). */
  async sendMessage(actor: Actor, clientId: string, text: string): Promise<SendOutcome> {
    const res = this.doSend(actor, clientId, text);
    if (res.ok && !res.duplicate) await this.flushCounts("new_message");
    return res;
  }

  editMessage(actor: Actor, messageId: string, text: string) {
    const res = this.store.editMessage(actor, messageId, text, Date.now());
    if (res.ok && res.event) this.broadcast(res.event);
    return res;
  }

  async deleteMessage(actor: Actor, messageId: string) {
    const res = this.store.deleteMessage(actor, messageId, Date.now());
    if (res.ok && res.event) {
      this.broadcast(res.event);
      await this.flushCounts("message_deleted");
    }
    return res;
  }

  /**
   * Move the caller's read cursor to `seq` (forward only), or back to before
   * `seq` with `back` ("mark unread from here"). Broadcasts the receipt and
   * pushes the new count to the caller's badge. A no-op creates no event.
   */
  async markRead(actor: Actor, seq: number, back = false): Promise<{ readSeq: number; unread: number; changed: boolean }> {
    if (!this.store.member(actor.id)) return { readSeq: 0, unread: 0, changed: false };
    const { event, unread } = this.store.markRead(actor, back ? seq - 1 : seq, back, Date.now());
    if (event) {
      this.broadcast(event);
      await this.flushCounts("message_read");
    }
    return { readSeq: this.store.member(actor.id)?.readSeq ?? 0, unread, changed: event !== null };
  }

  /** Close every socket of one session (sign out). */
  closeSession(sessionHash: string): number {
    const sockets = this.ctx.getWebSockets(sessionTag(sessionHash));
    for (const ws of sockets) safeClose(ws, CLOSE.policy, "signed out");
    return sockets.length;
  }

  /**
   * Announce a file whose bytes are stored and whose metadata is committed
   * (invariant 6): `file_uploaded` to the room, counts to the hubs. Idempotent
   * by file id (a retry returns the original seq).
   */
  async announceFile(file: Omit<FileInfo, "seq">): Promise<{ seq: number; duplicate: boolean }> {
    const { seq, event } = this.store.fileUploaded(file, Date.now());
    for (const t of this.store.clearActivity(file.uploader_id, "uploading")) this.broadcastEphemeral(activityFrame(t, false));
    if (event) {
      this.broadcast(event);
      await this.flushCounts("file_upload");
    }
    return { seq, duplicate: event === null };
  }

  /** Announce a deleted file: every member's Files list drops it live. */
  async removeFile(fileId: string): Promise<number | null> {
    const event = this.store.fileDeleted(fileId, Date.now());
    if (!event) return null;
    this.broadcast(event);
    await this.flushCounts("file_deleted");
    return event.seq;
  }

  /** "… is uploading" while an upload is in flight (the Worker sets and clears it). */
  async setUploading(actor: Actor, on: boolean): Promise<void> {
    await this.setActivity(actor, "uploading", on);
  }

  /**
   * Reset the object as a crash or redeploy would: every socket drops and the
   * next call builds a fresh instance from storage. Only reachable through the
   * benchmark hook (BENCH_HOOKS=1).
   */
  reset(): void {
    this.ctx.abort("reset by the benchmark");
  }

  /** Who has the room open (distinct users with an open socket). */
  presence(): { userId: string; username: string }[] {
    const seen = new Map<string, string>();
    for (const ws of this.openSockets()) {
      const a = attachment(ws);
      if (a) seen.set(a.userId, a.username);
    }
    return [...seen].map(([userId, username]) => ({ userId, username }));
  }

  // ================================================================ sockets

  /** The WebSocket upgrade, forwarded by the Worker after auth, Origin and membership checks. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const roomId = request.headers.get(UPGRADE_HEADERS.roomId);
    const userId = request.headers.get(UPGRADE_HEADERS.userId);
    const username = request.headers.get(UPGRADE_HEADERS.username);
    const session = request.headers.get(UPGRADE_HEADERS.session);
    if (!roomId || !userId || !username || !session) return new Response("Missing identity", { status: 400 });
    if (!this.store.member(userId)) await this.syncMembers(roomId);
    if (!this.store.member(userId)) return new Response("Not a member", { status: 403 });

    const { 0: client, 1: server } = new WebSocketPair();
    const crowded = this.ctx.getWebSockets(userTag(userId)).length >= MAX_SOCKETS_PER_USER;
    this.ctx.acceptWebSocket(server, [userTag(userId), sessionTag(session)]);
    if (crowded) {
      safeClose(server, CLOSE.tooManyConnections, `too many connections (at most ${MAX_SOCKETS_PER_USER} per user per room)`);
      return new Response(null, { status: 101, webSocket: client });
    }
    const att: Attachment = { userId, username, connectionId: newId(), connectedAt: Date.now() };
    server.serializeAttachment(att);

    const afterParam = new URL(request.url).searchParams.get("after");
    const head = this.store.head();
    send(server, { type: "hello", seq: head, userId, connectionId: att.connectionId });
    if (afterParam !== null) {
      const after = /^\d{1,15}$/.test(afterParam) ? Number(afterParam) : -1;
      const replay = this.store.eventsAfter(after);
      if (replay.ok) for (const event of replay.events) send(server, event);
      else send(server, { type: "resync_required", seq: head });
    }
    send(server, { type: "live", seq: head });
    send(server, { type: "presence", users: this.presence() });
    if (this.ctx.getWebSockets(userTag(userId)).length === 1) this.presenceChanged(userId, username, true);
    for (const t of this.store.activities(Date.now())) send(server, activityFrame(t, true));
    await this.ensureAlarm();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const att = attachment(ws);
      if (!att) return safeClose(ws, CLOSE.policy, "unknown connection");
      const size = typeof raw === "string" ? utf8Length(raw) : raw.byteLength;
      if (size > LIMITS.frameMaxBytes) {
        return sendError(ws, "frame_too_large", `Frames must be at most ${LIMITS.frameMaxBytes / 1024} KiB`);
      }
      if (typeof raw !== "string") return sendError(ws, "invalid_frame", "Binary frames are not supported");
      const frame = parseFrame(raw);
      if (!frame.ok) return sendError(ws, "invalid_frame", frame.message, frame.clientId);
      if (!this.store.member(att.userId)) return safeClose(ws, CLOSE.policy, "removed from room");
      await this.handle(ws, { id: att.userId, username: att.username }, frame.value);
    } catch (err) {
      console.error(`room ${this.store.roomId ?? "?"}: webSocketMessage failed`, err);
      sendError(ws, "internal", "Something went wrong; try again");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      safeClose(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
      this.socketGone(ws);
    } catch (err) {
      console.error(`room ${this.store.roomId ?? "?"}: webSocketClose failed`, err);
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.error(`room ${this.store.roomId ?? "?"}: socket error`, error);
    try {
      this.socketGone(ws);
    } catch (err) {
      console.error(`room ${this.store.roomId ?? "?"}: webSocketError cleanup failed`, err);
    }
  }

  /**
   * Every ALARM_EVERY_MS while sockets are open: drop half-open sockets (no
   * ping within HEARTBEAT.idleMs) and expire typing indicators. Idempotent:
   * it only compares stored times with now, so a repeated run changes nothing.
   */
  override async alarm(): Promise<void> {
    try {
      const now = Date.now();
      for (const ws of this.openSockets()) {
        const att = attachment(ws);
        const lastPing = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
        const lastSeen = Math.max(lastPing, att?.connectedAt ?? 0);
        if (now - lastSeen > HEARTBEAT.idleMs) {
          safeClose(ws, CLOSE.idle, "no heartbeat");
          this.socketGone(ws);
        }
      }
      for (const gone of this.store.expireActivity(now)) this.broadcastEphemeral(activityFrame(gone, false));
      // Retry count pushes that did not reach their hubs.
      await this.flushCounts(this.lastTrigger);
      await this.ensureAlarm(true);
    } catch (err) {
      console.error(`room ${this.store.roomId ?? "?"}: alarm failed`, err);
    }
  }

  // ================================================================ internals

  private async handle(ws: WebSocket, actor: Actor, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case "send": {
        const res = this.doSend(actor, frame.clientId, frame.text);
        if (!res.ok) return sendError(ws, socketCode(res.code), res.message, frame.clientId, res.retryAfter);
        send(ws, { type: "ack", clientId: frame.clientId, messageId: res.message.id, seq: res.seq, duplicate: res.duplicate });
        if (!res.duplicate) await this.flushCounts("new_message");
        return;
      }
      case "read":
      case "mark_unread": {
        await this.markRead(actor, frame.seq, frame.type === "mark_unread");
        return;
      }
      case "edit":
      case "delete": {
        const res = frame.type === "edit" ? this.editMessage(actor, frame.messageId, frame.text) : await this.deleteMessage(actor, frame.messageId);
        if (!res.ok) {
          return sendError(ws, socketCode(res.code), res.message, undefined, undefined, frame.ref);
        }
        if (frame.ref) send(ws, { type: "done", ref: frame.ref, seq: res.event?.seq ?? this.store.head() });
        return;
      }
      case "typing": {
        await this.setActivity(actor, "typing", frame.typing, ws);
        return;
      }
    }
  }

  private async setActivity(actor: Actor, activity: Activity, on: boolean, except?: WebSocket): Promise<void> {
    if (on) {
      const ttl = activity === "typing" ? TYPING_TTL_MS : UPLOADING_TTL_MS;
      if (this.store.setActivity(actor, activity, Date.now() + ttl)) {
        this.broadcastEphemeral(activityFrame({ ...actor, activity }, true), except);
      }
      await this.ensureAlarm();
    } else {
      for (const t of this.store.clearActivity(actor.id, activity)) this.broadcastEphemeral(activityFrame(t, false), except);
    }
  }

  /** Rate-limit, store (or find the original), then broadcast what is new. */
  private doSend(actor: Actor, clientId: string, text: string): SendOutcome {
    const now = Date.now();
    const member = this.store.member(actor.id);
    if (!member) return { ok: false, code: "forbidden", message: "You are not a member of this room" };
    // A retry of a stored send is answered with the original, without spending a token.
    const original = this.store.messageByClientId(actor.id, clientId);
    if (original) return { ok: true, message: original, seq: original.seq, duplicate: true };
    const wait = this.store.takeToken(actor.id, now);
    if (wait > 0) return { ok: false, code: "rate_limited", message: `Slow down: try again in ${wait} s`, retryAfter: wait };
    const { message, event } = this.store.sendMessage({ id: actor.id, username: member.username || actor.username }, clientId, text, now);
    if (event) {
      for (const t of this.store.clearActivity(actor.id, "typing")) this.broadcastEphemeral(activityFrame(t, false));
      this.broadcast(event);
    }
    return { ok: true, message, seq: message.seq, duplicate: event === null };
  }

  /**
   * Push queued count changes to the UserHub shards: ONE call per shard that
   * holds an affected member, carrying all of that shard's updates (never one
   * call per member). Delivered updates leave the durable outbox; failed ones
   * stay and the alarm retries them. Concurrent calls coalesce: while a push
   * is in flight, later changes wait and go out together in the next one.
   */
  private async flushCounts(trigger: CountTrigger): Promise<void> {
    this.lastTrigger = trigger;
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    const run = async () => {
      for (let round = 0; ; round++) {
        // Under load, let changes pile up briefly so many messages share one call per shard.
        // (An optimisation only: the outbox is durable and the alarm backs it up.)
        if (round > 0) await new Promise((r) => setTimeout(r, FLUSH_GAP_MS));
        this.flushAgain = false;
        const roomId = this.store.roomId;
        const pending = this.store.reads.pending();
        if (!roomId || !pending.length) break;
        const shards = hubShards(this.env);
        const byShard = new Map<string, CountUpdate[]>();
        for (const u of pending) {
          const name = hubShardName(u.userId, shards);
          const list = byShard.get(name);
          if (list) list.push(u);
          else byShard.set(name, [u]);
        }
        const results = await Promise.allSettled(
          [...byShard].map(async ([name, updates]) => {
            await this.env.USER_HUB.getByName(name).applyCounts(roomId, updates, this.lastTrigger);
            return updates;
          }),
        );
        const delivered = results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
        this.store.reads.delivered(delivered);
        if (delivered.length < pending.length) {
          for (const r of results) if (r.status === "rejected") console.error(`room ${roomId}: count push failed`, r.reason);
          await this.ctx.storage.setAlarm(Date.now() + COUNT_RETRY_MS);
          break;
        }
        if (!this.flushAgain) break;
      }
    };
    // `.finally` runs after the assignment below, even when `run` finishes synchronously.
    const flight = run().finally(() => {
      if (this.flushing === flight) this.flushing = undefined;
    });
    this.flushing = flight;
    return flight;
  }

  private openSockets(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** Send a stored event to every open socket (after it is stored: the caller wrote it first). */
  private broadcast(event: RoomEvent): void {
    const data = JSON.stringify(event);
    for (const ws of this.openSockets()) trySend(ws, data);
  }

  private broadcastEphemeral(frame: ServerFrame, except?: WebSocket): void {
    const data = JSON.stringify(frame);
    for (const ws of this.openSockets()) if (ws !== except) trySend(ws, data);
  }

  /**
   * Someone opened the room (first socket) or left it (last socket). Changes
   * are batched for PRESENCE_BATCH_MS and go out as one small frame, so a
   * reconnect storm of n clients costs about n/batch frames per socket, not
   * n full lists (n²). Presence is ephemeral: a batch lost to an eviction is
   * repaired by the full list every socket gets when it (re)connects.
   */
  private presenceChanged(userId: string, username: string, online: boolean): void {
    this.presenceQueue.set(userId, { username, online });
    if (this.presenceTimer) return;
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = undefined;
      const changes = [...this.presenceQueue];
      this.presenceQueue.clear();
      const frame: ServerFrame = {
        type: "presence_changed",
        online: changes.filter(([, c]) => c.online).map(([id, c]) => ({ userId: id, username: c.username })),
        offline: changes.filter(([, c]) => !c.online).map(([id]) => id),
      };
      this.broadcastEphemeral(frame);
    }, PRESENCE_BATCH_MS);
  }

  /** A socket closed: clear its user's typing if it was their last, and tell the others. */
  private socketGone(ws: WebSocket): void {
    const att = attachment(ws);
    if (!att) return;
    const stillHere = this.ctx.getWebSockets(userTag(att.userId)).some((s) => s !== ws && s.readyState === WebSocket.OPEN);
    if (stillHere) return;
    for (const t of this.store.clearActivity(att.userId)) this.broadcastEphemeral(activityFrame(t, false), ws);
    this.presenceChanged(att.userId, att.username, false);
  }

  /** Keep an alarm scheduled while sockets are open or someone is typing. */
  private async ensureAlarm(reschedule = false): Promise<void> {
    const typing = this.store.nextActivityExpiry();
    const sockets = this.openSockets().length > 0;
    const countsPending = this.store.reads.pending().length > 0;
    if (!sockets && typing === undefined && !countsPending) return;
    const want = Math.min(Date.now() + (countsPending ? COUNT_RETRY_MS : ALARM_EVERY_MS), typing ?? Infinity);
    const current = reschedule ? null : await this.ctx.storage.getAlarm();
    if (current === null || current > want) await this.ctx.storage.setAlarm(want);
  }
}

// ================================================================== helpers

/** The socket error code for a room failure. */
function socketCode(code: Failure["code"]): SocketErrorCode {
  return code === "rate_limited" || code === "forbidden" || code === "not_found" ? code : "invalid_frame";
}

function activityFrame(a: ActiveUser, on: boolean): ServerFrame {
  return { type: "typing", userId: a.id, username: a.username, typing: on, activity: a.activity };
}

function attachment(ws: WebSocket): Attachment | undefined {
  return (ws.deserializeAttachment() as Attachment | null) ?? undefined;
}

function send(ws: WebSocket, frame: ServerFrame): void {
  trySend(ws, JSON.stringify(frame));
}

function sendError(ws: WebSocket, code: SocketErrorCode, message: string, clientId?: string, retryAfter?: number, ref?: string): void {
  send(ws, {
    type: "error",
    code,
    message,
    ...(clientId ? { clientId } : {}),
    ...(ref ? { ref } : {}),
    ...(retryAfter ? { retryAfter } : {}),
  });
}

function utf8Length(s: string): number {
  // Cheap upper bound first: UTF-8 never takes more than 3 bytes per UTF-16 unit.
  if (s.length * 3 <= LIMITS.frameMaxBytes) return s.length;
  return new TextEncoder().encode(s).byteLength;
}

/** Parse and validate a client frame; never throws. */
function parseFrame(raw: string): { ok: true; value: ClientFrame } | { ok: false; message: string; clientId?: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: "Frames must be JSON" };
  }
  const parsed = ClientFrameSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const clientId =
    typeof json === "object" && json !== null && "clientId" in json && typeof json.clientId === "string" ? json.clientId.slice(0, 64) : undefined;
  const issue = parsed.error.issues[0];
  // Our own messages are sentences for the user; zod's generic ones get the field name.
  const mine = issue && /^[A-Z]/.test(issue.message);
  const where = !mine && issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, message: `${where}${issue?.message ?? "Invalid frame"}`, ...(clientId ? { clientId } : {}) };
}
