/** `/api/auth/*`: register, sign in, sign out. */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { users } from "../db/schema";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { addressBlock, claimLoginAttempt, clearLoginAttempts } from "../lib/login-throttle";
import { accountRates, loginLimits } from "../lib/limits";
import { requireWindow } from "../lib/rate-window";
import { dummyPasswordHash, hashPassword, verifyPassword } from "../lib/password";
import { clearSessionCookie, closeSessionSockets, createSession, deleteSession, lookupSession, readSessionToken, setSessionCookie } from "../lib/session";
import { jsonBody } from "../middleware/validate";
import { Credentials, LoginBody, type User } from "#protocol";
import type { AppEnv } from "../types";

const usernameKey = (username: string) => username.toLowerCase();

export const auth = new Hono<AppEnv>()
  .post("/register", ...jsonBody(Credentials), async (c) => {
    const { username, password } = c.req.valid("json");
    const db = c.var.db;
    const key = usernameKey(username);
    // S11: registrations per address (IPv6: per /64), counted before any work.
    const address = addressBlock(c.req.header("CF-Connecting-IP") ?? "local");
    await requireWindow(db, `reg:${address}`, accountRates(c.env).register, "new accounts from your network");
    const taken = await db.select({ id: users.id }).from(users).where(eq(users.usernameKey, key)).get();
    if (taken) throw apiError(409, "username_taken", "That username is taken");
    const user = { id: newId(), username, displayName: null };
    try {
      await db.insert(users).values({ id: user.id, username, usernameKey: key, passwordHash: await hashPassword(password), createdAt: Date.now() });
    } catch (err) {
      // Lost a race with another registration of the same name: the unique index decides.
      if (String(err).includes("UNIQUE")) throw apiError(409, "username_taken", "That username is taken");
      throw err;
    }
    const session = await createSession(db, user.id);
    setSessionCookie(c, session.token, session.expiresAt);
    return c.json({ user }, 201);
  })
  .post("/login", ...jsonBody(LoginBody), async (c) => {
    const { username, password } = c.req.valid("json");
    const db = c.var.db;
    const key = usernameKey(username);
    const address = c.req.header("CF-Connecting-IP") ?? "local";
    // Counted before the hash is computed, in one statement per key (A7).
    const wait = await claimLoginAttempt(db, loginLimits(c.env), key, address);
    if (wait > 0) {
      const when = wait < 90 ? `${wait} s` : `${Math.ceil(wait / 60)} min`;
      throw apiError(429, "rate_limited", `Too many sign-in attempts. Try again in ${when}.`, { "Retry-After": String(wait) });
    }
    const row = await db.select().from(users).where(eq(users.usernameKey, key)).get();
    // Spend the same PBKDF2 time whether or not the account exists.
    const ok = await verifyPassword(password, row?.passwordHash ?? (await dummyPasswordHash()));
    if (!row || !ok) throw apiError(401, "invalid_credentials", "Wrong username or password");
    await clearLoginAttempts(db, key, address);
    const session = await createSession(db, row.id);
    setSessionCookie(c, session.token, session.expiresAt);
    return c.json({ user: { id: row.id, username: row.username, displayName: row.displayName } satisfies User });
  })
  .post("/logout", async (c) => {
    const token = readSessionToken(c);
    const session = token ? await lookupSession(c.var.db, token) : null;
    if (session) {
      await deleteSession(c.var.db, session.sessionHash);
      // Close every socket this session opened, in every room of the user and on its badge hub.
      await closeSessionSockets(c.env, session.user.id, [session.sessionHash]);
    }
    clearSessionCookie(c);
    return c.body(null, 204);
  });
