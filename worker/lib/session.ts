/**
 * Sessions: a random 256-bit token in an `__Host-` cookie; D1 stores only its
 * SHA-256, with an expiry, so a database leak yields no usable session.
 */
import { and, eq, gt, lte } from "drizzle-orm";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { sessions, users } from "../db/schema";
import type { Auth, DB } from "../types";
import { randomBytes, sha256Hex, toBase64Url } from "./encoding";
import { hubFor } from "./hub";

/** Sent as `__Host-parley_session`: Secure, Path=/, no Domain. */
export const SESSION_COOKIE = "parley_session";
export const SESSION_COOKIE_FULL_NAME = `__Host-${SESSION_COOKIE}`;
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** Start a session for a user; returns the token for the cookie. */
export async function createSession(db: DB, userId: string, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
  const token = toBase64Url(randomBytes(32));
  const expiresAt = now + SESSION_TTL_MS;
  await db.insert(sessions).values({ idHash: await sha256Hex(token), userId, createdAt: now, expiresAt });
  return { token, expiresAt };
}

/** The user behind a session token, if the session exists and has not expired. */
export async function lookupSession(db: DB, token: string, now = Date.now()): Promise<Auth | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const sessionHash = await sha256Hex(token);
  const row = await db
    .select({ id: users.id, username: users.username, displayName: users.displayName, expiresAt: sessions.expiresAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.idHash, sessionHash), gt(sessions.expiresAt, now)))
    .get();
  return row ? { user: { id: row.id, username: row.username, displayName: row.displayName }, sessionHash, expiresAt: row.expiresAt } : null;
}

export async function deleteSession(db: DB, sessionHash: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.idHash, sessionHash));
}

/**
 * Close every socket of these (already deleted) sessions of a user: in each
 * of their rooms and on their badge hub, 1008 with `reason`. Sign-out, a
 * password change and "sign out everywhere" all end here. A call that fails
 * is logged, not thrown: the session is gone from D1, so the socket's next
 * frame or upgrade is refused anyway, and its expiry closes it at the latest.
 */
export async function closeSessionSockets(env: Env, userId: string, sessionHashes: string[], reason = "signed out"): Promise<void> {
  if (!sessionHashes.length) return;
  const { results } = await env.DB.prepare("SELECT room_id AS id FROM memberships WHERE user_id = ?").bind(userId).all<{ id: string }>();
  const closing = [...results.map((r) => env.ROOM.getByName(r.id).closeSessions(sessionHashes, reason)), hubFor(env, userId).closeSessions(sessionHashes, reason)];
  const failed = (await Promise.allSettled(closing)).filter((r) => r.status === "rejected");
  if (failed.length) console.error(`user ${userId}: closing the sockets of ${sessionHashes.length} sessions failed in ${failed.length} objects`);
}

/** Delete every session of a user (this one included); answers their hashes, for {@link closeSessionSockets}. */
export async function deleteAllSessions(env: Env, userId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("DELETE FROM sessions WHERE user_id = ? RETURNING id_hash").bind(userId).all<{ id_hash: string }>();
  return results.map((r) => r.id_hash);
}

/** Cron: delete expired sessions (their sockets closed themselves at expiry). */
export async function pruneSessions(db: DB, now = Date.now()): Promise<void> {
  await db.delete(sessions).where(lte(sessions.expiresAt, now));
}

export function readSessionToken(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE, "host");
}

export function setSessionCookie(c: Context, token: string, expiresAt: number): void {
  setCookie(c, SESSION_COOKIE, token, {
    prefix: "host",
    httpOnly: true,
    secure: true,
    sameSite: "Lax",
    path: "/",
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { prefix: "host", path: "/", secure: true, httpOnly: true, sameSite: "Lax" });
}
