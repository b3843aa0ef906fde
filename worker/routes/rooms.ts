/** `/api/rooms/*`: rooms and their membership. Non-members get 403 on everything of a room. */
import { and, asc, count, eq } from "drizzle-orm";
import { Hono } from "hono";
import { memberships, rooms, users } from "../db/schema";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { hubFor } from "../lib/hub";
import { requireMembership } from "../lib/membership";
import { jsonBody } from "../middleware/validate";
import { AddMemberBody, CreateRoomBody, RenameRoomBody, type Role, type RoomSnapshot, type RoomSummary } from "../protocol";
import type { AppEnv, DB } from "../types";
import { listFiles } from "./files";

function requireOwner(role: Role, action: string): void {
  if (role !== "owner") throw apiError(403, "forbidden", `Only the room's owner can ${action}`);
}

async function listMembers(db: DB, roomId: string) {
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
        .select({ room: rooms, role: memberships.role, memberCount: memberCounts.n })
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
    return c.json({ rooms: list });
  })
  .post("/", ...jsonBody(CreateRoomBody), async (c) => {
    const { user } = c.var.auth;
    const { name } = c.req.valid("json");
    const room = { id: newId(), name, ownerId: user.id, createdAt: Date.now() };
    await c.var.db.batch([
      c.var.db.insert(rooms).values(room),
      c.var.db.insert(memberships).values({ roomId: room.id, userId: user.id, role: "owner", joinedAt: room.createdAt }),
    ]);
    await c.env.ROOM.getByName(room.id).syncMembers(room.id);
    const summary: RoomSummary = { ...room, role: "owner", memberCount: 1, unread: 0 };
    return c.json({ room: summary }, 201);
  })
  .get("/:id", async (c) => {
    const roomId = c.req.param("id");
    const { room, role } = await requireMembership(c.var.db, roomId, c.var.auth.user.id);
    // The room's head first: files listed after it are at least as new, so nothing falls between.
    const timeline = await c.env.ROOM.getByName(roomId).snapshot(c.var.auth.user.id, 50);
    const [members, filePage] = await Promise.all([listMembers(c.var.db, roomId), listFiles(c.var.db, roomId, { limit: 50 })]);
    const snapshot: RoomSnapshot = { room, role, members, ...timeline, files: filePage.files };
    return c.json(snapshot);
  })
  .patch("/:id", ...jsonBody(RenameRoomBody), async (c) => {
    const roomId = c.req.param("id");
    const { role } = await requireMembership(c.var.db, roomId, c.var.auth.user.id);
    requireOwner(role, "rename it");
    const { name } = c.req.valid("json");
    const room = await c.var.db.update(rooms).set({ name }).where(eq(rooms.id, roomId)).returning().get();
    return c.json({ room });
  })
  .post("/:id/members", ...jsonBody(AddMemberBody), async (c) => {
    const roomId = c.req.param("id");
    const db = c.var.db;
    const { role } = await requireMembership(db, roomId, c.var.auth.user.id);
    requireOwner(role, "add members");
    const { username } = c.req.valid("json");
    const target = await db
      .select({ id: users.id, username: users.username })
      .from(users)
      .where(eq(users.usernameKey, username.toLowerCase()))
      .get();
    if (!target) throw apiError(404, "not_found", `No user named “${username}”`);
    const joinedAt = Date.now();
    const inserted = await db
      .insert(memberships)
      .values({ roomId, userId: target.id, role: "member", joinedAt })
      .onConflictDoNothing()
      .returning()
      .get();
    if (!inserted) throw apiError(409, "conflict", `${target.username} is already a member`);
    await c.env.ROOM.getByName(roomId).syncMembers(roomId);
    return c.json({ member: { ...target, role: "member" as const, joinedAt } }, 201);
  })
  .delete("/:id/members/:userId", async (c) => {
    const roomId = c.req.param("id");
    const targetId = c.req.param("userId");
    const me = c.var.auth.user.id;
    const db = c.var.db;
    const { role } = await requireMembership(db, roomId, me);
    if (targetId !== me) requireOwner(role, "remove members");
    else if (role === "owner") throw apiError(409, "conflict", "The owner cannot leave the room");
    const removed = await db
      .delete(memberships)
      .where(and(eq(memberships.roomId, roomId), eq(memberships.userId, targetId)))
      .returning()
      .get();
    if (!removed) throw apiError(404, "not_found", "That user is not a member of this room");
    // The room closes the removed member's sockets and zeroes their badge for this room.
    await c.env.ROOM.getByName(roomId).syncMembers(roomId);
    return c.body(null, 204);
  });
