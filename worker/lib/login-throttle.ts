/**
 * Sign-in throttling, stored in D1 (not memory: isolates come and go).
 * Failures are counted per account and, more loosely, per address in fixed
 * windows; only failures count, and a success clears the account's count.
 */
import { inArray, sql } from "drizzle-orm";
import { loginFailures } from "../db/schema";
import type { DB } from "../types";

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
export const MAX_FAILURES_PER_ACCOUNT = 10;
export const MAX_FAILURES_PER_ADDRESS = 50;

export const accountKey = (usernameKey: string) => `u:${usernameKey}`;
export const addressKey = (address: string) => `ip:${address}`;

function limitFor(key: string): number {
  return key.startsWith("u:") ? MAX_FAILURES_PER_ACCOUNT : MAX_FAILURES_PER_ADDRESS;
}

/** Seconds until sign-in is allowed again for any of `keys`, or 0 when it is allowed now. */
export async function loginBlockedFor(db: DB, keys: readonly string[], now = Date.now()): Promise<number> {
  const rows = await db.select().from(loginFailures).where(inArray(loginFailures.key, [...keys]));
  let wait = 0;
  for (const row of rows) {
    const windowEnd = row.windowStart + LOGIN_WINDOW_MS;
    if (windowEnd > now && row.failures >= limitFor(row.key)) {
      wait = Math.max(wait, Math.ceil((windowEnd - now) / 1000));
    }
  }
  return wait;
}

/** Count one failure against each key, starting a new window where the old one ended. */
export async function recordLoginFailure(db: DB, [first, ...rest]: readonly [string, ...string[]], now = Date.now()): Promise<void> {
  const expired = now - LOGIN_WINDOW_MS;
  const upsert = (key: string) =>
    db
      .insert(loginFailures)
      .values({ key, windowStart: now, failures: 1 })
      .onConflictDoUpdate({
        target: loginFailures.key,
        set: {
          failures: sql`CASE WHEN ${loginFailures.windowStart} <= ${expired} THEN 1 ELSE ${loginFailures.failures} + 1 END`,
          windowStart: sql`CASE WHEN ${loginFailures.windowStart} <= ${expired} THEN ${now} ELSE ${loginFailures.windowStart} END`,
        },
      });
  await db.batch([upsert(first), ...rest.map(upsert)]);
}

export async function clearLoginFailures(db: DB, key: string): Promise<void> {
  await db.delete(loginFailures).where(inArray(loginFailures.key, [key]));
}
