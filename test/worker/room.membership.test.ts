/**
 * Membership with one authority (D1) that repairs itself (R14), and
 * membership / room changes as events: `member_joined`, `member_left` and
 * `room_renamed` in the room's log; `room_added`, `room_removed` and
 * `room_updated` on the affected users' badge sockets.
 *
 * Stated bound: the room and D1 agree again within ALARM_EVERY_MS (25 s)
 * while anyone has the room open (the room's alarm compares its synced
 * version with D1's), and within a minute otherwise (the per-minute cron
 * syncs every room whose synced version lags).
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../worker/db";
import { repairRooms } from "../../worker/lib/membership";
import { ALARM_EVERY_MS, type Room } from "../../worker/room";
import { HEARTBEAT } from "#protocol";
import { addMember, call, createRoom, register } from "./helpers";
import { TestSocket } from "./socket";
import { BadgeTab } from "./badge-tab";

const inRoom = (roomId: string) => runInDurableObject(env.ROOM.getByName(roomId), (room: Room) => room.membersList().map((m) => m.userId).sort());
const send = (roomId: string, cookie: string, text: string) => call(`/api/rooms/${roomId}/messages`, { cookie, json: { clientId: crypto.randomUUID(), text } });

/** The D1 half of a removal, as if the call to the room that follows it had failed. */
async function removeInD1Only(roomId: string, userId: string): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("DELETE FROM memberships WHERE room_id = ? AND user_id = ?").bind(roomId, userId),
    env.DB.prepare("UPDATE rooms SET version = version + 1 WHERE id = ?").bind(roomId),
  ]);
}

