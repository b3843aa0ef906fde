/**
 * UserHub — one Durable Object per shard of users. It is the badge read model:
 * per-(user, room) unread counts and per-user totals in its SQLite, current
 * for online and offline users alike. (Live pushes to the users' tabs arrive
 * with the badge work; see README.)
 */
import { DurableObject } from "cloudflare:workers";
import type { UnreadCounts } from "./protocol";

export class UserHub extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS unread (
        user_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        n INTEGER NOT NULL CHECK (n >= 0),
        PRIMARY KEY (user_id, room_id)
      ) WITHOUT ROWID`);
    });
  }

  /** The badge of one user: total and per-room counts (rooms at 0 omitted). */
  getUnread(userId: string): UnreadCounts {
    const rooms: Record<string, number> = {};
    let total = 0;
    for (const row of this.sql.exec<{ room_id: string; n: number }>(
      "SELECT room_id, n FROM unread WHERE user_id = ? AND n > 0",
      userId,
    )) {
      rooms[row.room_id] = row.n;
      total += row.n;
    }
    return { total, rooms };
  }

  /** Forget a user's count for a room (they left or were removed). */
  dropRoom(userId: string, roomId: string): void {
    this.sql.exec("DELETE FROM unread WHERE user_id = ? AND room_id = ?", userId, roomId);
  }
}
