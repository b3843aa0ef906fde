/**
 * 4. Reconnect storm: `stormN` members have the room open when the room is
 * reset (`POST /api/_bench/rooms/:id/reset` drops every socket); each comes
 * back like the SPA's room socket and resumes with `after=`. Time to resume,
 * where the time goes, and lost / duplicated messages; against the floor's
 * clients reconnecting with the same backoff.
 */
import { Backoff } from "#lib/backoff.ts";
import type WebSocket from "ws";
import { CLOSE } from "#protocol";
import { SEND_RATE } from "../lib/config.ts";
import { type Ctx, floorSocketUrl } from "../lib/context.ts";
import { benchIndex, benchText, isStoredEvent, type ServerFrame, sendFrame } from "../lib/frames.ts";
import { now, openMany, openSocket, sleep, waitUntil } from "../lib/harness.ts";
import type { BenchUser, Timings } from "../lib/parley.ts";
import { histogram, type Summary } from "../lib/stats.ts";

/** The SPA's reconnect delays (app/lib/backoff.ts): first retry 0–1 s, full jitter, doubling to 10 s. */
const newBackoff = () => new Backoff(1000, 10_000);

/** Per client, ms: reset → its drop seen; backoff waited; the upgrade (connect → open); open → live. */
const PHASES = ["dropSeen", "waited", "upgrade", "openToLive"] as const;
type Phases = Record<(typeof PHASES)[number], number>;

interface Client {
  user: BenchUser;
  /** The highest seq applied. */
  lastSeq: number;
  /** How often each tracked message was applied. */
  ids: Map<number, number>;
  ws: WebSocket | null;
  reconnects: number;
  connected: boolean;
  backoff: Backoff;
  downAt: number | undefined;
  resumeMs: number[];
  waits: number[];
  phases: Phases[];
  attempts: number;
  resyncs: number;
  gaps: number;
}

/**
 * The floor's side of the storm: `n` clients lose their sockets at the same moment and come back
 * with the same backoff (first wait 0–1 s, …) to a floor object; time from the drop to `open`.
 * The floor has no auth, no replay and no `live`, so this is the least a reconnect can take here.
 */
async function floorReconnect(ctx: Ctx, n: number): Promise<{ timeToOpen: Summary; attempts: number }> {
  const label = `fs${ctx.tag}`;
  const t0 = now();
  const h = histogram();
  let attempts = 0;
  const sockets = await Promise.all(
    Array.from({ length: n }, async () => {
      const b = newBackoff();
      for (;;) {
        await sleep(b.next());
        attempts++;
        try {
          const ws = await openSocket(floorSocketUrl(ctx, label));
          h.record(now() - t0);
          return ws;
        } catch {
          // try again after the next wait
        }
      }
    }),
  );
  for (const s of sockets) s.close();
  await sleep(300);
  return { timeToOpen: h.summary(), attempts };
}

