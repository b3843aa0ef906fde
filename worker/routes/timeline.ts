/**
 * `/api/rooms/:id/{ws,messages,events}`: a room's timeline. The Worker checks
 * the session, Origin and membership, then calls the Room object by RPC (or,
 * for the socket, forwards the upgrade with the identity it verified).
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { apiError } from "../lib/errors";
import { jsonBody, query } from "../middleware/validate";
import { EditMessageBody, EventsQuery, HistoryQuery, MarkUnreadBody, ReadBody, SendMessageBody } from "#protocol";
import { UPGRADE_HEADERS } from "../room/contract";
import type { Failure } from "../room/log";
import type { AppEnv } from "../types";
import { requireMembership } from "../lib/membership";

const STATUS: Record<Failure["code"], ContentfulStatusCode> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  resync_required: 409,
  rate_limited: 429,
};

/** Turn a Room's failure into the standard HTTP error. */
function fail(f: Failure): never {
  const headers: Record<string, string> = f.retryAfter ? { "Retry-After": String(f.retryAfter) } : {};
  throw apiError(STATUS[f.code], f.code, f.message, headers);
}

export const timeline = new Hono<AppEnv>()
  .get("/:id/ws", async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw apiError(400, "bad_request", "This endpoint takes a WebSocket upgrade");
    }
    const roomId = c.req.param("id");
    const { user, sessionHash } = c.var.auth;
    // Membership is checked by the room itself (one D1 query fewer per upgrade: a reconnect storm
    // of thousands is bound by them); its refusals become the standard errors here.
    const headers = new Headers({ Upgrade: "websocket" });
    for (const h of ["Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"]) {
      const v = c.req.header(h);
      if (v) headers.set(h, v);
    }
    headers.set(UPGRADE_HEADERS.roomId, roomId);
    headers.set(UPGRADE_HEADERS.userId, user.id);
    headers.set(UPGRADE_HEADERS.username, user.username);
    headers.set(UPGRADE_HEADERS.session, sessionHash);
    const url = new URL(c.req.url);
    const res = await c.env.ROOM.getByName(roomId).fetch(new Request(`https://room/ws${url.search}`, { headers }));
    if (res.status === 404) throw apiError(404, "not_found", "Room not found");
    if (res.status === 403) throw apiError(403, "forbidden", "You are not a member of this room");
    return res;
  })
  .get("/:id/messages", query(HistoryQuery), async (c) => {
    const roomId = c.req.param("id");
    await requireMembership(c.var.db, roomId, c.var.auth.user.id);
    const { before, limit } = c.req.valid("query");
    return c.json(await c.env.ROOM.getByName(roomId).history(before, limit));
  })
  .get("/:id/events", query(EventsQuery), async (c) => {
    const roomId = c.req.param("id");
    await requireMembership(c.var.db, roomId, c.var.auth.user.id);
    const res = await c.env.ROOM.getByName(roomId).eventsAfter(c.req.valid("query").after);
    if (!res.ok) {
      throw apiError(409, "resync_required", res.message, {}, { seq: res.seq ?? 0 });
    }
    return c.json({ events: res.events, seq: res.seq });
  })
  .post("/:id/messages", ...jsonBody(SendMessageBody), async (c) => {
    const roomId = c.req.param("id");
    const { user } = c.var.auth;
    await requireMembership(c.var.db, roomId, user.id);
    const { clientId, text } = c.req.valid("json");
    const res = await c.env.ROOM.getByName(roomId).sendMessage(user, clientId, text);
    if (!res.ok) fail(res);
    return c.json({ message: res.message, seq: res.seq, duplicate: res.duplicate }, res.duplicate ? 200 : 201);
  })
  .post("/:id/read", ...jsonBody(ReadBody), async (c) => {
    const roomId = c.req.param("id");
    const { user } = c.var.auth;
    await requireMembership(c.var.db, roomId, user.id);
    const res = await c.env.ROOM.getByName(roomId).markRead(user, c.req.valid("json").seq);
    if (!res.ok) fail(res);
    return c.json({ readSeq: res.readSeq, unread: res.unread, changed: res.changed });
  })
  .post("/:id/unread", ...jsonBody(MarkUnreadBody), async (c) => {
    const roomId = c.req.param("id");
    const { user } = c.var.auth;
    await requireMembership(c.var.db, roomId, user.id);
    const res = await c.env.ROOM.getByName(roomId).markRead(user, c.req.valid("json").seq, true);
    if (!res.ok) fail(res);
    return c.json({ readSeq: res.readSeq, unread: res.unread, changed: res.changed });
  })
  .patch("/:id/messages/:messageId", ...jsonBody(EditMessageBody), async (c) => {
    const roomId = c.req.param("id");
    const { user } = c.var.auth;
    await requireMembership(c.var.db, roomId, user.id);
    const res = await c.env.ROOM.getByName(roomId).editMessage(user, c.req.param("messageId"), c.req.valid("json").text);
    if (!res.ok) fail(res);
    return c.json({ message: res.message });
  })
  .delete("/:id/messages/:messageId", async (c) => {
    const roomId = c.req.param("id");
    const { user } = c.var.auth;
    await requireMembership(c.var.db, roomId, user.id);
    const res = await c.env.ROOM.getByName(roomId).deleteMessage(user, c.req.param("messageId"));
    if (!res.ok) fail(res);
    return c.body(null, 204);
  });
