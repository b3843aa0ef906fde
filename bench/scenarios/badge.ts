/**
 * 2. Badges: members on another page (only their badge socket `/api/me/ws`
 * open) see their unread count for the room go up with each message, from
 * the numbers in the frame alone (no HTTP request per event). Compared with
 * the floor's fan-out to as many sockets.
 */
import { SEND_RATE } from "../lib/config.ts";
import type { Ctx } from "../lib/context.ts";
import { sendFrame } from "../lib/frames.ts";
import { httpCounter, openMany, sendOnSchedule, waitUntil } from "../lib/harness.ts";
import { histogram, type Summary } from "../lib/stats.ts";
import { fanout } from "./fanout.ts";

export interface BadgeResult {
  n: number;
  messages: number;
  perMember: Summary;
  lastBadge: Summary;
  missing: number;
  httpRequestsPerEvent: number;
  /** The size of one (not full) badge frame on the wire. */
  badgeFrameBytes: number;
  floorFanout: Summary;
}

export async function badgeScenario(ctx: Ctx): Promise<BadgeResult> {
  const n = ctx.sizes.badgeN;
  console.log(`badges to ${n}…`);
  const members = ctx.users.slice(0, n + 1);
  const roomId = await ctx.parley.roomWith(members, "badges");
  const watchers = members.slice(1);
  // Per watcher: the count before the measured messages, and when it first reached base + k.
  const state = watchers.map(() => ({ base: null as number | null, got: new Map<number, number>() }));
  let badgeBytes = 0;
  const requestsBefore = httpCounter.count;
  const sockets = await openMany(
    watchers.map((u, i) => () =>
      ctx.parley.badgeSocket(u, (f, t, bytes) => {
        if (f.type !== "notification_count_update") return; // anything else would make a client go and ask
        const s = state[i]!;
        const v = f.rooms[roomId] ?? (f.full ? 0 : undefined);
        if (v === undefined) return;
        if (s.base === null) {
          s.base = v;
          return;
        }
        if (!f.full) badgeBytes = bytes;
        for (let k = 1; k <= v - s.base; k++) if (!s.got.has(k)) s.got.set(k, t);
      }),
    ),
  );
  await waitUntil(() => state.every((s) => s.base !== null), 10_000);
  const sender = await ctx.parley.roomSocket(roomId, ctx.owner, () => {});
  // One unmeasured warm-up message (wakes the room and the hub shards); the baseline follows it.
  sender.send(sendFrame("warm-up"));
  await waitUntil(() => state.every((s) => s.got.size >= 1), 10_000);
  for (const s of state) {
    s.base = (s.base ?? 0) + 1;
    s.got.clear();
  }
  const count = ctx.sizes.badgeCount;
  // Message i moves every count to base + i + 1.
  const scheduled = await sendOnSchedule(count, SEND_RATE, (i) => sender.send(sendFrame(`badge ${i}`)));
  await waitUntil(() => state.every((s) => s.got.size >= count), 15_000);
  const each = histogram();
  const last = histogram();
  let missing = 0;
  for (let k = 1; k <= count; k++) {
    const at = scheduled[k - 1]!;
    let max = 0;
    for (const s of state) {
      const t = s.got.get(k);
      if (t === undefined) {
        missing++;
        continue;
      }
      each.record(t - at);
      max = Math.max(max, t - at);
    }
    last.record(max);
  }
  const requests = httpCounter.count - requestsBefore;
  for (const s of sockets) s.close();
  sender.close();
  const floorFan = await fanout(ctx, n, "floor");
  const result = { n, messages: count, perMember: each.summary(), lastBadge: last.summary(), missing, httpRequestsPerEvent: requests / count, badgeFrameBytes: badgeBytes, floorFanout: floorFan.lastMember };
  const s = `badge ${n}`;
  ctx.report.row(s, "per-member p50 (ms)", result.perMember.p50, null, "≤ 40", result.perMember.p50 <= 40);
  ctx.report.row(s, "per-member p99 (ms)", result.perMember.p99, null, "≤ 200", result.perMember.p99 <= 200);
  ctx.report.row(s, "last badge p99 vs floor fan-out p99 (ms)", result.lastBadge.p99, floorFan.lastMember.p99, "≤ 2× floor", result.lastBadge.p99 <= 2 * floorFan.lastMember.p99);
  ctx.report.row(s, "missing badge updates", missing, null, "0", missing === 0);
  ctx.report.row(s, "HTTP requests by clients per event", requests / count, null, "0", requests === 0);
  return result;
}
