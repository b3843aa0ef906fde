/**
 * 7. Cost per message: messages sent over HTTP into rooms of several sizes
 * (and one with badge sockets open), measured with the objects' meters as
 * Cloudflare bills them; an idle room's alarms; dollars per million messages
 * against a "one hub per user" design.
 */
import { SEND_RATE } from "../lib/config.ts";
import type { Ctx } from "../lib/context.ts";
import { now, openMany, sleep, waitUntil } from "../lib/harness.ts";
import { type MeterAnswer, type MeterPart, readMeter, resetMeter, settle } from "../lib/meter.ts";
import type { BenchUser } from "../lib/parley.ts";
import { type DollarRow, dollarsPerMillionMessages, type Dollars, oneHubPerUser, type Priced, PRICES, r2, r4 } from "../lib/prices.ts";

/** A per-message figure: the room's, the hub shards' (summed) and both. */
type Split = { room: number; hubs: number; total: number };

interface CostRun {
  members: number;
  badgeSockets: number;
  messages: number;
  stored: number;
  settled: boolean;
  settleMs: number;
  meterAtReset: MeterAnswer;
  meter: MeterAnswer;
  perMessage: { rowsWritten: Split; rowsRead: Split; statements: Split; requests: Split; hubCalls: number };
  badges: { sockets: number; rightFinalCount: number; frames: number; changes: number };
  usdPerMillionMessages: Dollars;
  oneHubPerUser: Priced;
}

/** Send `count` messages from the owner over HTTP, paced under the per-user limit; how many were stored (201). */
async function sendOverHttp(ctx: Ctx, roomId: string, count: number, label: string): Promise<number> {
  const pending: Promise<number>[] = [];
  const t0 = now() + 100;
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / SEND_RATE - now();
    if (wait > 0) await sleep(wait);
    pending.push(ctx.parley.ownerApi(`/api/rooms/${roomId}/messages`, { json: { clientId: crypto.randomUUID(), text: `${label} ${i}` } }).then((r) => r.status));
  }
  const statuses = await Promise.all(pending);
  return statuses.filter((s) => s === 201).length;
}

/**
 * One cost measurement: `count` messages into a room, optionally with badge sockets open for
 * `badgeUsers`; the meter is reset once everything from the setup has settled.
 */
async function costRun(ctx: Ctx, roomId: string, members: number, count: number, badgeUsers: BenchUser[] = []): Promise<CostRun> {
  let badgeFrames = 0;
  // Each badge socket's current count for this room (a hub may fold two changes into one frame).
  const counts: Array<number | undefined> = badgeUsers.map(() => undefined);
  const sockets = await openMany(
    badgeUsers.map((u, i) => () =>
      ctx.parley.badgeSocket(u, (f) => {
        if (f.type !== "notification_count_update") return;
        const v = f.rooms[roomId] ?? (f.full ? 0 : undefined);
        if (v === undefined) return;
        if (!f.full) badgeFrames++;
        counts[i] = v;
      }),
    ),
  );
  await waitUntil(() => counts.every((c) => c !== undefined), 10_000);
  // Warm up: one message wakes the room and the hub shards, so a cold start is not what is metered.
  await sendOverHttp(ctx, roomId, 1, "cost warm-up");
  await settle(ctx.parley, roomId);
  badgeFrames = 0;
  const before = [...counts];
  const rightCount = (c: number | undefined, i: number) => c === (before[i] ?? NaN) + count;
  await resetMeter(ctx.parley, roomId);
  const zero = await readMeter(ctx.parley, roomId);
  const stored = await sendOverHttp(ctx, roomId, count, "cost");
  const { meter: m, settled, ms } = await settle(ctx.parley, roomId);
  await waitUntil(() => counts.every(rightCount), 2_000);
  const badgesRight = counts.filter(rightCount).length;
  for (const s of sockets) s.close();
  const per = (part: MeterPart, k: "rowsWritten" | "rowsRead" | "statements" | "requests" | "hubCalls") => r2((m[part][k] - zero[part][k]) / count);
  const split = (k: "rowsWritten" | "rowsRead" | "statements" | "requests"): Split => {
    const room = per("room", k);
    const hubs = per("hubs", k);
    return { room, hubs, total: r2(room + hubs) };
  };
  const perMessage: CostRun["perMessage"] = { rowsWritten: split("rowsWritten"), rowsRead: split("rowsRead"), statements: split("statements"), requests: split("requests"), hubCalls: per("room", "hubCalls") };
  const billed = { requests: perMessage.requests.total, rowsRead: perMessage.rowsRead.total, rowsWritten: perMessage.rowsWritten.total };
  const oneHub = oneHubPerUser({ rowsRead: perMessage.rowsRead.room, rowsWritten: perMessage.rowsWritten.room }, members);
  await sleep(300);
  return {
    members,
    badgeSockets: badgeUsers.length,
    messages: count,
    stored,
    settled,
    settleMs: ms,
    meterAtReset: zero,
    meter: m,
    perMessage,
    badges: { sockets: badgeUsers.length, rightFinalCount: badgesRight, frames: badgeFrames, changes: count * badgeUsers.length },
    usdPerMillionMessages: dollarsPerMillionMessages(billed),
    oneHubPerUser: oneHub,
  };
}

