/**
 * Benchmark hooks, off unless BENCH_HOOKS = "1" (set only by `npm run bench`
 * on its own wrangler dev):
 * - `POST /api/_bench/rooms/:id/reset` resets a Room object, as a redeploy
 *   would, for the reconnect-storm scenario;
 * - `GET /api/_bench/rooms/:id/meter` reads the cost meters (lib/meter.ts) of
 *   that room and of every UserHub shard (summed), and `DELETE` resets them;
 * - `POST /api/_bench/rooms/:id/corpus {texts}` stores messages in the room at
 *   once and the same texts in a D1 FTS5 table (`bench_fts`, made here, never
 *   by a migration), and `GET /api/_bench/search-d1?q=` searches that table
 *   for my rooms: the alternative to the rooms' own indexes the search
 *   scenario measures against `GET /api/search`.
 */
import { Hono } from "hono";
import { apiError } from "../lib/errors";
import { requireAuth } from "../middleware/auth";
import { requireMembership } from "../middleware/membership";
import { hubShards } from "../lib/hub";
import { sumReadings } from "../lib/meter";
import { toFtsQuery } from "../lib/search-query";
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
  })
  .post("/rooms/:id/corpus", requireMembership(), async (c) => {
    const roomId = c.var.membership.room.id;
    const { texts } = await c.req.json<{ texts: string[] }>();
    await c.env.ROOM.getByName(roomId).benchInsert(c.var.auth.user, texts);
    await c.env.DB.prepare(
      "CREATE VIRTUAL TABLE IF NOT EXISTS bench_fts USING fts5(room_id UNINDEXED, text, tokenize='unicode61 remove_diacritics 2')",
    ).run();
    const insert = c.env.DB.prepare("INSERT INTO bench_fts (room_id, text) VALUES (?, ?)");
    await c.env.DB.batch(texts.map((t) => insert.bind(roomId, t)));
    return c.body(null, 204);
  })
  .get("/search-d1", async (c) => {
    const parsed = toFtsQuery(c.req.query("q") ?? "");
    if (!parsed.ok) throw apiError(400, "bad_request", parsed.message);
    const { results } = await c.env.DB.prepare(
      `SELECT room_id, rowid, snippet(bench_fts, 1, '[', ']', '…', 16) AS snippet FROM bench_fts
       WHERE bench_fts MATCH ?1 AND room_id IN (SELECT room_id FROM memberships WHERE user_id = ?2)
       ORDER BY rowid DESC LIMIT 30`,
    )
      .bind(parsed.match, c.var.auth.user.id)
      .all();
    return c.json({ hits: results });
  });
