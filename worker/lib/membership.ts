import { and, eq } from "drizzle-orm";
import { memberships, rooms } from "../db/schema";
import type { Role } from "../protocol";
import type { DB } from "../types";
import { apiError } from "./errors";

/** The room and the caller's role in it; 404 when there is no such room, 403 when not a member. */
export async function requireMembership(db: DB, roomId: string, userId: string) {
  const row = await db
    .select({ room: rooms, role: memberships.role })
    .from(rooms)
    .leftJoin(memberships, and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId)))
    .where(eq(rooms.id, roomId))
    .get();
  if (!row) throw apiError(404, "not_found", "Room not found");
  if (!row.role) throw apiError(403, "forbidden", "You are not a member of this room");
  return { room: row.room, role: row.role as Role };
}
