import { and, eq, ne } from "drizzle-orm";
import { memberships, rooms } from "../db/schema";
import type { Role } from "#protocol";
import type { DB, Membership } from "../types";
import { apiError } from "./errors";

/**
 * The room and the caller's role in it; 404 when there is no such room, 403
 * when not a member. Routes get it from `requireMembership()`
 * (middleware/membership.ts) as `c.var.membership`.
 */
export async function loadMembership(db: DB, roomId: string, userId: string): Promise<Membership> {
  const row = await db
    .select({
      room: { id: rooms.id, name: rooms.name, ownerId: rooms.ownerId, createdAt: rooms.createdAt, kind: rooms.kind },
      role: memberships.role,
      muted: memberships.muted,
      dmKey: rooms.dmKey,
    })
    .from(rooms)
    .leftJoin(memberships, and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId)))
    .where(eq(rooms.id, roomId))
    .get();
  if (!row) throw apiError(404, "not_found", "Room not found");
  if (!row.role) throw apiError(403, "forbidden", "You are not a member of this room");
  return { room: row.room, role: row.role as Role, dmKey: row.dmKey, muted: Boolean(row.muted) };
}

/** 403 unless the member is the room's owner; `action` completes "Only the room's owner can …". */
export function assertOwner(membership: Pick<Membership, "role">, action: string): void {
  if (membership.role !== "owner") throw apiError(403, "forbidden", `Only the room's owner can ${action}`);
}

/** 403 for a direct message, which has no owner powers; `refusal` is the sentence the caller sees. */
export function assertGroupRoom(room: { kind: string }, refusal: string): void {
  if (room.kind === "dm") throw apiError(403, "forbidden", refusal);
}

/**
 * Tell a room that its membership or name changed in D1. A failure is not
 * the caller's: D1 already holds the change, and the room catches up by
 * itself (its alarm compares versions while sockets are open, and the
 * per-minute cron syncs every room whose synced version lags), so the
 * request succeeds and the failure is logged.
 */
export async function tellRoom(env: Env, roomId: string): Promise<void> {
  try {
    await env.ROOM.getByName(roomId).syncMembers(roomId);
  } catch (err) {
    console.error(`room ${roomId}: sync after a membership change failed; the repair will retry it`, err);
  }
}

/**
 * The repair (cron, every minute): sync the rooms whose Durable Object has not
 * applied D1's latest membership version (R14). Returns how many it synced.
 */
export async function repairRooms(env: Env, db: DB, limit = 200): Promise<{ synced: number; failed: number }> {
  const lagging = await db.select({ id: rooms.id }).from(rooms).where(ne(rooms.version, rooms.syncedVersion)).limit(limit);
  let failed = 0;
  await Promise.all(
    lagging.map(async ({ id }) => {
      try {
        await env.ROOM.getByName(id).syncMembers(id);
      } catch (err) {
        failed++;
        console.error(`room ${id}: repair sync failed`, err);
      }
    }),
  );
  return { synced: lagging.length - failed, failed };
}
