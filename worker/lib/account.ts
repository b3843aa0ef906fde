/**
 * Account settings: the display name, a password change, and deleting the
 * account (issue #14). D1 first (it is the authority), then the objects:
 *
 * - a display name change bumps the version of every room of the user, so
 *   each room re-reads its members from D1 (`member_updated`; a DM's other
 *   side gets `room_updated`), with the same repair as any membership change;
 * - a password change deletes every other session and closes their sockets;
 *   "sign out everywhere" deletes them all, the caller's too;
 * - deletion keeps the user row as a tombstone ("deleted user", no password,
 *   a `username_key` no name can have, so the username is free again) since
 *   messages, files and rooms refer to it; removes every session and
 *   membership (rooms the user owned pass to their longest-standing member);
 *   then each room of the user, current or former, closes its sockets and
 *   anonymises its log (`Room.forgetUser`). A room that misses that call is
 *   repaired like any membership change: its sync finds the account deleted.
 */
import { eq } from "drizzle-orm";
import { DELETED_USER_NAME } from "#protocol";
import { users } from "../db/schema";
import type { Auth, DB } from "../types";
import { apiError } from "./errors";
import { hubFor } from "./hub";
import { loginLimits } from "./limits";
import { claimLoginAttempt, clearLoginAttempts } from "./login-throttle";
import { tellRoom } from "./membership";
import { hashPassword, verifyPassword } from "./password";
import { closeSessionSockets, deleteAllSessions } from "./session";
import { ACCOUNT_DELETED, PASSWORD_CHANGED } from "./socket-object";

const usernameKey = (username: string) => username.toLowerCase();

/**
 * Check the signed-in user's password again (a password change, a deletion).
 * Counted by the sign-in throttle like a sign-in (A7): 429 when it says
 * wait, 401 `invalid_credentials` when wrong.
 */
export async function confirmPassword(env: Env, db: DB, auth: Auth, password: string, address: string): Promise<void> {
  const key = usernameKey(auth.user.username);
  const wait = await claimLoginAttempt(db, loginLimits(env), key, address);
  if (wait > 0) {
    const when = wait < 90 ? `${wait} s` : `${Math.ceil(wait / 60)} min`;
    throw apiError(429, "rate_limited", `Too many password attempts. Try again in ${when}.`, { "Retry-After": String(wait) });
  }
  const row = await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, auth.user.id)).get();
  if (!row || !(await verifyPassword(password, row.hash))) throw apiError(401, "invalid_credentials", "Wrong password");
  await clearLoginAttempts(db, key, address);
}

/**
 * Set (or clear, with null) the display name; every room of the user
 * re-reads its members, so their member lists change live. Answers the
 * rooms told.
 */
export async function setDisplayName(env: Env, userId: string, displayName: string | null): Promise<number> {
  const d1 = env.DB;
  const [, bumped] = await d1.batch<{ id: string }>([
    d1.prepare("UPDATE users SET display_name = ? WHERE id = ?").bind(displayName, userId),
    // Bumped with the change, as for a membership change: a room that misses the call below is repaired (R14).
    d1.prepare("UPDATE rooms SET version = version + 1 WHERE id IN (SELECT room_id FROM memberships WHERE user_id = ?) RETURNING id").bind(userId),
  ]);
  const rooms = bumped?.results.map((r) => r.id) ?? [];
  await Promise.all(rooms.map((id) => tellRoom(env, id)));
  return rooms.length;
}

/** A new password; every other session of the user is deleted and its sockets close (1008, `signed out: password changed`). */
export async function changePassword(env: Env, auth: Auth, newPassword: string): Promise<void> {
  const d1 = env.DB;
  const hash = await hashPassword(newPassword);
  const [, gone] = await d1.batch<{ id_hash: string }>([
    d1.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(hash, auth.user.id),
    d1.prepare("DELETE FROM sessions WHERE user_id = ? AND id_hash != ? RETURNING id_hash").bind(auth.user.id, auth.sessionHash),
  ]);
  // The sessions are gone from D1 already (nothing they send is accepted); a room that misses the call closes them on their next frame.
  await closeSessionSockets(env, auth.user.id, gone?.results.map((r) => r.id_hash) ?? [], PASSWORD_CHANGED);
}

/** The close reason for every socket of a user who chose "sign out everywhere". */
export const SIGNED_OUT_EVERYWHERE = "signed out: everywhere";

/**
 * "Sign out everywhere": every session of the user ends, the caller's too,
 * and every socket of them closes (1008, {@link SIGNED_OUT_EVERYWHERE}).
 * Answers how many sessions ended.
 */
export async function signOutEverywhere(env: Env, userId: string): Promise<number> {
  const hashes = await deleteAllSessions(env, userId);
  await closeSessionSockets(env, userId, hashes, SIGNED_OUT_EVERYWHERE);
  return hashes.length;
}

/** Delete the account (see the module comment). */
export async function deleteAccount(env: Env, userId: string, now = Date.now()): Promise<void> {
  const d1 = env.DB;
  const [current, former] = await d1.batch<{ id: string }>([
    d1.prepare("SELECT room_id AS id FROM memberships WHERE user_id = ?").bind(userId),
    d1.prepare("SELECT room_id AS id FROM former_members WHERE user_id = ?").bind(userId),
  ]);
  const others = "SELECT m.user_id FROM memberships m WHERE m.room_id = rooms.id AND m.user_id != ?1";
  await d1.batch([
    // Rooms the user owns pass to their longest-standing other member (a DM has no owner powers to pass).
    d1.prepare(`UPDATE rooms SET owner_id = (${others} ORDER BY m.joined_at, m.user_id LIMIT 1) WHERE owner_id = ?1 AND kind = 'room' AND EXISTS (${others})`).bind(userId),
    d1
      .prepare(
        `UPDATE memberships SET role = 'owner' WHERE role != 'owner'
         AND user_id = (SELECT owner_id FROM rooms WHERE rooms.id = memberships.room_id AND rooms.kind = 'room')
         AND room_id IN (SELECT room_id FROM memberships WHERE user_id = ?1)`,
      )
      .bind(userId),
    d1.prepare("UPDATE rooms SET version = version + 1 WHERE id IN (SELECT room_id FROM memberships WHERE user_id = ?)").bind(userId),
    d1.prepare("DELETE FROM memberships WHERE user_id = ?").bind(userId),
    d1.prepare("DELETE FROM former_members WHERE user_id = ?").bind(userId),
    d1.prepare("DELETE FROM sessions WHERE user_id = ?").bind(userId),
    d1
      .prepare("UPDATE users SET username = ?, username_key = 'deleted:' || id, password_hash = '', display_name = NULL, deleted_at = ? WHERE id = ?")
      .bind(DELETED_USER_NAME, now, userId),
  ]);
  const rooms = [...new Set([...(current?.results ?? []), ...(former?.results ?? [])].map((r) => r.id))];
  const results = await Promise.allSettled([
    hubFor(env, userId).closeUser(userId, ACCOUNT_DELETED),
    ...rooms.map((id) => env.ROOM.getByName(id).forgetUser(id, userId)),
  ]);
  // The current rooms are repaired by their membership sync (which finds the account deleted); log the rest.
  for (const r of results) if (r.status === "rejected") console.error(`user ${userId}: a part of the account deletion failed`, r.reason);
}