function costRows(ctx: Ctx, scenario: string, r: CostRun, targetRows: number): void {
  const p = r.perMessage;
  const ok = r.stored === r.messages && r.settled;
  const row = ctx.report.row.bind(ctx.report);
  row(scenario, "messages stored / settled", `${r.stored}/${r.messages} / ${r.settled ? `yes (${r.settleMs} ms)` : "NO"}`, null, "all / yes", ok);
  row(scenario, "rows written / msg: room / hubs / total", `${p.rowsWritten.room} / ${p.rowsWritten.hubs} / ${p.rowsWritten.total}`, null, `total ≤ ${targetRows}`, ok && p.rowsWritten.total <= targetRows);
  row(scenario, "rows read / msg: room / hubs / total", `${p.rowsRead.room} / ${p.rowsRead.hubs} / ${p.rowsRead.total}`, null, "report");
  row(scenario, "SQL statements / msg: room / hubs / total", `${p.statements.room} / ${p.statements.hubs} / ${p.statements.total}`, null, "report");
  row(scenario, "DO requests / msg: room + hubs = total", `${p.requests.room} + ${p.requests.hubs} = ${p.requests.total}`, null, "report");
  row(scenario, "hub calls / msg", p.hubCalls, null, "report");
  if (r.badgeSockets > 0) {
    row(scenario, "badge sockets with the right count at the end", `${r.badges.rightFinalCount}/${r.badges.sockets}`, null, "all", r.badges.rightFinalCount === r.badges.sockets);
    row(scenario, "badge frames / count changes (fewer: changes folded into one frame)", `${r.badges.frames}/${r.badges.changes}`, null, "report");
  }
  row(scenario, "$ / 1M messages: Parley vs one hub per user", `$${r.usdPerMillionMessages.total} vs $${r.oneHubPerUser.usdPerMillionMessages.total}`, null, "report");
}

