/**
 * `GET /api/search?q=&room=`: full-text search over the messages of my rooms
 * (issue #15). Each room indexes its own messages (FTS5 in its SQLite); a
 * search across rooms asks every room of mine in parallel and merges their
 * newest hits. The query is made safe first (lib/search-query.ts, S13); a
 * room answers only for its members, and only rooms D1 says I am in are asked.
 */
import { Hono } from "hono";
import { eq } from "drizzle-orm";
import { memberships } from "../db/schema";
import { apiError } from "../lib/errors";
import { loadMembership } from "../lib/membership";
import { toFtsQuery } from "../lib/search-query";
import { query } from "../middleware/validate";
import { type SearchHit, SearchQuery, type SearchReply } from "#protocol";
import type { AppEnv } from "../types";

/** Hits answered at most (newest first), and asked of each room. */
export const SEARCH_LIMIT = 30;
/** A room that has not answered by then is left out (`partial`). */
const ROOM_TIMEOUT_MS = 5000;

export const searchApi = new Hono<AppEnv>().get("/", query(SearchQuery), async (c) => {
  const { q, room } = c.req.valid("query");
  const parsed = toFtsQuery(q);
  if (!parsed.ok) throw apiError(400, "bad_request", parsed.message);
  const userId = c.var.auth.user.id;
  let roomIds: string[];
  if (room) {
    await loadMembership(c.var.db, room, userId); // 404 / 403 as for every route of one room
    roomIds = [room];
  } else {
    const rows = await c.var.db.select({ roomId: memberships.roomId }).from(memberships).where(eq(memberships.userId, userId));
    roomIds = rows.map((r) => r.roomId);
  }
  let partial = false;
  const answers = await Promise.all(
    roomIds.map(async (roomId): Promise<SearchHit[]> => {
      try {
        const hits = await withTimeout(c.env.ROOM.getByName(roomId).search(userId, parsed.match, SEARCH_LIMIT), ROOM_TIMEOUT_MS);
        return (hits ?? []).map((h) => ({ roomId, ...h }));
      } catch (err) {
        console.error(`search: room ${roomId} did not answer`, err);
        partial = true;
        return [];
      }
    }),
  );
  const hits = answers
    .flat()
    .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq)
    .slice(0, SEARCH_LIMIT);
  return c.json({ hits, partial } satisfies SearchReply);
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => timer !== null && clearTimeout(timer));
}
