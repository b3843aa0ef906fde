/**
 * `POST /api/dm {username}`: open the direct-message room with that user,
 * creating it the first time (201; 200 when it exists). A pair has exactly
 * one DM: its key is both user ids sorted (`rooms.dm_key`, unique in D1), so
 * parallel requests from either side — in any letter case — meet in the
 * same row. Both are plain members (no owner powers). Creating one is
 * rate-limited per user per hour (`RATE_DM`); opening an existing one is not.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { users } from "../db/schema";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { accountRates } from "../lib/limits";
import { tellRoom } from "../lib/membership";
import { requireWindow, returnToWindow } from "../lib/rate-window";
import { dmKeyOf, dmName, findDm, memberCount } from "../lib/rooms-list";
import { jsonBody } from "../middleware/validate";
import { OpenDmBody, type RoomSummary, type User } from "#protocol";
import type { AppEnv } from "../types";

/** Create the DM row and both memberships in one batch; false when another request created it first. */
async function createDm(d1: D1Database, id: string, key: string, me: string, peer: string, now: number): Promise<boolean> {
  // The memberships go in only if this request's room row did (its id is new): a loser of the race adds nothing.
  const join = "INSERT INTO memberships (room_id, user_id, role, joined_at) SELECT id, ?, 'member', ? FROM rooms WHERE id = ?";
  const [room] = await d1.batch([
    d1.prepare("INSERT INTO rooms (id, name, owner_id, created_at, version, kind, dm_key) VALUES (?, '', ?, ?, 1, 'dm', ?) ON CONFLICT (dm_key) DO NOTHING").bind(id, me, now, key),
    d1.prepare(join).bind(me, now, id),
    d1.prepare(join).bind(peer, now, id),
  ]);
  return (room?.meta.changes ?? 0) > 0;
}

export const dmApi = new Hono<AppEnv>().post("/", ...jsonBody(OpenDmBody), async (c) => {
  const me = c.var.auth.user;
  const db = c.var.db;
  const { username } = c.req.valid("json");
  const peer: User | undefined = await db
    .select({ id: users.id, username: users.username, displayName: users.displayName })
    .from(users)
    .where(eq(users.usernameKey, username.toLowerCase()))
    .get();
  if (!peer) throw apiError(404, "not_found", `No user named “${username}”`);
  if (peer.id === me.id) throw apiError(400, "bad_request", "You can't start a direct message with yourself");
  const key = dmKeyOf(me.id, peer.id);
  const entry = (room: { id: string; ownerId: string; createdAt: number }): RoomSummary => ({
    ...room,
    name: dmName(peer),
    role: "member",
    memberCount: 2,
    unread: 0,
    kind: "dm",
    dmWith: peer,
    peer,
    lastActivityAt: room.createdAt,
    preview: null,
  });

  const existing = await findDm(db, key);
  if (existing) {
    const [answer, members] = await Promise.all([c.env.ROOM.getByName(existing.id).countFor(me.id, false), memberCount(db, existing.id)]);
    const room = entry(existing);
    return c.json({ room: { ...room, memberCount: members, unread: answer?.n ?? 0, mentions: answer?.mentions ?? 0, lastActivityAt: answer?.lastActivityAt ?? room.createdAt, preview: answer?.preview ?? null } }, 200);
  }

  const rateKey = `dm:${me.id}`;
  await requireWindow(db, rateKey, accountRates(c.env).dm, "new direct messages");
  const room = { id: newId(), ownerId: me.id, createdAt: Date.now() };
  if (!(await createDm(c.env.DB, room.id, key, me.id, peer.id, room.createdAt))) {
    // Another request (theirs or mine) created it a moment ago: that one is the pair's DM.
    await returnToWindow(db, rateKey);
    const winner = await findDm(db, key);
    if (!winner) throw apiError(409, "conflict", "The direct message could not be opened; try again");
    return c.json({ room: entry(winner) }, 200);
  }
  // The room applies D1's members: both get `member_joined`, and both rooms lists `room_added` (live, on the badge socket).
  await tellRoom(c.env, room.id);
  return c.json({ room: entry(room) }, 201);
});
