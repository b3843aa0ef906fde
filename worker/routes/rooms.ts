/** `/api/rooms/*`: rooms and their membership. Non-members get 403 on everything of a room. */
import { and, asc, count, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { memberships, rooms, users } from "../db/schema";
import { listFiles } from "../files/catalog";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { hubFor } from "../lib/hub";
import { assertOwner, loadMembership, tellRoom } from "../lib/membership";
import { requireMembership, requireOwner } from "../middleware/membership";
import { accountRates } from "../lib/limits";
import { requireWindow } from "../lib/rate-window";
import { jsonBody } from "../middleware/validate";
import { AddMemberBody, CreateRoomBody, type Member, RenameRoomBody, type RoomList, type RoomSnapshot, type RoomSummary } from "#protocol";
import type { AppEnv, DB } from "../types";

async function listMembers(db: DB, roomId: string): Promise<Member[]> {
  return db
    .select({ id: users.id, username: users.username, role: memberships.role, joinedAt: memberships.joinedAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.roomId, roomId))
    .orderBy(asc(memberships.joinedAt), asc(users.username));
}

export const roomsApi = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { user } = c.var.auth;
    const db = c.var.db;
    const memberCounts = db
      .select({ roomId: memberships.roomId, n: count().as("n") })
      .from(memberships)
      .groupBy(memberships.roomId)
      .as("mc");
    const [rows, unread] = await Promise.all([
      db
        .select({ room: { id: rooms.id, name: rooms.name, ownerId: rooms.ownerId, createdAt: rooms.createdAt }, role: memberships.role, memberCount: memberCounts.n })
        .from(memberships)
        .innerJoin(rooms, eq(rooms.id, memberships.roomId))
        .innerJoin(memberCounts, eq(memberCounts.roomId, rooms.id))
        .where(eq(memberships.userId, user.id))
        .orderBy(asc(rooms.name), asc(rooms.createdAt)),
      hubFor(c.env, user.id).getUnread(user.id),
    ]);
    const list: RoomSummary[] = rows.map((r) => ({
      ...r.room,
      role: r.role,
      memberCount: r.memberCount,
      unread: unread.rooms[r.room.id] ?? 0,
    }));
    return c.json({ rooms: list } satisfies RoomList);
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
    return c.json({ room: { ...room, role: "owner", memberCount: 1, unread: 0 } satisfies RoomSummary }, 201);
  })
  .get("/:id", requireMembership(), async (c) => {
    const { room, role } = c.var.membership;
    // The room's head first: files listed after it are at least as new, so nothing falls between.
    const timeline = await c.env.ROOM.getByName(room.id).snapshot(c.var.auth.user.id, 50);
    const [members, filePage] = await Promise.all([listMembers(c.var.db, room.id), listFiles(c.var.db, room.id, { limit: 50 })]);
    return c.json({ room, role, members, ...timeline, files: filePage.files } satisfies RoomSnapshot);
  })
  .patch("/:id", requireMembership(), requireOwner("rename it"), ...jsonBody(RenameRoomBody), async (c) => {
    const roomId = c.var.membership.room.id;
    const { name } = c.req.valid("json");
    const room = await c.var.db
      .update(rooms)
      .set({ name, version: sql`${rooms.version} + 1` })
      .where(eq(rooms.id, roomId))
      .returning({ id: rooms.id, name: rooms.name, ownerId: rooms.ownerId, createdAt: rooms.createdAt })
      .get();
    // Only a room deleted since the membership check updates no row (rooms are not deleted today).
    if (!room) throw apiError(404, "not_found", "Room not found");
    await tellRoom(c.env, roomId);
    return c.json({ room: room satisfies RoomSnapshot["room"] });
  })
  .post("/:id/members", requireMembership(), requireOwner("add members"), ...jsonBody(AddMemberBody), async (c) => {
    const roomId = c.var.membership.room.id;
    const db = c.var.db;
    const { username } = c.req.valid("json");
    const target = await db
      .select({ id: users.id, username: users.username })
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
      const room = await db.select({ ownerId: rooms.ownerId }).from(rooms).where(eq(rooms.id, roomId)).get();
      if (!room) throw apiError(404, "not_found", "Room not found");
      if (room.ownerId === me) throw apiError(409, "conflict", "The owner cannot leave the room");
    } else {
      assertOwner(await loadMembership(db, roomId, me), "remove members");
      const target = await db.select({ id: users.id }).from(users).where(eq(users.id, targetId)).get();
      if (!target) throw apiError(404, "not_found", "No such user");
    }
    // Removing someone who is not (or no longer) a member succeeds too, and still tells the room.
    await db.batch([
      db.delete(memberships).where(and(eq(memberships.roomId, roomId), eq(memberships.userId, targetId))),
      db.update(rooms).set({ version: sql`${rooms.version} + 1` }).where(eq(rooms.id, roomId)),
    ]);
    // The room closes the removed member's sockets and drops the room from their badge and list.
    await tellRoom(c.env, roomId);
    return c.body(null, 204);
  });
