/**
 * 8. Search (issue #15): one user in `searchRooms` rooms of `searchMessages` messages each.
 * Each query goes both ways, alternating: `GET /api/search` (every room searches its own FTS5
 * index, in parallel, and the Worker merges) and `GET /api/_bench/search-d1` (one FTS5 table in
 * D1 holding the same texts, filtered to my rooms). Latency from this process, sequential
 * queries (no load beyond one user searching).
 */
import type { Ctx } from "../lib/context.ts";
import { api, pool } from "../lib/harness.ts";
import { histogram } from "../lib/stats.ts";

/** A deterministic corpus: messages of 12 words drawn from 2,000 (word i has weight 1/(i+1)). */
function corpus(n: number, seed: number): string[] {
  let x = seed >>> 0 || 1;
  const rand = () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const words = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}x`);
  const weights = words.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const pick = () => {
    let r = rand() * total;
    for (let i = 0; i < words.length; i++) if ((r -= weights[i]!) <= 0) return words[i]!;
    return words.at(-1)!;
  };
  return Array.from({ length: n }, () => Array.from({ length: 12 }, pick).join(" "));
}

export async function searchScenario(ctx: Ctx) {
  const { searchRooms, searchMessages, searchQueries } = ctx.sizes;
  const user = ctx.owner;
  const roomIds = await pool(Array.from({ length: searchRooms }, (_, i) => i), 6, (i) => ctx.parley.roomWith([user], `search-${ctx.tag}-${i}`));
  await pool(roomIds, 4, async (roomId, i) => {
    const texts = corpus(searchMessages, 1000 + i);
    for (let at = 0; at < texts.length; at += 200) {
      const res = await api(ctx.parley.base, `/api/_bench/rooms/${roomId}/corpus`, { cookie: user.cookie, json: { texts: texts.slice(at, at + 200) } });
      if (res.status !== 204) throw new Error(`corpus: ${res.status} ${await res.text()}`);
    }
  });
  // Words from common to rare, and two-word queries.
  const words = [3, 10, 30, 100, 300, 1000].map((i) => `w${i.toString(36)}x`);
  const queries = Array.from({ length: searchQueries }, (_, i) => (i % 3 === 2 ? `${words[i % 6]} ${words[(i + 1) % 6]}` : words[i % 6]!));
  const rooms = histogram();
  const d1 = histogram();
  let roomHits = 0;
  let d1Hits = 0;
  const timed = async (path: string) => {
    const t0 = performance.now();
    const res = await api(ctx.parley.base, path, { cookie: user.cookie });
    const body = (await res.json()) as { hits: unknown[] };
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t0, hits: body.hits.length };
  };
  // Warm both paths (every room object awake, D1 cached) before measuring.
  await timed(`/api/search?q=${words[0]}`);
  await timed(`/api/_bench/search-d1?q=${words[0]}`);
  for (const [i, q] of queries.entries()) {
    const order = i % 2 ? ["d1", "rooms"] : ["rooms", "d1"];
    for (const way of order) {
      const r = await timed(way === "rooms" ? `/api/search?q=${encodeURIComponent(q)}` : `/api/_bench/search-d1?q=${encodeURIComponent(q)}`);
      if (way === "rooms") {
        rooms.record(r.ms);
        roomHits += r.hits;
      } else {
        d1.record(r.ms);
        d1Hits += r.hits;
      }
    }
  }
  const a = rooms.summary();
  const b = d1.summary();
  const label = `${searchRooms} rooms × ${searchMessages} messages`;
  // No target: the choice also weighs the write path (README, "Search"), so this is a measurement.
  ctx.report.row("search", `rooms' own FTS5, fan-out (${label}): p50 / p99 ms`, `${a.p50} / ${a.p99}`);
  ctx.report.row("search", `one D1 FTS5 index (${label}): p50 / p99 ms`, `${b.p50} / ${b.p99}`);
  return { rooms: searchRooms, messagesPerRoom: searchMessages, queries: queries.length, fanout: a, d1: b, hitsPerQuery: { fanout: roomHits / queries.length, d1: d1Hits / queries.length } };
}
