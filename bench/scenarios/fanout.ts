/**
 * 1. Fan-out: one member sends, every member of the room receives; the time
 * from each send's scheduled moment to its arrival at the last member (and at
 * each one). Parley's room socket against the floor's bare broadcast.
 */
import type WebSocket from "ws";
import { SEND_RATE } from "../lib/config.ts";
import { type Ctx, floorSocketUrl } from "../lib/context.ts";
import { benchIndex, benchText, conforms, floorFrame, readFloorFrame, sendFrame } from "../lib/frames.ts";
import { openMany, openSocket, sendOnSchedule, sleep, waitUntil } from "../lib/harness.ts";
import { histogram, type Summary, type Tracker, tracker } from "../lib/stats.ts";

export type System = "parley" | "floor";

export interface FanoutRun {
  n: number;
  messages: number;
  lastMember: Summary;
  perRecipient: Summary;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  socketsClosedDuringRun: number;
  /** The first tracked frame: its size on the wire and the length of its text. */
  sampleFrame: { bytes: number; textLength: number } | undefined;
}

let fanCalls = 0;

/** One fan-out run to `n` members of `system` (the floor gets a fresh object per call). */
export async function fanout(ctx: Ctx, n: number, system: System): Promise<FanoutRun> {
  const label = `${system}${n}x${ctx.tag}${++fanCalls}`;
  const index = benchIndex(label);
  const trackers: Tracker[] = [];
  let sample: FanoutRun["sampleFrame"];
  let closedEarly = 0;
  let measuring = true;
  const onClose = () => {
    if (measuring) closedEarly++;
  };
  const fanRoom = system === "parley" ? await ctx.fanRoom() : "";
  const specs = Array.from({ length: n }, (_, i) => async (): Promise<WebSocket> => {
    const tr = tracker();
    trackers.push(tr);
    /** Track a frame's text; true for the run's first tracked frame (the sample). */
    const track = (text: string | null | undefined, t: number, bytes: number) => {
      const k = index(text);
      if (k === undefined) return false;
      tr.add(k, t);
      if (sample) return false;
      sample = { bytes, textLength: benchText(label, k).length };
      return true;
    };
    if (system === "parley") {
      // A hot path: frames are read, not checked (lib/frames.ts); the run's first tracked frame is checked.
      return ctx.parley.roomSocket(
        fanRoom,
        ctx.users[i]!,
        (frame, t, bytes) => {
          if (frame.type === "message" && track(frame.message.text, t, bytes)) conforms(frame);
        },
        undefined,
        { onClose, check: false },
      );
    }
    return openSocket(floorSocketUrl(ctx, label), { onMessage: (data, t, bytes) => track(readFloorFrame(data).text, t, bytes), onClose });
  });
  const sockets = await openMany(specs);
  const sender = sockets[0]!;
  const frame = system === "parley" ? sendFrame : floorFrame;
  // Warm up (unmeasured) so a cold object or isolate is not what the first sample measures.
  for (let w = 0; w < 2; w++) {
    sender.send(frame(`warm:${label}:${w}`));
    await sleep(200);
  }
  const count = ctx.sizes.fanCount;
  const scheduled = await sendOnSchedule(count, SEND_RATE, (i) => sender.send(frame(benchText(label, i))));
  await waitUntil(() => trackers.every((t) => t.seen.size >= count), 15_000);
  const last = histogram();
  const per = histogram();
  let lost = 0;
  let dups = 0;
  let ooo = 0;
  const ids = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    let max = 0;
    for (const t of trackers) {
      const at = t.seen.get(i);
      if (at === undefined) continue;
      per.record(at - scheduled[i]!);
      max = Math.max(max, at - scheduled[i]!);
    }
    last.record(max);
  }
  for (const t of trackers) {
    const r = t.result(ids);
    lost += r.lost;
    dups += r.dups;
    ooo += r.outOfOrder;
  }
  measuring = false;
  for (const s of sockets) s.close();
  await sleep(300);
  return { n, messages: count, lastMember: last.summary(), perRecipient: per.summary(), lost, duplicated: dups, outOfOrder: ooo, socketsClosedDuringRun: closedEarly, sampleFrame: sample };
}

/** The scenario: each size in `sizes.fanout`, Parley then the floor, and its table rows. */
export async function fanoutScenario(ctx: Ctx): Promise<Array<{ n: number; parley: FanoutRun; floor: FanoutRun }>> {
  const out = [];
  for (const n of ctx.sizes.fanout) {
    await ctx.fanRoom();
    console.log(`fan-out to ${n}…`);
    const p = await fanout(ctx, n, "parley");
    const f = await fanout(ctx, n, "floor");
    out.push({ n, parley: p, floor: f });
    const clean = p.lost + p.duplicated + p.outOfOrder === 0;
    const ok = p.lastMember.p99 <= 1.2 * f.lastMember.p99 && clean;
    const s = `fan-out ${n}`;
    ctx.report.row(s, "last member p50 (ms)", p.lastMember.p50, f.lastMember.p50);
    ctx.report.row(s, "last member p99 (ms)", p.lastMember.p99, f.lastMember.p99, n >= 1000 ? "≤ 1.2× floor" : "", n >= 1000 ? ok : undefined);
    ctx.report.row(s, "last member max (ms)", p.lastMember.max, f.lastMember.max);
    ctx.report.row(s, "per-recipient p99 (ms)", p.perRecipient.p99, f.perRecipient.p99);
    ctx.report.row(s, "lost / dup / out-of-order", `${p.lost} / ${p.duplicated} / ${p.outOfOrder}`, `${f.lost} / ${f.duplicated} / ${f.outOfOrder}`, "0 / 0 / 0", clean);
  }
  return out;
}