describe("R14 membership repairs itself after a failure between D1 and the room", () => {
  it("a removal the room never heard of: the alarm closes the removed member's socket, who gets nothing more", async () => {
    expect(ALARM_EVERY_MS + HEARTBEAT.idleMs).toBeLessThanOrEqual(60_000);
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const b = await TestSocket.open(room.id, bob);
    const a = await TestSocket.open(room.id, alice);
    await removeInD1Only(room.id, bob.id);
    // D1 and the room disagree: the room still counts bob in.
    expect(await inRoom(room.id)).toContain(bob.id);
    // HTTP already follows D1.
    expect((await send(room.id, bob.cookie, "still here?")).status).toBe(403);
    // The room's next alarm (due within ALARM_EVERY_MS while sockets are open) repairs it.
    expect(await runDurableObjectAlarm(env.ROOM.getByName(room.id))).toBe(true);
    expect(await b.waitClosed()).toMatchObject({ code: 1008, reason: "removed from room" });
    expect(await inRoom(room.id)).not.toContain(bob.id);
    const seen = b.frames.length;
    expect((await send(room.id, alice.cookie, "after bob left")).status).toBe(201);
    await a.until(() => a.messageTexts().includes("after bob left"), "alice's message");
    expect(b.frames.length).toBe(seen);
    a.close();
  });

  it("with nobody connected, the cron's repair syncs every lagging room", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    await removeInD1Only(room.id, bob.id);
    const lagging = await env.DB.prepare("SELECT version, synced_version FROM rooms WHERE id = ?").bind(room.id).first<{ version: number; synced_version: number }>();
    expect(lagging!.version).toBeGreaterThan(lagging!.synced_version);
    const res = await repairRooms(env, db(env.DB));
    expect(res.synced).toBeGreaterThanOrEqual(1);
    expect(await inRoom(room.id)).toEqual([alice.id]);
    // The room records what it applied, so the next repair passes it by.
    await expect
      .poll(async () => (await env.DB.prepare("SELECT version - synced_version AS lag FROM rooms WHERE id = ?").bind(room.id).first<{ lag: number }>())!.lag)
      .toBe(0);
  });

  it("the reverse (the room applied it, recording that in D1 failed): the repair syncs again and changes nothing", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const head = () => runInDurableObject(env.ROOM.getByName(room.id), (r: Room) => r.log.head());
    const before = await head();
    await env.DB.prepare("UPDATE rooms SET synced_version = 0 WHERE id = ?").bind(room.id).run();
    await repairRooms(env, db(env.DB));
    expect(await inRoom(room.id)).toEqual([alice.id, bob.id].sort());
    expect(await head()).toBe(before); // no second member_joined
  });

  it("an addition the room never heard of: the member's first send or socket brings the room up to date", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await env.DB.batch([
      env.DB.prepare("INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)").bind(room.id, bob.id, Date.now()),
      env.DB.prepare("UPDATE rooms SET version = version + 1 WHERE id = ?").bind(room.id),
    ]);
    expect((await send(room.id, bob.cookie, "hi, new here")).status).toBe(201);
    expect(await inRoom(room.id)).toContain(bob.id);
  });

  it("add, remove and leave are idempotent end to end: a retry succeeds and still reaches the room", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    const room = await createRoom(alice);
    expect((await addMember(alice, room.id, bob)).status).toBe(201);
    const again = await addMember(alice, room.id, bob);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ member: { id: bob.id, role: "member" } });
    // A removal whose room call was lost, retried: 204, and this time the room hears it.
    await removeInD1Only(room.id, bob.id);
    const retry = await call(`/api/rooms/${room.id}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(retry.status).toBe(204);
    expect(await inRoom(room.id)).toEqual([alice.id]);
    // Leaving twice.
    await addMember(alice, room.id, carol);
    for (let i = 0; i < 2; i++) expect((await call(`/api/rooms/${room.id}/members/${carol.id}`, { cookie: carol.cookie, method: "DELETE" })).status).toBe(204);
    expect(await inRoom(room.id)).toEqual([alice.id]);
    // An unknown user is still a 404.
    expect((await call(`/api/rooms/${room.id}/members/nobody`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(404);
  });
});

describe("membership and room changes are events", () => {
  it("member_joined, member_left and room_renamed reach everyone in the room, in the log", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const b = await TestSocket.open(room.id, bob);
    await addMember(alice, room.id, carol);
    const joined = await b.waitFor((f) => f.type === "member_joined");
    expect(joined).toMatchObject({ member: { id: carol.id, username: carol.username, role: "member" } });
    await call(`/api/rooms/${room.id}`, { cookie: alice.cookie, method: "PATCH", json: { name: "Renamed" } });
    expect(await b.waitFor((f) => f.type === "room_renamed")).toMatchObject({ name: "Renamed" });
    await call(`/api/rooms/${room.id}/members/${carol.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(await b.waitFor((f) => f.type === "member_left")).toMatchObject({ userId: carol.id, username: carol.username });
    // They are stored events: contiguous seqs, replayed to a late joiner.
    const seqs = b.events().map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const late = await TestSocket.open(room.id, bob, seqs[0]! - 1);
    expect(late.events().map((e) => e.type)).toEqual(["member_joined", "room_renamed", "member_left"]);
    // Not unread items.
    expect(await (await call("/api/me/unread", { cookie: bob.cookie })).json()).toEqual({ total: 0, rooms: {}, mentions: { total: 0, rooms: {} } });
    late.close();
    b.close();
  });

  it("room_added, room_updated and room_removed reach the affected user's tabs on any page", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    const tab = await BadgeTab.open(bob);
    await addMember(alice, room.id, bob);
    await tab.until(() => tab.all.some((f) => f.type === "room_added"), "room_added");
    expect(tab.all.find((f) => f.type === "room_added")).toMatchObject({ room: { id: room.id, name: room.name, role: "member", unread: 0 } });
    await send(room.id, alice.cookie, "hello");
    await tab.until(() => tab.last?.rooms[room.id] === 1, "the count");
    await call(`/api/rooms/${room.id}`, { cookie: alice.cookie, method: "PATCH", json: { name: "New name" } });
    await tab.until(() => tab.all.some((f) => f.type === "room_updated"), "room_updated");
    expect(tab.all.find((f) => f.type === "room_updated")).toMatchObject({ room: { id: room.id, name: "New name" } });
    await call(`/api/rooms/${room.id}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" });
    await tab.until(() => tab.all.some((f) => f.type === "room_removed"), "room_removed");
    expect(tab.all.find((f) => f.type === "room_removed")).toEqual({ type: "room_removed", roomId: room.id });
    await tab.until(() => tab.last?.total === 0 && tab.last.rooms[room.id] === 0, "the badge dropped the room");
    tab.close();
  });
});
