/**
 * Rates over long windows (per hour), kept in D1 so they hold across
 * isolates and object restarts: one row per key, claimed in one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING` statement, so
 * parallel requests cannot overshoot. Only for actions that write rows
 * anyway (registrations, rooms, members, uploads): the claim adds one.
 */
import { inArray, lte, sql } from "drizzle-orm";
import { rateWindows } from "../db/schema";
import { apiError } from "./errors";
import type { Rate } from "./limits";
import type { DB } from "../types";

/**
 * Take `amount` (default 1) from `key`'s window.
 * @returns 0 when allowed, else the seconds until the window ends.
 */
export async function takeFromWindow(db: DB, key: string, rate: Rate, amount = 1, now = Date.now()): Promise<number> {
  if (amount > rate.count) return rate.seconds;
  const t = rateWindows;
  const end = now + rate.seconds * 1000;
  const over = sql`${t.windowEnd} <= ${now}`;
  const rows = await db
    .insert(t)
    .values({ key, windowEnd: end, used: amount })
    .onConflictDoUpdate({
      target: t.key,
      set: {
        used: sql`CASE WHEN ${over} THEN ${amount} ELSE ${t.used} + ${amount} END`,
        windowEnd: sql`CASE WHEN ${over} THEN ${end} ELSE ${t.windowEnd} END`,
      },
      setWhere: sql`${over} OR ${t.used} + ${amount} <= ${rate.count}`,
    })
    .returning({ used: t.used });
  if (rows.length > 0) return 0;
  const row = await db.select({ windowEnd: t.windowEnd }).from(t).where(inArray(t.key, [key])).get();
  return Math.max(1, Math.ceil(((row?.windowEnd ?? now) - now) / 1000));
}

/** {@link takeFromWindow}, throwing the shared 429 (with Retry-After) when refused. */
export async function requireWindow(db: DB, key: string, rate: Rate, what: string, amount = 1): Promise<void> {
  const wait = await takeFromWindow(db, key, rate, amount);
  if (wait > 0) {
    const when = wait < 90 ? `${wait} s` : `${Math.ceil(wait / 60)} min`;
    throw apiError(429, "rate_limited", `Too many ${what}. Try again in ${when}.`, { "Retry-After": String(wait) });
  }
}

/** Give back what a refused or failed action took (e.g. an upload that was not stored). */
export async function returnToWindow(db: DB, key: string, amount = 1): Promise<void> {
  await db
    .update(rateWindows)
    .set({ used: sql`max(0, ${rateWindows.used} - ${amount})` })
    .where(inArray(rateWindows.key, [key]));
}

/** Cron: forget windows that are over. */
export async function pruneWindows(db: DB, now = Date.now()): Promise<void> {
  await db.delete(rateWindows).where(lte(rateWindows.windowEnd, now));
}