export async function stormScenario(ctx: Ctx) {
  const n = ctx.sizes.stormN;
  console.log(`reconnect storm of ${n}…`);
  const members = ctx.users.slice(0, n);
  const roomId = n <= Math.max(...ctx.sizes.fanout) ? await ctx.fanRoom() : await ctx.parley.roomWith(members, "storm");
  const label = `s${ctx.tag}`;
  const index = benchIndex(label);
  const acked = new Set<string>();
  let stopped = false;
  // Each client behaves like the SPA's room socket: it applies stored events idempotently by seq,
  // keeps the highest seq it applied, and after an abnormal close reconnects with `after=` that seq,
  // waiting by full-jitter backoff (0–1 s, then 0–2 s, … up to 0–10 s; reset once live again).
  const clients: Client[] = members.map((u) => ({ user: u, lastSeq: 0, ids: new Map(), ws: null, reconnects: 0, connected: false, backoff: newBackoff(), downAt: undefined, resumeMs: [], waits: [], phases: [], attempts: 0, resyncs: 0, gaps: 0 }));
  let tReset = 0;
  const sender = clients[0]!;
  const onFrame = (c: Client) => (f: ServerFrame) => {
    if (c === sender && f.type === "ack") acked.add(f.clientId);
    if (f.type === "resync_required") c.resyncs++;
    if (!isStoredEvent(f) || f.seq <= c.lastSeq) return; // ephemeral, or applied already
    if (f.seq !== c.lastSeq + 1) c.gaps++;
    c.lastSeq = f.seq;
    if (f.type !== "message") return;
    const id = index(f.message.text);
    if (id !== undefined) c.ids.set(id, (c.ids.get(id) ?? 0) + 1);
  };
  const closeCodes: Record<number, number> = {};
  const onDown = (c: Client, code: number) => {
    c.connected = false;
    if (stopped) return;
    closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    if (code === CLOSE.policy) return; // removed / signed out: a client does not come back
    c.downAt ??= now();
    c.reconnects++;
    const wait = c.backoff.next();
    c.waits.push(wait);
    setTimeout(() => connect(c), wait);
  };
  /** One attempt; on failure the next is scheduled by the backoff. Resolves when live or failed. */
  const connect = async (c: Client): Promise<void> => {
    if (stopped) return;
    c.attempts++;
    const timings: Timings = { start: now() };
    try {
      c.ws = await ctx.parley.roomSocket(roomId, c.user, onFrame(c), c.lastSeq, { onClose: (code) => onDown(c, code), liveTimeoutMs: 15_000, timings });
      c.connected = true;
      c.backoff.reset();
      if (c.downAt !== undefined) {
        c.resumeMs.push(now() - c.downAt);
        // Where the time went: drop seen (after the reset) → backoff waits → last attempt's upgrade → its live frame.
        c.phases.push({ dropSeen: c.downAt - tReset, waited: c.waits.reduce((a, b) => a + b, 0), upgrade: timings.open! - timings.start!, openToLive: timings.live! - timings.open! });
        c.downAt = undefined;
        c.waits = [];
      }
    } catch {
      if (stopped) return;
      const wait = c.backoff.next();
      c.waits.push(wait);
      setTimeout(() => connect(c), wait);
    }
  };
  // Start from the head so nothing older counts.
  const head = (await (await ctx.parley.ownerApi(`/api/rooms/${roomId}`)).json()) as { seq: number };
  for (const c of clients) c.lastSeq = head.seq;
  await openMany(clients.map((c) => () => connect(c)));
  await waitUntil(() => clients.every((c) => c.connected), 30_000);
  // The sender behaves like the SPA: a send stays in its outbox until acked, and is resent with
  // the same clientId on a new socket if the old one died first.
  const sendBatch = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const clientId = crypto.randomUUID();
      const frame = sendFrame(benchText(label, i), clientId);
      while (!acked.has(clientId)) {
        await waitUntil(() => sender.connected, 30_000);
        const ws = sender.ws;
        try {
          ws?.send(frame);
        } catch {
          // closed under us: the loop resends on the next socket
        }
        await waitUntil(() => acked.has(clientId) || ws !== sender.ws || !sender.connected, 3_000);
      }
      await sleep(1000 / SEND_RATE);
    }
  };
  await sendBatch(0, 10);
  await waitUntil(() => clients.every((c) => c.ids.size >= 10), 15_000);
  for (const c of clients) {
    c.resumeMs.length = 0;
    c.phases.length = 0;
  }
  const sum = (f: (c: Client) => number) => clients.reduce((a, c) => a + f(c), 0);
  const attemptsBefore = sum((c) => c.attempts);
  const reconnectsBefore = sum((c) => c.reconnects);
  for (const k of Object.keys(closeCodes)) delete closeCodes[Number(k)];
  tReset = now();
  await ctx.parley.ownerApi(`/api/_bench/rooms/${roomId}/reset`, { method: "POST" });
  await sendBatch(10, 20);
  const done = await waitUntil(() => clients.every((c) => c.connected && c.ids.size >= 20), 60_000);
  const allResumedMs = Math.round(now() - tReset);
  stopped = true;
  let lost = 0;
  let dups = 0;
  for (const c of clients) {
    for (let i = 0; i < 20; i++) {
      const k = c.ids.get(i) ?? 0;
      if (k === 0) lost++;
      if (k > 1) dups += k - 1;
    }
  }
  const reconnects = sum((c) => c.reconnects) - reconnectsBefore;
  const attempts = sum((c) => c.attempts) - attemptsBefore;
  // Time to resume: from the moment a client saw its socket drop to `live` on the new one (replay done).
  const resume = histogram();
  let resumed = 0;
  for (const c of clients) {
    if (c.resumeMs.length === 0) continue;
    resumed++;
    resume.record(c.resumeMs[0]!);
  }
  const notResumed = n - resumed;
  const rs = resume.summary();
  const phases = {} as Record<keyof Phases, Summary>;
  for (const k of PHASES) {
    const h = histogram();
    for (const c of clients) if (c.phases[0]) h.record(c.phases[0][k]);
    phases[k] = h.summary();
  }
  for (const c of clients) c.ws?.close();
  await sleep(300);
  const fl = await floorReconnect(ctx, n);
  const result = {
    n,
    backoff: "first retry 0–1000 ms, then full jitter [0, step), step 1 s doubling to 10 s",
    timeToResume: rs,
    // Per client, ms: reset → its drop seen; backoff waited; the upgrade (connect → open); open → live (hello, replay, receipts).
    phases,
    resumed,
    notResumed,
    allResumedMs,
    allResumed: done,
    reconnects,
    closeCodes,
    connectAttempts: attempts,
    resyncs: sum((c) => c.resyncs),
    seqGaps: sum((c) => c.gaps),
    lost,
    duplicated: dups,
    floor: fl,
  };
  const s = `reconnect storm ${n}`;
  ctx.report.row(s, "time to resume p50 (ms)", rs.p50, fl.timeToOpen.p50, "≤ 1000", resumed > 0 && rs.p50 <= 1000);
  ctx.report.row(s, "time to resume max (ms)", rs.max, fl.timeToOpen.max, "≤ 3000 (all)", notResumed === 0 && rs.max <= 3000);
  ctx.report.row(s, "where it goes, p50 (ms): drop seen / backoff / upgrade / open → live", `${phases.dropSeen.p50} / ${phases.waited.p50} / ${phases.upgrade.p50} / ${phases.openToLive.p50}`, null, "report");
  ctx.report.row(s, "reset → all resumed and caught up (ms)", allResumedMs, null, "report", done);
  ctx.report.row(s, "reconnects / attempts / lost / duplicated", `${reconnects} / ${attempts} / ${lost} / ${dups}`, null, "all / – / 0 / 0", lost === 0 && dups === 0 && reconnects >= n && done);
  return result;
}
