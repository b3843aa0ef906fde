/** The hourly cron's clean-up: rows that no longer mean anything. */
import type { DB } from "../types";
import { pruneLoginAttempts } from "./login-throttle";
import { pruneWindows } from "./rate-window";
import { pruneSessions } from "./session";

/** Expired sessions (their sockets closed themselves at expiry), and sign-in / rate windows that are over. */
export async function pruneExpired(db: DB, now = Date.now()): Promise<void> {
  await Promise.all([pruneSessions(db, now), pruneLoginAttempts(db, now), pruneWindows(db, now)]);
}
