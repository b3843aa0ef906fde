/**
 * Benchmark hooks, off unless BENCH_HOOKS = "1" (set only by `npm run bench`
 * on its own wrangler dev): `POST /api/_bench/rooms/:id/reset` resets a Room
 * object, as a redeploy would, for the reconnect-storm scenario.
 */
import { Hono } from "hono";
import { apiError } from "../lib/errors";
import { requireMembership } from "../lib/membership";
import { requireAuth } from "../middleware/auth";
import type { AppEnv } from "../types";

export const benchHooks = new Hono<AppEnv>()
  .use(async function benchOnly(c, next) {
    if (String(c.env.BENCH_HOOKS) !== "1") throw apiError(404, "not_found", "Not found");
    return next();
  })
  .use(requireAuth())
  .post("/rooms/:id/reset", async (c) => {
    const roomId = c.req.param("id");
    await requireMembership(c.var.db, roomId, c.var.auth.user.id);
    await c.env.ROOM.getByName(roomId)
      .reset()
      .catch(() => undefined); // the abort rejects the call that caused it
    return c.body(null, 204);
  });
