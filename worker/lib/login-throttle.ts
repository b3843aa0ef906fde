/**
 * Sign-in throttling, stored in D1 (not memory: isolates come and go).
 *
 * Every attempt claims a slot on three keys before the password hash is
 * computed, each claim one `INSERT … ON CONFLICT DO UPDATE … RETURNING`
 * statement, so parallel guesses cannot slip between a check and a count
 * (HARDENING A7):
 *
 * - `p:<account>@<address>` — this address against this account. Every
 *   attempt counts, refused ones too, so hammering only lengthens the
 *   hammerer's own wait (up to `maxDelay`, 15 min).
 * - `u:<account>` — the account from anywhere. Only attempts that get this
 *   far count, and its delay is capped at `accountMaxDelay` (60 s): someone
 *   else's failures can delay the owner's next sign-in by at most that
 *   long, never lock them out (HARDENING A8).
 * - `ip:<address>` — the address across accounts (password spraying); more
 *   loosely, refused attempts count.
 *
 * After `free` attempts in a 15-minute window each key imposes a
 * progressive delay: `base`, then doubling, up to its cap. A success clears
 * the account's and the pair's keys. IPv6 addresses are keyed by their /64
 * (one subscriber's whole network). Limits are `[vars]` (worker/lib/limits.ts).
 */
import { inArray, sql } from "drizzle-orm";
import { loginFailures } from "../db/schema";
import type { DB } from "../types";
import type { LoginLimits } from "./limits";

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;

export const accountKey = (usernameKey: string) => `u:${usernameKey}`;
export const addressKey = (address: string) => `ip:${address}`;
export const pairKey = (usernameKey: string, address: string) => `p:${usernameKey}@${address}`;

/** The delay (ms) a key imposes after its `n`-th counted attempt. */
export function delayAfter(n: number, free: number, baseMs: number, capMs: number): number {
  if (n < free) return 0;
  return Math.min(capMs, baseMs * 2 ** Math.min(n - free, 30));
}

/**
 * The address a sign-in is throttled by: IPv4 as is, IPv6 reduced to its /64
 * (`2001:db8:1:2::/64`), anything unparsable as given (lower-cased).
 */
export function addressBlock(address: string): string {
  const ip = address.trim().toLowerCase();
  if (!ip.includes(":")) return ip;
  const [head = "", tail] = ip.split("::", 2);
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) takes two groups; only the first four matter here.
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  if (groups.length < 4 || groups.slice(0, 4).some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return ip;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

type Claim = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Claim a slot on `key`. `countRefused`: a refused attempt still counts (and
 * pushes the wait further); otherwise a refused attempt changes nothing.
 */
async function claim(db: DB, key: string, free: number, baseMs: number, capMs: number, countRefused: boolean, now: number): Promise<Claim> {
  const t = loginFailures;
  const fresh = sql`(${t.windowStart} <= ${now - LOGIN_WINDOW_MS} AND ${t.nextAt} <= ${now})`;
  const count = sql`(CASE WHEN ${fresh} THEN 1 ELSE ${t.failures} + 1 END)`;
  // delayAfter(count) in SQL: 0 below `free`, else min(cap, base << (count - free)).
  const delay = sql`(CASE WHEN ${count} < ${free} THEN 0 ELSE min(${capMs}, ${baseMs} << min(${count} - ${free}, 30)) END)`;
  const open = sql`(${t.nextAt} <= ${now})`;
  const rows = await db
    .insert(t)
    .values({ key, windowStart: now, failures: 1, nextAt: now + delayAfter(1, free, baseMs, capMs), allowed: 1 })
    .onConflictDoUpdate({
      target: t.key,
      set: {
        // Every right-hand side sees the row as it was before this statement.
        allowed: sql`CASE WHEN ${open} THEN 1 ELSE 0 END`,
        failures: count,
        windowStart: sql`CASE WHEN ${fresh} THEN ${now} ELSE ${t.windowStart} END`,
        nextAt: sql`CASE WHEN ${open} THEN ${now} + ${delay} ELSE max(${t.nextAt}, ${now} + ${delay}) END`,
      },
      ...(countRefused ? {} : { setWhere: open }),
    })
    .returning({ allowed: t.allowed, nextAt: t.nextAt });
  const row = rows[0];
  if (row?.allowed === 1) return { allowed: true };
  // No row: the conditional update did not apply, i.e. the key is closed; read when it opens.
  const nextAt =
    row?.nextAt ?? (await db.select({ nextAt: t.nextAt }).from(t).where(inArray(t.key, [key])).get())?.nextAt ?? now;
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((nextAt - now) / 1000)) };
}

/**
 * Count this sign-in attempt, before its password is checked. Returns 0 when
 * it may be evaluated, else the seconds to wait (for `Retry-After`).
 */
export async function claimLoginAttempt(db: DB, limits: LoginLimits, usernameKey: string, address: string, now = Date.now()): Promise<number> {
  const block = addressBlock(address);
  const base = limits.delayBaseSeconds * 1000;
  const steps: Array<[string, number, number, boolean]> = [
    [pairKey(usernameKey, block), limits.freePerAccount, limits.maxDelaySeconds * 1000, true],
    [addressKey(block), limits.freePerAddress, limits.maxDelaySeconds * 1000, true],
    [accountKey(usernameKey), limits.freePerAccount, limits.accountMaxDelaySeconds * 1000, false],
  ];
  for (const [key, free, cap, countRefused] of steps) {
    const result = await claim(db, key, free, base, cap, countRefused, now);
    if (!result.allowed) return result.retryAfterSeconds;
  }
  return 0;
}

/** A successful sign-in: forget the account's and this address's count against it. */
export async function clearLoginAttempts(db: DB, usernameKey: string, address: string): Promise<void> {
  await db.delete(loginFailures).where(inArray(loginFailures.key, [accountKey(usernameKey), pairKey(usernameKey, addressBlock(address))]));
}

/** Cron: forget keys whose window and wait are both over. */
export async function pruneLoginAttempts(db: DB, now = Date.now()): Promise<void> {
  await db.delete(loginFailures).where(sql`${loginFailures.windowStart} <= ${now - LOGIN_WINDOW_MS} AND ${loginFailures.nextAt} <= ${now}`);
}
