/**
 * Parley's cost meter (BENCH_HOOKS only): `GET /api/_bench/rooms/:id/meter`
 * reads the room's counters and the sum over every hub shard
 * (worker/lib/meter.ts), `DELETE` resets them.
 */
import { z } from "zod";
import { now, sleep } from "./harness.ts";
import type { Parley } from "./parley.ts";

/** One object's counters (worker/lib/meter.ts, `MeterReading`); fields added later are kept. */
const Reading = z.looseObject({
  rowsRead: z.number(),
  rowsWritten: z.number(),
  statements: z.number(),
  requests: z.number(),
  hubCalls: z.number(),
  alarms: z.number(),
});
export type Reading = z.infer<typeof Reading>;

/** The meter's answer: the room's counters and the hub shards' summed. */
const MeterAnswer = z.looseObject({ room: Reading, hubs: Reading });
export type MeterAnswer = z.infer<typeof MeterAnswer>;
export type MeterPart = "room" | "hubs";

export async function readMeter(parley: Parley, roomId: string): Promise<MeterAnswer> {
  const res = await parley.ownerApi(`/api/_bench/rooms/${roomId}/meter`);
  if (res.status !== 200) throw new Error(`GET meter: ${res.status} ${await res.text()}`);
  const body: unknown = await res.json();
  const m = MeterAnswer.safeParse(body);
  if (!m.success) throw new Error(`meter answer not as expected (${m.error.issues[0]?.path.join(".")}): ${JSON.stringify(body)}`);
  return m.data;
}

export async function resetMeter(parley: Parley, roomId: string): Promise<void> {
  const res = await parley.ownerApi(`/api/_bench/rooms/${roomId}/meter`, { method: "DELETE" });
  if (res.status !== 204) throw new Error(`DELETE meter: ${res.status} ${await res.text()}`);
}

/**
 * Poll the meter until the work has settled: hub requests (and the rows written anywhere) unchanged
 * for `quietMs`. Returns the last reading and whether it settled before `maxMs`.
 */
export async function settle(parley: Parley, roomId: string, { quietMs = 1000, maxMs = 30_000, pollMs = 200 } = {}): Promise<{ meter: MeterAnswer; settled: boolean; ms: number }> {
  const key = (m: MeterAnswer) => `${m.hubs.requests}/${m.hubs.rowsWritten}/${m.room.rowsWritten}`;
  const t0 = now();
  let last = await readMeter(parley, roomId);
  let since = now();
  for (;;) {
    await sleep(pollMs);
    const m = await readMeter(parley, roomId);
    if (key(m) !== key(last)) since = now();
    last = m;
    if (now() - since >= quietMs) return { meter: m, settled: true, ms: Math.round(now() - t0) };
    if (now() - t0 > maxMs) return { meter: m, settled: false, ms: Math.round(now() - t0) };
  }
}
