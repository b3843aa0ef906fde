/**
 * UserHub — one Durable Object per shard of users (`fnv1a(userId) mod
 * HUB_SHARDS`): the hibernatable `/api/me/ws` sockets of its users' tabs,
 * tagged by user id, and the badge of each user who has a tab open.
 *
 * It keeps counts only for users with an open tab: when a user's first tab
 * connects, it builds their whole map (their rooms from D1, each room's
 * count by RPC, newest version wins), and drops it when their last tab
 * closes. A room calls `deliver` once per shard with the counts that changed
 * and any rooms-list notices (and, after a new message or file, the room's
 * latest activity: `room_activity`, no row); the hub writes a row only for
 * users who have a tab open (k rows for k such users) and pushes the numbers
 * to their tabs.
 * For a user with no tab open, `getUnread` asks their rooms directly: exact,
 * and only rows read. Each count carries, beside it, how many of those
 * messages mention the user (`mentions`, in the same row and frames).
 */
import { type Counts, type CountTrigger, type HubFrame, MAX_SOCKETS_PER_USER, type NotificationCountUpdate, type ServerFrame, type UnreadCounts } from "#protocol";
import type { CountFor, HubBatch, HubReply } from "./lib/hub";
import { migrate } from "./lib/sql-migrations";
import { type BaseAttachment, SocketObject, userTag } from "./lib/socket-object";
import { newId } from "./lib/encoding";
import { trySend } from "./lib/ws";
import { HUB_UPGRADE_HEADERS } from "./room/contract";

const HUB_MIGRATIONS: readonly string[] = [
  // 1 — the first version: a stored count for every (user, room), online or not.
  `CREATE TABLE IF NOT EXISTS unread (
     user_id TEXT NOT NULL, room_id TEXT NOT NULL, n INTEGER NOT NULL CHECK (n >= 0), version INTEGER NOT NULL,
     PRIMARY KEY (user_id, room_id)
   ) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;`,
  // 2 — counts only for users with a tab open (built on connect); `gone` keeps a removal's version.
  `DROP TABLE IF EXISTS stats;
   DROP TABLE IF EXISTS unread;
   CREATE TABLE counts (
     user_id TEXT NOT NULL, room_id TEXT NOT NULL, n INTEGER NOT NULL CHECK (n >= 0), version INTEGER NOT NULL,
     gone INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (user_id, room_id)
   ) WITHOUT ROWID;`,
  // 3 — beside each count, the messages of it that mention the user (issue #15).
  `ALTER TABLE counts ADD COLUMN mentions INTEGER NOT NULL DEFAULT 0;`,
];

type Attachment = BaseAttachment;

/** How soon a map that missed a room is built again. */
const REBUILD_RETRY_MS = 2000;

