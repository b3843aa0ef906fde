/**
 * The rooms list (`GET /api/rooms`) and what a DM looks like to each side.
 *
 * Membership, names, kinds and my muted flag come from D1; each room's unread and mention counts and
 * latest activity (last message or file, and the preview) from the room
 * itself, asked in parallel the way a hub builds a badge (`countFor`, as a
 * one-off question: it does not make the room push to this user). Nothing
 * per message is written anywhere for this list (README, "Design decisions").
 */
import { count, eq, sql } from "drizzle-orm";
import { memberships, rooms, users } from "../db/schema";
import { DELETED_USER_NAME, type RoomKind, type RoomSummary, type User } from "#protocol";
import type { DB } from "../types";
import type { CountFor } from "./hub";

/** A pair's DM key: both user ids, sorted, joined by `:` (unique in D1). */
export const dmKeyOf = (a: string, b: string): string => (a < b ? `${a}:${b}` : `${b}:${a}`);

/** The other person of a DM, from its key. */
export function peerIdOf(dmKey: string, me: string): string {
  const [a = "", b = ""] = dmKey.split(":");
  return a === me ? b : a;
}

/** What a DM is called: the other person's display name, else their username. */
export const dmName = (peer: User): string => peer.displayName ?? peer.username;

/** Users by id (a deleted account is its tombstone: "deleted user"), in one query whatever their number. */
export async function usersById(db: DB, ids: string[]): Promise<Map<string, User>> {
  if (!ids.length) return new Map();
  const rows = await db
    .select({ id: users.id, username: users.username, displayName: users.displayName })
    .from(users)
    .where(sql`${users.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
  return new Map(rows.map((u) => [u.id, u]));
}

/** The other person of a DM as a `User` (a gone account reads as "deleted user"). */
export async function dmPeer(db: DB, dmKey: string, me: string): Promise<User> {
  const id = peerIdOf(dmKey, me);
  return (await usersById(db, [id])).get(id) ?? { id, username: DELETED_USER_NAME, displayName: null };
}

/** One room's answer for the list; a room that does not answer is listed with what D1 knows. */
async function askRoom(env: Env, roomId: string, userId: string): Promise<CountFor> {
  try {
    return await env.ROOM.getByName(roomId).countFor(userId, false);
  } catch (err) {
    console.error(`room ${roomId}: no count / activity for the rooms list`, err);
    return null;
  }
}

/** My rooms and DMs, newest activity first, each with its unread count, last activity and preview. */
export async function listRooms(env: Env, db: DB, userId: string): Promise<RoomSummary[]> {
  const memberCounts = db.select({ roomId: memberships.roomId, n: count().as("n") }).from(memberships).groupBy(memberships.roomId).as("mc");
  const rows = await db
    .select({
      room: { id: rooms.id, name: rooms.name, ownerId: rooms.ownerId, createdAt: rooms.createdAt },
      kind: rooms.kind,
      dmKey: rooms.dmKey,
      role: memberships.role,
      muted: memberships.muted,
      memberCount: memberCounts.n,
    })
    .from(memberships)
    .innerJoin(rooms, eq(rooms.id, memberships.roomId))
    .innerJoin(memberCounts, eq(memberCounts.roomId, rooms.id))
    .where(eq(memberships.userId, userId));
  const dmPeers = rows.flatMap((r) => (r.kind === "dm" && r.dmKey ? [peerIdOf(r.dmKey, userId)] : []));
  const [peers, answers] = await Promise.all([usersById(db, dmPeers), Promise.all(rows.map((r) => askRoom(env, r.room.id, userId)))]);
  const list = rows.map((r, i): RoomSummary => {
    const a = answers[i];
    const entry: RoomSummary = {
      ...r.room,
      role: r.role,
      memberCount: r.memberCount,
      unread: a?.n ?? 0,
      mentions: a?.mentions ?? 0,
      muted: Boolean(r.muted),
      kind: r.kind as RoomKind,
      lastActivityAt: a?.lastActivityAt ?? r.room.createdAt,
      preview: a?.preview ?? null,
    };
    if (r.kind !== "dm" || !r.dmKey) return entry;
    const id = peerIdOf(r.dmKey, userId);
    const peer = peers.get(id) ?? { id, username: DELETED_USER_NAME, displayName: null };
    return { ...entry, name: dmName(peer), dmWith: peer, peer };
  });
  return list.sort((x, y) => y.lastActivityAt! - x.lastActivityAt! || y.createdAt - x.createdAt || (x.id < y.id ? -1 : 1));
}

/** The DM of a pair, if it exists. */
export async function findDm(db: DB, dmKey: string): Promise<{ id: string; ownerId: string; createdAt: number } | undefined> {
  return db.select({ id: rooms.id, ownerId: rooms.ownerId, createdAt: rooms.createdAt }).from(rooms).where(eq(rooms.dmKey, dmKey)).get();
}

/** How many members a room has (D1). */
export async function memberCount(db: DB, roomId: string): Promise<number> {
  return (await db.select({ n: count() }).from(memberships).where(eq(memberships.roomId, roomId)).get())?.n ?? 0;
}
