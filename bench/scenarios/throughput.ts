/**
 * 3. Throughput: `tputListeners` members each send in turn at a rising total
 * rate; every one of them receives every message. Stored (acked) sends and the
 * per-recipient latency at each rate, against the floor at the same rate.
 */
import type WebSocket from "ws";
import type { Ctx } from "../lib/context.ts";
import { floorSocketUrl } from "../lib/context.ts";
import { benchIndex, benchText, conforms, floorFrame, readFloorFrame, sendFrame } from "../lib/frames.ts";
import { openMany, openSocket, sendOnSchedule, sleep, waitUntil } from "../lib/harness.ts";
import { histogram, type Summary, type Tracker, tracker } from "../lib/stats.ts";

interface FloorStep {
  delivered: number;
  perRecipient: Summary;
}

export interface ThroughputStep {
  rate: number;
  sent: number;
  stored: number;
  refused: number;
  errorCodes: Record<string, number>;
  /** Sends with neither an ack nor an error by the end of the wait. */
  unanswered: number;
  /** Close codes of sockets that closed during the step. */
  socketCloses: number[];
  delivered: number;
  expectedDeliveries: number;
  perRecipient: Summary;
  seconds: number;
  floor?: FloorStep;
}

export interface ThroughputResult {
  listeners: number;
  steps: ThroughputStep[];
  maxSustainedRate?: number;
}

/** Send `count` texts at `rate` over `sockets` in turn; latency per recipient from the scheduled times. */
async function drive(count: number, rate: number, sockets: WebSocket[], frame: (i: number) => string): Promise<number[]> {
  return sendOnSchedule(count, rate, (i) => sockets[i % sockets.length]!.send(frame(i)), 1);
}

function perRecipient(trackers: Tracker[], scheduled: number[]): Summary {
  const per = histogram();
  for (const t of trackers) for (const [i, at] of t.seen) per.record(at - scheduled[i]!);
  return per.summary();
}

/** The floor at the same rate: n sockets on one floor room, sends spread over them. */
async function floorThroughput(ctx: Ctx, n: number, rate: number): Promise<FloorStep> {
  const label = `ft${rate}x${ctx.tag}`;
  const index = benchIndex(label);
  const trackers: Tracker[] = [];
  const sockets = await openMany(
    Array.from({ length: n }, () => async () => {
      const tr = tracker();
      trackers.push(tr);
      return openSocket(floorSocketUrl(ctx, label), {
        onMessage: (data, t) => {
          const k = index(readFloorFrame(data).text);
          if (k !== undefined) tr.add(k, t);
        },
      });
    }),
  );
  const count = rate * ctx.sizes.tputSeconds;
  const scheduled = await drive(count, rate, sockets, (i) => floorFrame(benchText(label, i)));
  await waitUntil(() => trackers.every((t) => t.seen.size >= count), 20_000);
  const per = perRecipient(trackers, scheduled);
  for (const so of sockets) so.close();
  await sleep(500);
  return { delivered: trackers.reduce((a, t) => a + t.seen.size, 0), perRecipient: per };
}

export async function throughputScenario(ctx: Ctx): Promise<ThroughputResult> {
  const n = ctx.sizes.tputListeners;
  console.log(`throughput with ${n} listeners…`);
  const members = ctx.users.slice(0, n);
  const roomId = await ctx.parley.roomWith(members, "throughput");
  const result: ThroughputResult = { listeners: n, steps: [] };
  const scenario = `throughput ${n} listeners`;
  let best = 0;
  for (const rate of ctx.sizes.tputRates) {
    const label = `t${rate}x${ctx.tag}`;
    const index = benchIndex(label);
    const trackers: Tracker[] = [];
    let acks = 0;
    let errors = 0;
    const errorCodes: Record<string, number> = {};
    const closes: number[] = [];
    let sampled = false;
    const sockets = await openMany(
      members.map((u) => async () => {
        const tr = tracker();
        trackers.push(tr);
        // A hot path (up to 100 listeners × 1,000 msg/s): frames are read, not checked (lib/frames.ts);
        // the step's first tracked frame is checked.
        return ctx.parley.roomSocket(
          roomId,
          u,
          (f, t) => {
            if (f.type === "ack") acks++;
            else if (f.type === "error") {
              errors++;
              errorCodes[f.code] = (errorCodes[f.code] ?? 0) + 1;
            } else if (f.type === "message") {
              const k = index(f.message.text);
              if (k === undefined) return;
              tr.add(k, t);
              if (sampled) return;
              sampled = true;
              conforms(f);
            }
          },
          undefined,
          { onClose: (code) => closes.push(code), check: false },
        );
      }),
    );
    const count = rate * ctx.sizes.tputSeconds;
    const scheduled = await drive(count, rate, sockets, (i) => sendFrame(benchText(label, i)));
    await waitUntil(() => acks + errors >= count && trackers.every((t) => t.seen.size >= acks), 20_000);
    const s = perRecipient(trackers, scheduled);
    const delivered = trackers.reduce((a, t) => a + t.seen.size, 0);
    const step: ThroughputStep = { rate, sent: count, stored: acks, refused: errors, errorCodes, unanswered: count - acks - errors, socketCloses: [...closes], delivered, expectedDeliveries: acks * n, perRecipient: s, seconds: ctx.sizes.tputSeconds };
    result.steps.push(step);
    const ok = s.p99 < 200 && errors === 0 && delivered === acks * n;
    if (ok) best = rate;
    for (const so of sockets) so.close();
    await sleep(500);
    const fl = await floorThroughput(ctx, n, rate);
    step.floor = fl;
    const answered = `${acks}/${count}${errors ? ` (${errors} refused)` : ""}${count - acks - errors ? ` (${count - acks - errors} unanswered)` : ""}`;
    ctx.report.row(scenario, `${rate} msg/s: stored, p99 (ms)`, `${answered}, ${s.p99}`, `${fl.delivered / n}/${count}, ${fl.perRecipient.p99}`, "p99 < 200", ok);
  }
  result.maxSustainedRate = best;
  ctx.report.row(scenario, "highest rate with p99 < 200 ms (msg/s)", best, null, "≥ 500", best >= 500);
  return result;
}