export class UserHub extends SocketObject<Attachment> {
  /** `deliver` calls this shard handled (tests and the benchmark). */
  #calls = 0;
  #updates = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrate(ctx.storage, this.sql, HUB_MIGRATIONS);
  }

  protected label(): string {
    return "user hub";
  }

  /** Calls and count entries this shard has handled since it started. */
  stats(): { applyCalls: number; updates: number } {
    return { applyCalls: this.#calls, updates: this.#updates };
  }

  /** The badge of one user: total and per-room counts (rooms at 0 omitted). Exact, tab open or not. */
  async getUnread(userId: string): Promise<UnreadCounts> {
    this.meter.count("requests");
    if (this.userOnline(userId)) return this.#stored(userId);
    const counts = await this.#ask(userId, [], false);
    const unread = tally();
    const mentions = tally();
    for (const [roomId, c] of counts) {
      if (c) {
        unread.add(roomId, c.n);
        mentions.add(roomId, c.mentions);
      }
    }
    return { ...unread.counts, mentions: mentions.counts };
  }

  /** Tell a user's open tabs something that concerns only them (e.g. `room_muted`); nothing is stored. */
  notify(userId: string, frame: HubFrame): void {
    this.meter.count("requests");
    this.#sendTo(userId, frame);
  }

  /**
   * A room's changes for users of this shard: counts (newest version wins; a
   * late, older one never overwrites a newer) and rooms-list notices. Only
   * users with a tab open are written and told. Returns those of the batch
   * who have no tab open here, so the room stops pushing to them (it starts
   * again when a tab of theirs connects and asks it for their count).
   */
  deliver(batch: HubBatch): HubReply {
    this.meter.count("requests");
    this.#calls++;
    this.#updates += batch.counts.length;
    const now = Date.now();
    const online = new Map<string, boolean>();
    const isOnline = (userId: string) => {
      let on = online.get(userId);
      if (on === undefined) {
        // A dead tab (half-open, or its session expired) is closed here rather than pushed to.
        this.reap(now, userTag(userId));
        online.set(userId, (on = this.userOnline(userId)));
      }
      return on;
    };
    const changed = new Set<string>();
    const frames: { userId: string; frame: HubFrame }[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const c of batch.counts) if (isOnline(c.userId) && this.#upsert(c.userId, batch.roomId, c.n, c.mentions ?? 0, c.version, false)) changed.add(c.userId);
      for (const n of batch.notices) {
        if (n.kind === "room_updated") {
          for (const userId of n.userIds) if (isOnline(userId)) frames.push({ userId, frame: { type: "room_updated", room: n.room } });
        } else if (isOnline(n.userId)) {
          const added = n.kind === "room_added";
          const moved = this.#upsert(n.userId, batch.roomId, added ? n.room.unread : 0, added ? (n.room.mentions ?? 0) : 0, n.version, !added);
          // room_added is idempotent for a client; a count frame only when the count really moved.
          if (added || moved) frames.push({ userId: n.userId, frame: added ? { type: "room_added", room: n.room } : { type: "room_removed", roomId: n.roomId } });
          if (moved) changed.add(n.userId);
        }
      }
    });
    if (batch.activity) {
      const { userIds, lastActivityAt, preview } = batch.activity;
      for (const userId of userIds) if (isOnline(userId)) frames.push({ userId, frame: { type: "room_activity", roomId: batch.roomId, lastActivityAt, preview } });
    }
    for (const { userId, frame } of frames) this.#sendTo(userId, frame);
    for (const userId of changed) this.#pushCount(userId, batch.roomId, batch.trigger);
    return { offline: [...online].filter(([, on]) => !on).map(([id]) => id) };
  }

  // ------------------------------------------------------------ sockets

  /** The `/api/me/ws` upgrade, forwarded by the Worker after auth and Origin checks. */
  override async fetch(request: Request): Promise<Response> {
    this.meter.count("requests");
    try {
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
      const userId = request.headers.get(HUB_UPGRADE_HEADERS.userId);
      const session = request.headers.get(HUB_UPGRADE_HEADERS.session);
      const expiresAt = Number(request.headers.get(HUB_UPGRADE_HEADERS.expires));
      if (!userId || !session || !Number.isSafeInteger(expiresAt)) return new Response("Missing identity", { status: 400 });
      const first = !this.userOnline(userId);
      const { client, server, refused } = this.accept(
        { userId, connectionId: newId(), connectedAt: Date.now(), expiresAt },
        session,
        MAX_SOCKETS_PER_USER,
        `too many connections (at most ${MAX_SOCKETS_PER_USER} tabs)`,
      );
      if (!refused) {
        // The first tab builds the map; later tabs share it. Either way the server's numbers replace the client's.
        if (first) await this.#build(userId);
        const frame: NotificationCountUpdate = { type: "notification_count_update", ...this.#stored(userId), trigger: "connect", full: true };
        trySend(server, JSON.stringify(frame));
        // Close it when its session expires, even if it never says a word (A9).
        const alarm = await this.ctx.storage.getAlarm();
        if (alarm === null || alarm > expiresAt) await this.ctx.storage.setAlarm(expiresAt);
      }
      return new Response(null, { status: 101, webSocket: client });
    } catch (err) {
      console.error(`${this.label()}: upgrade failed`, err);
      return new Response("Something went wrong", { status: 500 });
    }
  }

  protected override onMessage(ws: WebSocket): void {
    // Only pings are expected, and the runtime answers those; anything else gets a pong.
    trySend(ws, JSON.stringify({ type: "pong" } satisfies ServerFrame));
  }

  /** The user's last tab closed: forget their map (it is rebuilt when a tab connects). */
  protected override onClose(ws: WebSocket, att: Attachment): void {
    if (!this.userOnline(att.userId, ws)) this.sql.exec("DELETE FROM counts WHERE user_id = ?", att.userId);
  }

  /**
   * Close expired sessions' and half-open sockets; rebuild the maps whose
   * build missed a room, and send those users' tabs the result; then wake
   * again for the next retry or the next session expiry.
   */
  protected override async onAlarm(): Promise<void> {
    const now = Date.now();
    this.reap(now);
    for (const [key] of this.ctx.storage.kv.list({ prefix: "rebuild:" })) {
      const userId = key.slice("rebuild:".length);
      if (!this.userOnline(userId)) {
        this.ctx.storage.kv.delete(key);
        continue;
      }
      await this.#build(userId);
      const frame: NotificationCountUpdate = { type: "notification_count_update", ...this.#stored(userId), trigger: "recount", full: true };
      this.#sendTo(userId, frame);
    }
    const pending = [...this.ctx.storage.kv.list({ prefix: "rebuild:", limit: 1 })].length > 0;
    const retry = pending ? Date.now() + REBUILD_RETRY_MS : Infinity;
    const next = Math.min(retry, this.nextExpiry() ?? Infinity);
    if (next !== Infinity) await this.ctx.storage.setAlarm(next);
  }

  // ------------------------------------------------------------ internals

  /** Every room of the user, asked in parallel: their count and its version (null: the room says not a member). */
  async #ask(userId: string, failed: string[] = [], watch = true): Promise<Map<string, CountFor>> {
    const { results } = await this.env.DB.prepare("SELECT room_id AS roomId FROM memberships WHERE user_id = ?").bind(userId).all<{ roomId: string }>();
    const answers = await Promise.all(
      results.map(async ({ roomId }) => {
        try {
          return [roomId, await this.env.ROOM.getByName(roomId).countFor(userId, watch)] as const;
        } catch (err) {
          console.error(`${this.label()}: count of room ${roomId} unavailable; retried by the alarm`, err);
          failed.push(roomId);
          return [roomId, null] as const;
        }
      }),
    );
    return new Map(answers);
  }

  /**
   * Build a user's map from their rooms (newest version wins over what
   * arrived meanwhile). Asking a room for the count also makes that room push
   * this user's changes from now on; a room that did not answer is asked
   * again by the alarm (otherwise it would never know this tab is watching).
   */
  async #build(userId: string): Promise<void> {
    const failed: string[] = [];
    const counts = await this.#ask(userId, failed);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM counts WHERE user_id = ? AND room_id NOT IN (SELECT value FROM json_each(?))", userId, JSON.stringify([...counts.keys()]));
      for (const [roomId, c] of counts) if (c) this.#upsert(userId, roomId, c.n, c.mentions ?? 0, c.version, false);
    });
    if (failed.length) {
      this.ctx.storage.kv.put(`rebuild:${userId}`, 1);
      await this.ctx.storage.setAlarm(Date.now() + REBUILD_RETRY_MS);
    } else this.ctx.storage.kv.delete(`rebuild:${userId}`);
  }

  /** Newest version wins. Returns whether the stored counts or presence changed. */
  #upsert(userId: string, roomId: string, n: number, mentions: number, version: number, gone: boolean): boolean {
    const before = this.sql
      .exec<{ n: number; mentions: number; gone: number; version: number }>("SELECT n, mentions, gone, version FROM counts WHERE user_id = ? AND room_id = ?", userId, roomId)
      .toArray()[0];
    if (before && before.version > version) return false;
    if (before && before.n === n && before.mentions === mentions && Boolean(before.gone) === gone) {
      if (before.version !== version) this.sql.exec("UPDATE counts SET version = ? WHERE user_id = ? AND room_id = ?", version, userId, roomId);
      return false;
    }
    this.sql.exec(
      `INSERT INTO counts (user_id, room_id, n, mentions, version, gone) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, room_id) DO UPDATE SET n = excluded.n, mentions = excluded.mentions, version = excluded.version, gone = excluded.gone`,
      userId,
      roomId,
      n,
      mentions,
      version,
      gone ? 1 : 0,
    );
    return true;
  }

  /** A user's whole badge: every room with unread items (and, beside it, with mentions). */
  #stored(userId: string): Required<UnreadCounts> {
    const unread = tally();
    const mentions = tally();
    for (const r of this.sql.exec<{ room_id: string; n: number; mentions: number }>(
      "SELECT room_id, n, mentions FROM counts WHERE user_id = ? AND gone = 0 AND (n > 0 OR mentions > 0)",
      userId,
    )) {
      unread.add(r.room_id, r.n);
      mentions.add(r.room_id, r.mentions);
    }
    return { ...unread.counts, mentions: mentions.counts };
  }

  #pushCount(userId: string, roomId: string, trigger: CountTrigger): void {
    const row = this.sql.exec<{ n: number; mentions: number; gone: number }>("SELECT n, mentions, gone FROM counts WHERE user_id = ? AND room_id = ?", userId, roomId).toArray()[0];
    const totals = this.sql
      .exec<{ t: number | null; m: number | null }>("SELECT SUM(n) AS t, SUM(mentions) AS m FROM counts WHERE user_id = ? AND gone = 0", userId)
      .one();
    const live = row && !row.gone;
    const frame: NotificationCountUpdate = {
      type: "notification_count_update",
      total: totals.t ?? 0,
      rooms: { [roomId]: live ? row.n : 0 },
      trigger,
      mentions: { total: totals.m ?? 0, rooms: { [roomId]: live ? row.mentions : 0 } },
    };
    this.#sendTo(userId, frame);
  }

  #sendTo(userId: string, frame: HubFrame): void {
    this.broadcastRaw(JSON.stringify(frame), undefined, userTag(userId));
  }
}

/** Per-room numbers and their total; rooms at 0 are left out. */
function tally(): { add(roomId: string, n: number): void; counts: Counts } {
  const counts: Counts = { total: 0, rooms: {} };
  return {
    add(roomId, n) {
      if (n <= 0) return;
      counts.rooms[roomId] = n;
      counts.total += n;
    },
    counts,
  };
}
