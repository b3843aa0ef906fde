import type { MiddlewareHandler } from "hono";
import { apiError } from "../lib/errors";
import { assertGroupRoom, assertOwner, loadMembership } from "../lib/membership";
import type { RoomEnv } from "../types";

/**
 * Require membership of the room named by the route's `:id`; sets
 * `c.var.membership` (the room and the caller's role). 404 for no such room,
 * 403 for a non-member, before the body is read or validated. Put it first on
 * every route of one room, after `requireAuth()`: the only routes of a room
 * without it are the socket upgrade (the Room object checks membership itself,
 * so a reconnect storm costs no D1 query) and `DELETE …/members/:userId`
 * (leaving is idempotent, so it decides for itself).
 */
export function requireMembership(): MiddlewareHandler<RoomEnv> {
  return async function requireMembership(c, next) {
    const roomId = c.req.param("id");
    if (!roomId) throw apiError(404, "not_found", "Room not found");
    c.set("membership", await loadMembership(c.var.db, roomId, c.var.auth.user.id));
    return next();
  };
}

/** After `requireMembership()`: 403 unless the caller owns the room; `action` completes "Only the room's owner can …". */
export function requireOwner(action: string): MiddlewareHandler<RoomEnv> {
  return async function requireOwner(c, next) {
    assertOwner(c.var.membership, action);
    return next();
  };
}

/** After `requireMembership()`: 403 with `refusal` for a direct message (it has no owner powers). */
export function groupRoomOnly(refusal: string): MiddlewareHandler<RoomEnv> {
  return async function groupRoomOnly(c, next) {
    assertGroupRoom(c.var.membership.room, refusal);
    return next();
  };
}
