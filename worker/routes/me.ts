/** `/api/me`: who I am and my badge. */
import { Hono } from "hono";
import { hubFor } from "../lib/hub";
import type { AppEnv } from "../types";

export const me = new Hono<AppEnv>()
  .get("/", (c) => c.json(c.var.auth.user))
  .get("/unread", async (c) => {
    const { user } = c.var.auth;
    return c.json(await hubFor(c.env, user.id).getUnread(user.id));
  });
