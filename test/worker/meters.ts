/** Cost readings of a room and every hub shard (R17 and the rooms-list cost check). */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { hubShards } from "../../worker/lib/hub";
import { type MeterReading, sumReadings } from "../../worker/lib/meter";
import type { Room } from "../../worker/room";
import { pollUntil } from "./helpers";

/** Every hub shard. */
export const hubs = () => Array.from({ length: hubShards(env) }, (_, i) => env.USER_HUB.getByName(`shard-${i}`));

/** The room's reading, the hubs' summed, and whether the room still has pushes in flight. */
export async function readMeters(roomId: string): Promise<{ room: MeterReading; hubs: MeterReading; busy: boolean }> {
  const stub = env.ROOM.getByName(roomId);
  const [room, hubReadings, busy] = await Promise.all([
    stub.meterReading(),
    Promise.all(hubs().map((h) => h.meterReading())),
    runInDurableObject(stub, (r: Room) => r.pushes.busy),
  ]);
  return { room, hubs: sumReadings(hubReadings), busy };
}

/** What `act` cost (rows written in the room and the hubs, hub calls), measured once the pushes before and after it settle. */
export async function costOf(roomId: string, act: () => Promise<unknown>) {
  await pollUntil(() => readMeters(roomId), (m) => !m.busy, "earlier pushes to settle");
  await Promise.all([env.ROOM.getByName(roomId).meterReset(), ...hubs().map((h) => h.meterReset())]);
  await act();
  const m = await pollUntil(() => readMeters(roomId), (x) => !x.busy, "the pushes");
  return { roomRows: m.room.rowsWritten, hubRows: m.hubs.rowsWritten, total: m.room.rowsWritten + m.hubs.rowsWritten, hubCalls: m.room.hubCalls };
}
