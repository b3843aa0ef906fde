/** `/api/me`: who I am, my badge, and the badge socket. */
import { Hono } from "hono";
import { apiError } from "../lib/errors";
import { hubFor } from "../lib/hub";
import { HUB_UPGRADE_HEADERS } from "../room/contract";
import type { AppEnv } from "../types";
import type { UnreadCounts, User } from "#protocol";

export const me = new Hono<AppEnv>()
  .get("/", (c) => c.json(c.var.auth.user satisfies User))
  .get("/unread", async (c) => {
    const { user } = c.var.auth;
    return c.json((await hubFor(c.env, user.id).getUnread(user.id)) satisfies UnreadCounts);
  })
  .get("/ws", async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw apiError(400, "bad_request", "This endpoint takes a WebSocket upgrade");
    }
    const { user, sessionHash } = c.var.auth;
    const headers = new Headers({ Upgrade: "websocket" });
    headers.set(HUB_UPGRADE_HEADERS.userId, user.id);
    headers.set(HUB_UPGRADE_HEADERS.session, sessionHash);
    headers.set(HUB_UPGRADE_HEADERS.expires, String(c.var.auth.expiresAt));
    return hubFor(c.env, user.id).fetch(new Request("https://hub/ws", { headers }));
  });
