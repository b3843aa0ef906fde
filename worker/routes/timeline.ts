/**
 * `/api/rooms/:id/{ws,messages,events}`: a room's timeline. The Worker checks
 * the session, Origin and membership, then calls the Room object by RPC (or,
 * for the socket, forwards the upgrade with the identity it verified).
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { apiError } from "../lib/errors";
import { requireMembership } from "../middleware/membership";
import { jsonBody, query } from "../middleware/validate";
import {
  EditMessageBody,
  type EventsPage,
  EventsQuery,
  type HistoryPage,
  HistoryQuery,
  MarkUnreadBody,
  type Message,
  type Reaction,
  ReactionBody,
  ReactionEmoji,
  ReadBody,
  type ReadReply,
  SendMessageBody,
  type SendResult,
} from "#protocol";
import { type Failure, UPGRADE_HEADERS } from "../room/contract";
import type { AppEnv } from "../types";

const STATUS: Record<Failure["code"], ContentfulStatusCode> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  resync_required: 409,
  rate_limited: 429,
};

/** Turn a Room's failure into the standard HTTP error. */
export function roomFailure(f: Failure): never {
  const headers: Record<string, string> = f.retryAfter ? { "Retry-After": String(f.retryAfter) } : {};
  throw apiError(STATUS[f.code], f.code, f.message, headers);
}

/** The reply of mark read / mark unread. */

export const timeline = new Hono<AppEnv>()
  // No requireMembership(): membership is checked by the room itself (one D1 query fewer per
  // upgrade: a reconnect storm of thousands is bound by them); its refusals become the standard errors here.
  .get("/:id/ws", async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw apiError(400, "bad_request", "This endpoint takes a WebSocket upgrade");
    }
    const roomId = c.req.param("id");
    const { user, sessionHash } = c.var.auth;
    const headers = new Headers({ Upgrade: "websocket" });
    for (const h of ["Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"]) {
      const v = c.req.header(h);
      if (v) headers.set(h, v);
    }
    headers.set(UPGRADE_HEADERS.roomId, roomId);
    headers.set(UPGRADE_HEADERS.userId, user.id);
    headers.set(UPGRADE_HEADERS.username, user.username);
    headers.set(UPGRADE_HEADERS.session, sessionHash);
    headers.set(UPGRADE_HEADERS.expires, String(c.var.auth.expiresAt));
    const url = new URL(c.req.url);
    const res = await c.env.ROOM.getByName(roomId).fetch(new Request(`https://room/ws${url.search}`, { headers }));
    if (res.status === 404) throw apiError(404, "not_found", "Room not found");
    if (res.status === 403) throw apiError(403, "forbidden", "You are not a member of this room");
    return res;
  })
  // Top-level messages before `before`; with `thread=<messageId>`, that thread's replies after `after`, oldest first.
  .get("/:id/messages", requireMembership(), query(HistoryQuery), async (c) => {
    const { before, limit, thread, after } = c.req.valid("query");
    const room = c.env.ROOM.getByName(c.var.membership.room.id);
    if (thread === undefined) return c.json((await room.history(before, limit)) satisfies HistoryPage);
    const res = await room.thread(thread, after ?? 0, limit);
    if (!res.ok) roomFailure(res);
    return c.json({ parent: res.parent, messages: res.messages, hasMore: res.hasMore } satisfies HistoryPage);
  })
  .get("/:id/events", requireMembership(), query(EventsQuery), async (c) => {
    const res = await c.env.ROOM.getByName(c.var.membership.room.id).eventsAfter(c.req.valid("query").after);
    if (!res.ok) {
      throw apiError(409, "resync_required", res.message, {}, { seq: res.seq ?? 0 });
    }
    return c.json({ events: res.events, seq: res.seq } satisfies EventsPage);
  })
  .post("/:id/messages", requireMembership(), ...jsonBody(SendMessageBody), async (c) => {
    const { clientId, text, threadOf } = c.req.valid("json");
    const res = await c.env.ROOM.getByName(c.var.membership.room.id).sendMessage(c.var.auth.user, clientId, text, threadOf);
    if (!res.ok) roomFailure(res);
    return c.json({ message: res.message, seq: res.seq, duplicate: res.duplicate } satisfies SendResult, res.duplicate ? 200 : 201);
  })
  .post("/:id/read", requireMembership(), ...jsonBody(ReadBody), async (c) => {
    const res = await c.env.ROOM.getByName(c.var.membership.room.id).markRead(c.var.auth.user, c.req.valid("json").seq);
    if (!res.ok) roomFailure(res);
    return c.json({ readSeq: res.readSeq, unread: res.unread, changed: res.changed } satisfies ReadReply);
  })
  .post("/:id/unread", requireMembership(), ...jsonBody(MarkUnreadBody), async (c) => {
    const res = await c.env.ROOM.getByName(c.var.membership.room.id).markRead(c.var.auth.user, c.req.valid("json").seq, true);
    if (!res.ok) roomFailure(res);
    return c.json({ readSeq: res.readSeq, unread: res.unread, changed: res.changed } satisfies ReadReply);
  })
  .patch("/:id/messages/:messageId", requireMembership(), ...jsonBody(EditMessageBody), async (c) => {
    const room = c.env.ROOM.getByName(c.var.membership.room.id);
    const res = await room.editMessage(c.var.auth.user, c.req.param("messageId"), c.req.valid("json").text);
    if (!res.ok) roomFailure(res);
    return c.json({ message: res.message satisfies Message });
  })
  .post("/:id/messages/:messageId/reactions", requireMembership(), ...jsonBody(ReactionBody), async (c) => {
    const room = c.env.ROOM.getByName(c.var.membership.room.id);
    const res = await room.react(c.var.auth.user, c.req.param("messageId"), c.req.valid("json").emoji, true);
    if (!res.ok) roomFailure(res);
    return c.json({ reactions: res.reactions satisfies Reaction[] }, res.event ? 201 : 200);
  })
  .delete("/:id/messages/:messageId/reactions/:emoji", requireMembership(), async (c) => {
    // The emoji is a path segment (percent-encoded UTF-8); Hono decodes it.
    const emoji = ReactionEmoji.safeParse(c.req.param("emoji"));
    if (!emoji.success) throw apiError(400, "bad_request", "A reaction is one emoji");
    const room = c.env.ROOM.getByName(c.var.membership.room.id);
    const res = await room.react(c.var.auth.user, c.req.param("messageId"), emoji.data, false);
    if (!res.ok) roomFailure(res);
    return c.json({ reactions: res.reactions satisfies Reaction[] });
  })
  .delete("/:id/messages/:messageId", requireMembership(), async (c) => {
    const res = await c.env.ROOM.getByName(c.var.membership.room.id).deleteMessage(c.var.auth.user, c.req.param("messageId"));
    if (!res.ok) roomFailure(res);
    return c.body(null, 204);
  });
