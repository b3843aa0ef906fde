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
