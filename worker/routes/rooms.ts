/**
 * `/api/rooms/*`: rooms and their membership. Non-members get 403 on
 * everything of a room. A DM (`kind: "dm"`, made by `POST /api/dm`) has no
 * owner powers: nobody renames it, adds to it, or removes anyone from it.
 */
import { and, asc, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { withCommentCounts } from "../files/comments";
import { formerMembers, memberships, rooms, users } from "../db/schema";
import { hubFor } from "../lib/hub";
import { listFiles } from "../files/catalog";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { assertGroupRoom, assertOwner, loadMembership, tellRoom } from "../lib/membership";
import { dmName, dmPeer, listRooms } from "../lib/rooms-list";
import { groupRoomOnly, requireMembership, requireOwner } from "../middleware/membership";
import { accountRates } from "../lib/limits";
import { requireWindow } from "../lib/rate-window";
import { jsonBody } from "../middleware/validate";
import { AddMemberBody, CreateRoomBody, type Member, RenameRoomBody, type RoomList, RoomSettingsBody, type RoomSnapshot, type RoomSummary } from "#protocol";
import type { AppEnv, DB } from "../types";

const NO_RENAME = "A direct message can't be renamed";
const NO_MEMBERS = "A direct message is between two people: it can't take more members";
const NO_LEAVING = "Nobody can be removed from a direct message, or leave it";

async function listMembers(db: DB, roomId: string): Promise<Member[]> {
  return db
    .select({ id: users.id, username: users.username, displayName: users.displayName, role: memberships.role, joinedAt: memberships.joinedAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.roomId, roomId))
    .orderBy(asc(memberships.joinedAt), asc(users.username));
}

export const roomsApi = new Hono<AppEnv>()
  // Newest activity first (lib/rooms-list.ts): each room answers its own count, last activity and preview.
  .get("/", async (c) => {
    return c.json({ rooms: await listRooms(c.env, c.var.db, c.var.auth.user.id) } satisfies RoomList);
  })
  .post("/", ...jsonBody(CreateRoomBody), async (c) => {
    const { user } = c.var.auth;
    const { name } = c.req.valid("json");
    await requireWindow(c.var.db, `room:${user.id}`, accountRates(c.env).createRoom, "new rooms");
    const room = { id: newId(), name, ownerId: user.id, createdAt: Date.now() };
    await c.var.db.batch([
      c.var.db.insert(rooms).values({ ...room, version: 1 }),
      c.var.db.insert(memberships).values({ roomId: room.id, userId: user.id, role: "owner", joinedAt: room.createdAt }),
    ]);
    await tellRoom(c.env, room.id);
    const entry: RoomSummary = { ...room, role: "owner", memberCount: 1, unread: 0, mentions: 0, muted: false, kind: "room", lastActivityAt: room.createdAt, preview: null };
    return c.json({ room: entry }, 201);
  })
  .get("/:id", requireMembership(), async (c) => {
    const { role, dmKey } = c.var.membership;
    let room: RoomSnapshot["room"] = c.var.membership.room;
    if (room.kind === "dm" && dmKey) {
      const peer = await dmPeer(c.var.db, dmKey, c.var.auth.user.id);
      room = { ...room, name: dmName(peer), dmWith: peer };
    }
    // The room's head first: files listed after it are at least as new, so nothing falls between.
    const timeline = await c.env.ROOM.getByName(room.id).snapshot(c.var.auth.user.id, 50);
    const [members, filePage] = await Promise.all([
      listMembers(c.var.db, room.id),
      listFiles(c.var.db, room.id, { limit: 50 }).then((page) => withCommentCounts(c.env, room.id, page)),
    ]);
    return c.json({ room, role, members, ...timeline, files: filePage.files, muted: c.var.membership.muted } satisfies RoomSnapshot);
  })
  // My own settings for the room: muted (still counted; clients give it no notification or highlight, mentions excepted).
  // My other tabs hear it (`room_muted`); setting what is already set changes nothing and costs no rate.
  .patch("/:id/me", requireMembership(), ...jsonBody(RoomSettingsBody), async (c) => {
    const { muted } = c.req.valid("json");
    const { id: userId } = c.var.auth.user;
    const roomId = c.var.membership.room.id;
    if (muted !== c.var.membership.muted) {
      await requireWindow(c.var.db, `mute:${userId}`, accountRates(c.env).mute, "mute changes");
      await c.var.db
        .update(memberships)
        .set({ muted })
        .where(and(eq(memberships.roomId, roomId), eq(memberships.userId, userId)));
      try {
        await hubFor(c.env, userId).notify(userId, { type: "room_muted", roomId, muted });
      } catch (err) {
        // The flag is stored; other tabs see it at their next rooms-list load.
        console.error(`room ${roomId}: telling ${userId}'s tabs about muting failed`, err);
      }
    }
    return c.json({ muted });
  })
  .patch("/:id", requireMembership(), groupRoomOnly(NO_RENAME), requireOwner("rename it"), ...jsonBody(RenameRoomBody), async (c) => {
    const roomId = c.var.membership.room.id;
    const { name } = c.req.valid("json");
    const room = await c.var.db
      .update(rooms)
      .set({ name, version: sql`${rooms.version} + 1` })
      .where(eq(rooms.id, roomId))
      .returning({ id: rooms.id, name: rooms.name, ownerId: rooms.ownerId, createdAt: rooms.createdAt, kind: rooms.kind })
      .get();
    // Only a room deleted since the membership check updates no row (rooms are not deleted today).
    if (!room) throw apiError(404, "not_found", "Room not found");
    await tellRoom(c.env, roomId);
    return c.json({ room: room satisfies RoomSnapshot["room"] });
  })
  .post("/:id/members", requireMembership(), groupRoomOnly(NO_MEMBERS), requireOwner("add members"), ...jsonBody(AddMemberBody), async (c) => {
    const roomId = c.var.membership.room.id;
    const db = c.var.db;
    const { username } = c.req.valid("json");
    const target = await db
      .select({ id: users.id, username: users.username, displayName: users.displayName })
      .from(users)
      .where(eq(users.usernameKey, username.toLowerCase()))
      .get();
    if (!target) throw apiError(404, "not_found", `No user named “${username}”`);
    await requireWindow(db, `add:${c.var.auth.user.id}`, accountRates(c.env).addMember, "member additions");
    // Idempotent: adding someone who is already a member answers 200 with the membership
    // (and still tells the room, so a retry repairs a room that missed the first call).
    const [inserted] = await db.batch([
      db.insert(memberships).values({ roomId, userId: target.id, role: "member", joinedAt: Date.now() }).onConflictDoNothing().returning(),
      db.update(rooms).set({ version: sql`${rooms.version} + 1` }).where(eq(rooms.id, roomId)),
    ]);
    const member =
      inserted[0] ??
      (await db
        .select()
        .from(memberships)
        .where(and(eq(memberships.roomId, roomId), eq(memberships.userId, target.id)))
        .get());
    await tellRoom(c.env, roomId);
    if (!member) throw apiError(409, "conflict", `${target.username} was removed meanwhile; try again`);
    return c.json({ member: { ...target, role: member.role, joinedAt: member.joinedAt } satisfies Member }, inserted[0] ? 201 : 200);
  })
  // No requireMembership() here: leaving is idempotent (a retry after the D1 write, when I am no
  // longer a member, still answers 204 and reaches the room); removing someone else needs the owner.
  .delete("/:id/members/:userId", async (c) => {
    const roomId = c.req.param("id");
    const targetId = c.req.param("userId");
    const me = c.var.auth.user.id;
    const db = c.var.db;
    if (targetId === me) {
      const room = await db.select({ ownerId: rooms.ownerId, kind: rooms.kind }).from(rooms).where(eq(rooms.id, roomId)).get();
      if (!room) throw apiError(404, "not_found", "Room not found");
      assertGroupRoom(room, NO_LEAVING);
      if (room.ownerId === me) throw apiError(409, "conflict", "The owner cannot leave the room");
    } else {
      const membership = await loadMembership(db, roomId, me);
      assertGroupRoom(membership.room, NO_LEAVING);
      assertOwner(membership, "remove members");
      const target = await db.select({ id: users.id }).from(users).where(eq(users.id, targetId)).get();
      if (!target) throw apiError(404, "not_found", "No such user");
    }
    // Removing someone who is not (or no longer) a member succeeds too, and still tells the room.
    // A removed member is remembered as a former one: deleting their account later anonymises them here too.
    const [removed] = await db.batch([
      db.delete(memberships).where(and(eq(memberships.roomId, roomId), eq(memberships.userId, targetId))).returning({ userId: memberships.userId }),
      db.update(rooms).set({ version: sql`${rooms.version} + 1` }).where(eq(rooms.id, roomId)),
    ]);
    if (removed.length) {
      await db
        .insert(formerMembers)
        .values({ roomId, userId: targetId, leftAt: Date.now() })
        .onConflictDoUpdate({ target: [formerMembers.roomId, formerMembers.userId], set: { leftAt: Date.now() } });
    }
    // The room closes the removed member's sockets and drops the room from their badge and list.
    await tellRoom(c.env, roomId);
    return c.body(null, 204);
  });
