/**
 * Benchmark hooks, off unless BENCH_HOOKS = "1" (set only by `npm run bench`
 * on its own wrangler dev):
 * - `POST /api/_bench/rooms/:id/reset` resets a Room object, as a redeploy
 *   would, for the reconnect-storm scenario;
 * - `GET /api/_bench/rooms/:id/meter` reads the cost meters (lib/meter.ts) of
 *   that room and of every UserHub shard (summed), and `DELETE` resets them.
 */
import { Hono } from "hono";
import { apiError } from "../lib/errors";
import { requireAuth } from "../middleware/auth";
import { requireMembership } from "../middleware/membership";
import { hubShards } from "../lib/hub";
import { sumReadings } from "../lib/meter";
import type { AppEnv } from "../types";

const allHubs = (env: Env) => Array.from({ length: hubShards(env) }, (_, i) => env.USER_HUB.getByName(`shard-${i}`));

export const benchHooks = new Hono<AppEnv>()
  .use(async function benchOnly(c, next) {
    if (String(c.env.BENCH_HOOKS) !== "1") throw apiError(404, "not_found", "Not found");
    return next();
  })
  .use(requireAuth())
  .post("/rooms/:id/reset", requireMembership(), async (c) => {
    const roomId = c.var.membership.room.id;
    await c.env.ROOM.getByName(roomId)
      .reset()
      .catch(() => undefined); // the abort rejects the call that caused it
    return c.body(null, 204);
  })
  .get("/rooms/:id/meter", requireMembership(), async (c) => {
    const roomId = c.var.membership.room.id;
    const [room, hubs] = await Promise.all([c.env.ROOM.getByName(roomId).meterReading(), Promise.all(allHubs(c.env).map((h) => h.meterReading()))]);
    return c.json({ room, hubs: sumReadings(hubs) });
  })
  .delete("/rooms/:id/meter", requireMembership(), async (c) => {
    const roomId = c.var.membership.room.id;
    await Promise.all([c.env.ROOM.getByName(roomId).meterReset(), ...allHubs(c.env).map((h) => h.meterReset())]);
    return c.body(null, 204);
  });
