/**
 * UserHub — one Durable Object per shard of users (`fnv1a(userId) mod
 * HUB_SHARDS`). It is the badge read model: per-(user, room) unread counts in
 * its SQLite, current for online and offline users alike, and the
 * hibernatable `/api/me/ws` sockets of its users' tabs, tagged by user id.
 *
 * A room calls `applyCounts` once per shard with all of that shard's updates;
 * they are applied in one transaction with set-based SQL (no statement per
 * user), and each affected user's open tabs get the new numbers pushed.
 */
import { DurableObject } from "cloudflare:workers";
import { type CountTrigger, MAX_SOCKETS_PER_USER, type NotificationCountUpdate, PING_FRAME, PONG_FRAME, CLOSE, type UnreadCounts } from "./protocol";
import type { CountUpdate } from "./room/read-state";
import { safeClose, trySend } from "./lib/ws";

/** Internal headers the Worker sets on the badge-socket upgrade. */
export const HUB_UPGRADE_HEADERS = { userId: "X-Parley-User-Id", session: "X-Parley-Session" } as const;

const sessionTag = (sessionHash: string) => `s:${sessionHash}`;

export class UserHub extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS unread (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      n INTEGER NOT NULL CHECK (n >= 0),
      version INTEGER NOT NULL,
      PRIMARY KEY (user_id, room_id)
    ) WITHOUT ROWID`);
    this.sql.exec("CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  /** Calls and updates this shard has applied (for tests and the benchmark). */
  stats(): { applyCalls: number; updates: number } {
    const rows = new Map(this.sql.exec<{ key: string; n: number }>("SELECT key, n FROM stats").toArray().map((r) => [r.key, r.n]));
    return { applyCalls: rows.get("apply_calls") ?? 0, updates: rows.get("updates") ?? 0 };
  }

  /** The badge of one user: total and per-room counts (rooms at 0 omitted). */
  getUnread(userId: string): UnreadCounts {
    const rooms: Record<string, number> = {};
    let total = 0;
    for (const row of this.sql.exec<{ room_id: string; n: number }>("SELECT room_id, n FROM unread WHERE user_id = ? AND n > 0", userId)) {
      rooms[row.room_id] = row.n;
      total += row.n;
    }
    return { total, rooms };
  }

  /**
   * Apply a room's new counts for users of this shard, newest version wins
   * (a late, older update never overwrites a newer one), then push each
   * changed user's new numbers to their open tabs. Returns how many changed.
   */
  applyCounts(roomId: string, updates: CountUpdate[], trigger: CountTrigger): number {
    const json = JSON.stringify(updates);
    const changed = this.ctx.storage.transactionSync(() => {
      const before = new Map(
        this.sql
          .exec<{ user_id: string; n: number }>(
            "SELECT user_id, n FROM unread WHERE room_id = ? AND user_id IN (SELECT value ->> 'userId' FROM json_each(?))",
            roomId,
            json,
          )
          .toArray()
          .map((r) => [r.user_id, r.n]),
      );
      const written = this.sql
        .exec<{ user_id: string; n: number }>(
          `INSERT INTO unread (user_id, room_id, n, version)
             SELECT j.value ->> 'userId', ?, j.value ->> 'n', j.value ->> 'version' FROM json_each(?) j WHERE true
           ON CONFLICT (user_id, room_id) DO UPDATE SET n = excluded.n, version = excluded.version
             WHERE excluded.version >= unread.version
           RETURNING user_id, n`,
          roomId,
          json,
        )
        .toArray();
      this.sql.exec(
        `INSERT INTO stats (key, n) VALUES ('apply_calls', 1), ('updates', ?)
         ON CONFLICT (key) DO UPDATE SET n = n + excluded.n`,
        updates.length,
      );
      return written.filter((w) => (before.get(w.user_id) ?? 0) !== w.n);
    });
    if (!changed.length) return 0;
    const totals = this.sql
      .exec<{ user_id: string; total: number }>(
        `SELECT user_id, SUM(n) AS total FROM unread
         WHERE user_id IN (SELECT value FROM json_each(?)) GROUP BY user_id`,
        JSON.stringify(changed.map((c) => c.user_id)),
      )
      .toArray();
    const totalOf = new Map(totals.map((t) => [t.user_id, t.total]));
    for (const c of changed) {
      const frame: NotificationCountUpdate = {
        type: "notification_count_update",
        total: totalOf.get(c.user_id) ?? 0,
        rooms: { [roomId]: c.n },
        trigger,
      };
      const data = JSON.stringify(frame);
      for (const ws of this.ctx.getWebSockets(c.user_id)) trySend(ws, data);
    }
    return changed.length;
  }

  /** Close every badge socket of one session (sign out). */
  closeSession(sessionHash: string): number {
    const sockets = this.ctx.getWebSockets(sessionTag(sessionHash));
    for (const ws of sockets) safeClose(ws, CLOSE.policy, "signed out");
    return sockets.length;
  }

  /** The `/api/me/ws` upgrade, forwarded by the Worker after auth and Origin checks. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
    const userId = request.headers.get(HUB_UPGRADE_HEADERS.userId);
    const session = request.headers.get(HUB_UPGRADE_HEADERS.session);
    if (!userId || !session) return new Response("Missing identity", { status: 400 });
    const { 0: client, 1: server } = new WebSocketPair();
    const crowded = this.ctx.getWebSockets(userId).length >= MAX_SOCKETS_PER_USER;
    this.ctx.acceptWebSocket(server, [userId, sessionTag(session)]);
    if (crowded) {
      safeClose(server, CLOSE.tooManyConnections, `too many connections (at most ${MAX_SOCKETS_PER_USER} tabs)`);
    } else {
      server.serializeAttachment({ userId });
      // On every (re)connect the server's numbers replace the client's.
      const frame: NotificationCountUpdate = { type: "notification_count_update", ...this.getUnread(userId), trigger: "connect", full: true };
      trySend(server, JSON.stringify(frame));
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket): Promise<void> {
    // Only pings are expected, and the runtime answers those; anything else is ignored.
    trySend(ws, JSON.stringify({ type: "pong" }));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    safeClose(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }
}
