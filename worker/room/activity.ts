/**
 * Ephemeral things a member is doing, shown to the others ("… is typing",
 * "… is uploading"), kept in SQLite with an expiry so they survive
 * hibernation and the alarm can expire them. Written per typing frame, never
 * per message (a send only clears the sender's own entry).
 */
import type { Activity } from "#protocol";
import type { Sql } from "../lib/meter";
import type { Actor } from "./log";

export type { Activity };
export interface ActiveUser extends Actor {
  activity: Activity;
}

type Row = { user_id: string; activity: Activity; username: string; until: number };
const toActive = (r: Row): ActiveUser => ({ id: r.user_id, username: r.username, activity: r.activity });

export class Activities {
  constructor(private readonly sql: Sql) {}

  /** Mark a user busy until `until`; returns true when they were not before. */
  set(actor: Actor, activity: Activity, until: number): boolean {
    const was = this.sql.exec("SELECT 1 FROM activity WHERE user_id = ? AND activity = ?", actor.id, activity).toArray().length > 0;
    this.sql.exec("INSERT OR REPLACE INTO activity (user_id, activity, username, until) VALUES (?, ?, ?, ?)", actor.id, activity, actor.username, until);
    return !was;
  }

  /** Clear a user's activities (one kind, or all); returns those that were on. */
  clear(userId: string, activity?: Activity): ActiveUser[] {
    const rows = activity
      ? this.sql.exec<Row>("DELETE FROM activity WHERE user_id = ? AND activity = ? RETURNING *", userId, activity)
      : this.sql.exec<Row>("DELETE FROM activity WHERE user_id = ? RETURNING *", userId);
    return rows.toArray().map(toActive);
  }

  /** Remove and return activities that expired by `now`. */
  expire(now: number): ActiveUser[] {
    return this.sql.exec<Row>("DELETE FROM activity WHERE until <= ? RETURNING *", now).toArray().map(toActive);
  }

  /** Who is busy now. */
  current(now: number): ActiveUser[] {
    return this.sql.exec<Row>("SELECT * FROM activity WHERE until > ?", now).toArray().map(toActive);
  }

  /** The soonest expiry, if any. */
  nextExpiry(): number | undefined {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(until) AS t FROM activity").one().t ?? undefined;
  }
}
