/**
 * R17 — cost does not grow with the room. One message writes a bounded
 * number of rows (room and hubs together), whatever the number of members:
 * at most 10 with no badge socket open, at most 10 + k with k members' badge
 * sockets open. Measured with the objects' own SQL meters (rowsWritten as
 * Cloudflare bills them).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { addMember, call, createRoom, register, seedMembers, type TestUser } from "./helpers";
import { BadgeTab, eventually } from "./badge-tab";
import { hubs, readMeters } from "./meters";

const MAX_ROWS_PER_MESSAGE = 10;

async function resetMeters(roomId: string): Promise<void> {
  await Promise.all([env.ROOM.getByName(roomId).meterReset(), ...hubs().map((h) => h.meterReset())]);
}

/** Send one message over HTTP and measure what it cost once the pushes settle. */
async function costOfOneMessage(roomId: string, sender: TestUser) {
  // Let earlier pushes (membership) settle first.
  await eventually(() => readMeters(roomId), (m) => !m.busy, "earlier pushes to settle");
  await resetMeters(roomId);
  const res = await call(`/api/rooms/${roomId}/messages`, { cookie: sender.cookie, json: { clientId: crypto.randomUUID(), text: "how much?" } });
  expect(res.status).toBe(201);
  const m = await eventually(() => readMeters(roomId), (x) => !x.busy, "the pushes");
  return { roomRows: m.room.rowsWritten, hubRows: m.hubs.rowsWritten, total: m.room.rowsWritten + m.hubs.rowsWritten, hubCalls: m.room.hubCalls };
}

describe("R17 rows written per message do not grow with the room", () => {
  it.each([10, 100, 1000])("a room of %i members, no badge socket open: at most 10 rows", async (n) => {
    const owner = await register();
    const room = await createRoom(owner);
    await seedMembers(room.id, n - 1);
    const cost = await costOfOneMessage(room.id, owner);
    expect(cost.total).toBeLessThanOrEqual(MAX_ROWS_PER_MESSAGE);
    expect(cost.hubRows).toBe(0);
    // Nobody has a badge open: once the hubs said so, the room calls none of them.
    expect(cost.hubCalls).toBe(0);
  });

  it("a room pushes only to members someone watches: a tab that connects gets pushes from then on", async () => {
    const owner = await register();
    const bob = await register();
    const room = await createRoom(owner);
    await addMember(owner, room.id, bob);
    await seedMembers(room.id, 30);
    expect((await costOfOneMessage(room.id, owner)).hubCalls).toBe(0);
    const tab = await BadgeTab.open(bob);
    try {
      expect(tab.frames.find((f) => f.full)).toMatchObject({ total: 1 });
      const cost = await costOfOneMessage(room.id, owner);
      expect(cost.hubCalls).toBe(1); // bob's shard only
      await tab.until(() => tab.last?.total === 2, "bob's new count");
    } finally {
      tab.close();
    }
    // Bob's tab closed: the next push finds him gone and the room stops calling his hub.
    await tab.closedLocally();
    await costOfOneMessage(room.id, owner);
    expect((await costOfOneMessage(room.id, owner)).hubCalls).toBe(0);
  });

  it("with k members' badge sockets open: at most 10 + k rows, and each open tab gets its number", async () => {
    const owner = await register();
    const room = await createRoom(owner);
    await seedMembers(room.id, 97);
    const online: TestUser[] = [];
    for (let i = 0; i < 3; i++) {
      const u = await register();
      await addMember(owner, room.id, u);
      online.push(u);
    }
    const tabs = await Promise.all(online.map((u) => BadgeTab.open(u)));
    try {
      const cost = await costOfOneMessage(room.id, owner);
      expect(cost.total).toBeLessThanOrEqual(MAX_ROWS_PER_MESSAGE + online.length);
      for (const t of tabs) await t.until(() => t.last?.rooms[room.id] === 1 && t.last.total === 1, "the exact count");
    } finally {
      for (const t of tabs) t.close();
    }
  });

  it("someone offline still gets the exact truth from GET /api/me/unread", async () => {
    const owner = await register();
    const bob = await register();
    const room = await createRoom(owner);
    await addMember(owner, room.id, bob);
    await seedMembers(room.id, 20);
    for (const text of ["one", "two"]) await call(`/api/rooms/${room.id}/messages`, { cookie: owner.cookie, json: { clientId: crypto.randomUUID(), text } });
    const res = await call("/api/me/unread", { cookie: bob.cookie });
    expect(await res.json()).toEqual({ total: 2, rooms: { [room.id]: 2 }, mentions: { total: 0, rooms: {} } });
    // Asking once (no tab open) does not make the room push to bob's hub afterwards.
    expect((await costOfOneMessage(room.id, owner)).hubCalls).toBe(0);
    expect(await (await call("/api/me/unread", { cookie: bob.cookie })).json()).toEqual({ total: 3, rooms: { [room.id]: 3 }, mentions: { total: 0, rooms: {} } });
  });
});
