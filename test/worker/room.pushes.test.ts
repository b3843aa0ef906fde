/**
 * R15 — pushes are off the request path. A hub (badge) object that throws or
 * never answers delays no caller: sends, reads, membership changes and
 * uploads answer after the room's own commit; the counts arrive once the hub
 * recovers (the room's alarm retries what did not get through).
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hubShardName, hubShards } from "../../worker/lib/hub";
import type { Room } from "../../worker/room";
import { addMember, call, createRoom, ORIGIN, register, roomWithTwo } from "./helpers";
import { BadgeTab } from "./badge-tab";

type Mode = "throws" | "hangs";

/** Make this room's calls to every hub fail: reject at once, or never answer (with a short timeout). */
async function breakHubs(roomId: string, mode: Mode): Promise<void> {
  await runInDurableObject(env.ROOM.getByName(roomId), (room: Room) => {
    room.pushes.timeoutMs = 200;
    room.pushes.callHub = () => (mode === "throws" ? Promise.reject(new Error("hub exploded")) : new Promise<never>(() => {}));
  });
}

async function healHubs(roomId: string): Promise<void> {
  await runInDurableObject(env.ROOM.getByName(roomId), (room: Room) => {
    room.pushes.callHub = (shard, batch) => env.USER_HUB.getByName(shard).deliver(batch);
  });
}

function uploadForm(): FormData {
  const fd = new FormData();
  fd.append("clientId", crypto.randomUUID());
  fd.append("file", new Blob(["some bytes"], { type: "text/plain" }), "notes.txt");
  return fd;
}

describe("R15 a hub that throws or hangs delays no caller", () => {
  it.each<Mode>(["throws", "hangs"])("hub %s: send, read, member add and upload all answer; counts arrive after it recovers", async (mode) => {
    const { roomId, alice, bob } = await roomWithTwo();
    const carol = await register();
    const tab = await BadgeTab.open(bob);
    await breakHubs(roomId, mode);

    const sent = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "while the hub is down" } });
    expect(sent.status).toBe(201);
    const { seq } = await sent.json<{ seq: number }>();
    const read = await call(`/api/rooms/${roomId}/read`, { cookie: alice.cookie, json: { seq } });
    expect(read.status).toBe(200);
    expect((await addMember(alice, roomId, carol)).status).toBe(201);
    const up = await exports.default.fetch(new Request(`${ORIGIN}/api/rooms/${roomId}/files`, { method: "POST", headers: { Origin: ORIGIN, Cookie: alice.cookie }, body: uploadForm() }));
    expect(up.status).toBe(201);
    // The exact numbers are still known to the room (a snapshot, or anyone whose hub it can reach).
    expect(await (await call(`/api/rooms/${roomId}`, { cookie: bob.cookie })).json()).toMatchObject({ unread: 2 });
    // Bob's open tab has not heard (its hub is unreachable for this room)...
    expect(tab.last?.total).toBe(0);

    // ...until the hub recovers and the alarm retries.
    await healHubs(roomId);
    await runDurableObjectAlarm(env.ROOM.getByName(roomId));
    await tab.until(() => tab.last?.total === 2 && tab.last.rooms[roomId] === 2, "the counts after recovery");
    tab.close();
  });

  it("a failing push leaves the alarm set, and an alarm whose work fails is rethrown for the runtime to retry", async () => {
    const alice = await register();
    const carol = await register();
    const room = await createRoom(alice);
    // Let the creation's own pushes settle, then break the hubs: carol's room_added can only fail, and stays
    // queued (the room is busy until a retry gets it through), whatever the timing.
    await expect.poll(() => runInDurableObject(env.ROOM.getByName(room.id), (r: Room) => r.pushes.busy)).toBe(false);
    await breakHubs(room.id, "throws");
    expect((await addMember(alice, room.id, carol)).status).toBe(201);
    await call(`/api/rooms/${room.id}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "x" } });
    const alarm = await runInDurableObject(env.ROOM.getByName(room.id), (_r, s) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();
    // An alarm whose work throws rethrows it (so the runtime retries the alarm), after logging.
    const failing = await runInDurableObject(env.ROOM.getByName(room.id), async (r: Room) => {
      r.pushes.retry = () => {
        throw new Error("retry exploded");
      };
      try {
        await r.alarm();
        return "resolved";
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(failing).toBe("retry exploded");
  });
});

describe("a hub building a user's badge when one of their rooms does not answer", () => {
  it("asks that room again from its alarm, then sends the tab the whole badge", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "for bob" } });
    const room = env.ROOM.getByName(roomId);
    // Let the message's own pushes settle first (bob has no tab yet: the room stops pushing to him).
    await expect.poll(() => runInDurableObject(room, (r: Room) => r.pushes.busy)).toBe(false);
    await runInDurableObject(room, (r: Room) => {
      r.countFor = () => {
        throw new Error("room busy");
      };
    });
    const tab = await BadgeTab.open(bob);
    expect(tab.frames.find((f) => f.full)).toMatchObject({ total: 0 });
    expect(tab.last?.total).toBe(0);
    await dropOverride(roomId);
    const hub = env.USER_HUB.getByName(hubShardName(bob.id, hubShards(env)));
    expect(await runDurableObjectAlarm(hub)).toBe(true);
    await tab.until(() => tab.last?.total === 1 && tab.last.rooms[roomId] === 1, "the rebuilt badge");
    // And the room now pushes bob's changes: a second message reaches the tab.
    await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "again" } });
    await tab.until(() => tab.last?.total === 2, "the pushed count");
    tab.close();
  });
});

/** Drop the instance's own override, so the class's method answers again. */
async function dropOverride(roomId: string): Promise<void> {
  await runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => {
    delete (r as { countFor?: unknown }).countFor;
  });
}