/** Alarms per idle room-hour with room sockets open (pinging every 15 s, as clients do). */
async function idleRoom(ctx: Ctx, roomId: string) {
  const k = ctx.sizes.idleSockets;
  const idleMs = ctx.sizes.idleSeconds * 1000;
  console.log(`  idle room with ${k} sockets for ${ctx.sizes.idleSeconds} s…`);
  const closeCodes: Record<number, number> = {};
  const onClose = (code: number) => (closeCodes[code] = (closeCodes[code] ?? 0) + 1);
  const sockets = await openMany(ctx.users.slice(0, k).map((u) => () => ctx.parley.roomSocket(roomId, u, () => {}, undefined, { onClose })));
  await settle(ctx.parley, roomId, { quietMs: 2000 });
  await resetMeter(ctx.parley, roomId);
  const zero = await readMeter(ctx.parley, roomId);
  const t0 = now();
  // Read the (durable) alarm counter every 2 s as well, to time the alarms themselves.
  const alarmTimes: number[] = [];
  let m = zero;
  while (now() - t0 < idleMs) {
    await sleep(Math.min(2000, idleMs - (now() - t0)));
    m = await readMeter(ctx.parley, roomId);
    for (let a = alarmTimes.length; a < m.room.alarms - zero.room.alarms; a++) alarmTimes.push(now() - t0);
  }
  const hours = (now() - t0) / 3_600_000;
  const alarms = m.room.alarms - zero.room.alarms;
  const open = sockets.filter((s) => s.readyState === s.OPEN).length;
  for (const s of sockets) s.close();
  const alarmsPerHour = r2(alarms / hours);
  const first = alarmTimes[0];
  const lastSeen = alarmTimes.at(-1);
  const intervalS = first !== undefined && lastSeen !== undefined && alarmTimes.length >= 2 ? r2((lastSeen - first) / (alarmTimes.length - 1) / 1000) : null;
  // Alarm invocations are billed as requests; pings are answered by the runtime (no request).
  const usdPerRoomMonth = r4(((alarmsPerHour * 730) / 1e6) * PRICES.requestsPerMillion);
  const scenario = `cost idle room, ${k} sockets`;
  ctx.report.row(scenario, `alarms / room-hour (${alarms} in ${Math.round(hours * 3600)} s, extrapolated)`, alarmsPerHour, null, "report");
  ctx.report.row(scenario, "seconds between alarms (seen every 2 s)", intervalS ?? "–", null, "report");
  ctx.report.row(scenario, "sockets still open at the end (pinging every 15 s)", `${open}/${k}`, null, `${k}/${k}`, open === k);
  return {
    sockets: k,
    seconds: Math.round(hours * 3600),
    alarms,
    alarmsPerHour,
    alarmSeenAtS: alarmTimes.map((t) => r2(t / 1000)),
    alarmIntervalS: intervalS,
    alarmsPerHourFromInterval: intervalS ? r2(3600 / intervalS) : null,
    socketsOpenAtEnd: open,
    socketCloseCodes: closeCodes,
    usdPerRoomMonthForAlarms: usdPerRoomMonth,
    meter: m,
  };
}

export async function costScenario(ctx: Ctx) {
  console.log("cost per message…");
  const { costSizes, costMessages, costBadgeN: n, costBadgeK: k } = ctx.sizes;
  const runs: CostRun[] = [];
  const rooms = new Map<number, string>();
  for (const size of costSizes) {
    console.log(`  ${size} members, no badge socket…`);
    const roomId = await ctx.parley.roomWith(ctx.users.slice(0, size), `cost ${size}`);
    rooms.set(size, roomId);
    const r = await costRun(ctx, roomId, size, costMessages);
    runs.push(r);
    costRows(ctx, `cost ${size} members`, r, 10);
  }
  console.log(`  ${n} members, ${k} badge sockets…`);
  const badgeRoom = rooms.get(n) ?? (await ctx.parley.roomWith(ctx.users.slice(0, n), `cost ${n}`));
  const withBadges = await costRun(ctx, badgeRoom, n, costMessages, ctx.users.slice(1, k + 1));
  runs.push(withBadges);
  costRows(ctx, `cost ${n} members, ${k} badge sockets`, withBadges, 10 + k);
  const idle = await idleRoom(ctx, rooms.get(10) ?? (await ctx.parley.roomWith(ctx.users.slice(0, ctx.sizes.idleSockets), "cost idle")));
  // Dollars per million messages: Parley as measured, and one hub per user computed the same way.
  const rows: DollarRow[] = runs.map((r) => ({
    members: r.members,
    badgeSockets: r.badgeSockets,
    parley: { perMessage: { requests: r.perMessage.requests.total, rowsRead: r.perMessage.rowsRead.total, rowsWritten: r.perMessage.rowsWritten.total }, usdPerMillionMessages: r.usdPerMillionMessages },
    oneHubPerUser: r.oneHubPerUser,
    ratio: r.oneHubPerUser.usdPerMillionMessages.total > 0 ? r2(r.usdPerMillionMessages.total / r.oneHubPerUser.usdPerMillionMessages.total) : null,
  }));
  const dollars = {
    prices: PRICES,
    oneHubPerUser: "per message: the room's own rows read and written and 1 request (as measured for Parley), plus 1 request and 1 row written per member for that member's own hub",
    rows,
  };
  return { prices: PRICES, messages: costMessages, runs, idle, dollars };
}
