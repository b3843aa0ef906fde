/**
 * Mentions (issue #15): `<@userId>` in a message's text mentions that member —
 * counted for current members other than the author, once per message, at
 * most LIMITS.mentionsPerMessage; one row per mentioned member. Each member's
 * mention count (live messages after their cursor that mention them) rides
 * beside the unread count: GET /api/me/unread, the rooms list, the snapshot,
 * and the badge frames. Muting a room changes no count.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished } from "vitest";
import { type HubFrame, LIMITS, mentionToken as at, type RoomList, type RoomSnapshot, type UnreadCounts } from "#protocol";
import type { Room } from "../../worker/room";
import { BadgeTab } from "./badge-tab";
import { addMember, call, createRoom, errorOf, register, seedMembers, sendText, type TestUser } from "./helpers";
import { costOf } from "./meters";

const unread = async (u: TestUser) => (await call("/api/me/unread", { cookie: u.cookie })).json<UnreadCounts>();
const listEntry = async (u: TestUser, roomId: string) => (await (await call("/api/rooms", { cookie: u.cookie })).json<RoomList>()).rooms.find((r) => r.id === roomId);
const snapshot = async (u: TestUser, roomId: string) => (await call(`/api/rooms/${roomId}`, { cookie: u.cookie })).json<RoomSnapshot>();
const readTo = (u: TestUser, roomId: string, seq: number) => call(`/api/rooms/${roomId}/read`, { cookie: u.cookie, json: { seq } });
const edit = (u: TestUser, roomId: string, id: string, text: string) => call(`/api/rooms/${roomId}/messages/${id}`, { method: "PATCH", cookie: u.cookie, json: { text } });
const mute = (u: TestUser, roomId: string, muted: unknown) => call(`/api/rooms/${roomId}/me`, { method: "PATCH", cookie: u.cookie, json: { muted } });

/** Every member's numbers, as the room holds them in memory. */
const counts = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => Object.fromEntries(r.membersList().map((m) => [m.userId, { unread: m.unread, mentions: m.mentions }])));
/** The mention rows stored for the message at `seq`. */
const storedMentions = (roomId: string, seq: number) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) =>
    s.storage.sql.exec<{ user_id: string }>("SELECT user_id FROM mentions WHERE seq = ? ORDER BY user_id", seq).toArray().map((r) => r.user_id),
  );

async function roomOf(n: number): Promise<{ roomId: string; users: TestUser[] }> {
  const users = await Promise.all(Array.from({ length: n }, () => register()));
  const room = await createRoom(users[0]!);
  for (const u of users.slice(1)) await addMember(users[0]!, room.id, u);
  return { roomId: room.id, users };
}

const none = { total: 0, rooms: {} };

describe("who a message mentions", () => {
  it("members it names, once each, never the author or a non-member; shown in /api/me/unread, the rooms list and the snapshot", async () => {
    const { roomId, users } = await roomOf(3);
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    const eve = await register();
    const { seq } = await sendText(roomId, alice, `hey ${at(bob.id)} and ${at(bob.id)} again, ${at(alice.id)}, ${at(eve.id)}, <@nobody>, @${carol.username}`);
    expect(await storedMentions(roomId, seq)).toEqual([bob.id]);
    expect(await unread(bob)).toEqual({ total: 1, rooms: { [roomId]: 1 }, mentions: { total: 1, rooms: { [roomId]: 1 } } });
    expect(await unread(carol)).toEqual({ total: 1, rooms: { [roomId]: 1 }, mentions: none });
    expect(await unread(alice)).toEqual({ total: 0, rooms: {}, mentions: none });
    expect(await unread(eve)).toEqual({ total: 0, rooms: {}, mentions: none });
    expect(await listEntry(bob, roomId)).toMatchObject({ unread: 1, mentions: 1 });
    expect(await listEntry(carol, roomId)).toMatchObject({ unread: 1, mentions: 0 });
    expect(await snapshot(bob, roomId)).toMatchObject({ unread: 1, mentions: 1 });
  });

  it(`at most ${LIMITS.mentionsPerMessage} per message: the first ones in the text; the rest are text`, async () => {
    const owner = await register();
    const room = await createRoom(owner);
    const ids = await seedMembers(room.id, LIMITS.mentionsPerMessage + 10);
    const { seq } = await sendText(room.id, owner, ids.map(at).join(" "));
    const first = ids.slice(0, LIMITS.mentionsPerMessage);
    expect(await storedMentions(room.id, seq)).toEqual([...first].sort());
    const c = await counts(room.id);
    for (const id of first) expect(c[id]).toEqual({ unread: 1, mentions: 1 });
    for (const id of ids.slice(LIMITS.mentionsPerMessage)) expect(c[id]).toEqual({ unread: 1, mentions: 0 });
  });

  it("reading past it clears the mention, marking unread brings it back, deleting the message takes it away", async () => {
    const { roomId, users } = await roomOf(2);
    const [alice, bob] = users as [TestUser, TestUser];
    const { message, seq } = await sendText(roomId, alice, `${at(bob.id)} look`);
    await sendText(roomId, alice, "and this");
    expect((await unread(bob)).mentions).toEqual({ total: 1, rooms: { [roomId]: 1 } });
    expect(await (await readTo(bob, roomId, seq)).json()).toMatchObject({ unread: 1 });
    expect((await unread(bob)).mentions).toEqual(none);
    await call(`/api/rooms/${roomId}/unread`, { cookie: bob.cookie, json: { seq } });
    expect(await unread(bob)).toEqual({ total: 2, rooms: { [roomId]: 2 }, mentions: { total: 1, rooms: { [roomId]: 1 } } });
    expect((await call(`/api/rooms/${roomId}/messages/${message.id}`, { method: "DELETE", cookie: alice.cookie })).status).toBe(204);
    expect(await unread(bob)).toEqual({ total: 1, rooms: { [roomId]: 1 }, mentions: none });
    expect(await storedMentions(roomId, seq)).toEqual([]);
  });

  it("an edit recomputes them: someone it adds counts it unless they read past it, someone it drops no longer does; their tabs hear it", async () => {
    const { roomId, users } = await roomOf(4);
    const [alice, bob, carol, dan] = users as [TestUser, TestUser, TestUser, TestUser];
    const { message, seq } = await sendText(roomId, alice, `hi ${at(bob.id)}`);
    await readTo(carol, roomId, seq);
    const bobTab = await BadgeTab.open(bob);
    const danTab = await BadgeTab.open(dan);
    onTestFinished(() => {
      bobTab.close();
      danTab.close();
    });
    expect(bobTab.last).toMatchObject({ full: true, mentions: { total: 1, rooms: { [roomId]: 1 } } });
    expect((await edit(alice, roomId, message.id, `hi ${at(carol.id)} and ${at(dan.id)}`)).status).toBe(200);
    expect(await storedMentions(roomId, seq)).toEqual([carol.id, dan.id].sort());
    expect(await counts(roomId)).toMatchObject({
      [bob.id]: { unread: 1, mentions: 0 },
      [carol.id]: { unread: 0, mentions: 0 },
      [dan.id]: { unread: 1, mentions: 1 },
    });
    await danTab.until(() => danTab.last?.trigger === "message_edited", "dan's mention");
    expect(danTab.last).toMatchObject({ total: 1, rooms: { [roomId]: 1 }, mentions: { total: 1, rooms: { [roomId]: 1 } } });
    await bobTab.until(() => bobTab.last?.trigger === "message_edited", "bob's mention gone");
    expect(bobTab.last).toMatchObject({ total: 1, rooms: { [roomId]: 1 }, mentions: { total: 0, rooms: { [roomId]: 0 } } });
    // An edit that names the same members changes no count.
    expect((await edit(alice, roomId, message.id, `${at(dan.id)} ${at(carol.id)}, hi`)).status).toBe(200);
    expect(await counts(roomId)).toMatchObject({ [dan.id]: { unread: 1, mentions: 1 }, [bob.id]: { unread: 1, mentions: 0 } });
  });

  it("badge frames carry the mentions beside the counts: on connect (full) and with every change", async () => {
    const { roomId, users } = await roomOf(2);
    const [alice, bob] = users as [TestUser, TestUser];
    const tab = await BadgeTab.open(bob);
    onTestFinished(() => tab.close());
    expect(tab.last).toMatchObject({ total: 0, mentions: none });
    await sendText(roomId, alice, `${at(bob.id)} one`);
    await tab.until(() => tab.last?.total === 1, "the mention");
    expect(tab.last).toEqual({
      type: "notification_count_update",
      total: 1,
      rooms: { [roomId]: 1 },
      trigger: "new_message",
      mentions: { total: 1, rooms: { [roomId]: 1 } },
    });
    const { seq } = await sendText(roomId, alice, "no mention");
    await tab.until(() => tab.last?.total === 2, "the plain message");
    expect(tab.last?.mentions).toEqual({ total: 1, rooms: { [roomId]: 1 } });
    const second = await BadgeTab.open(bob);
    onTestFinished(() => second.close());
    expect(second.last).toMatchObject({ full: true, total: 2, rooms: { [roomId]: 2 }, mentions: { total: 1, rooms: { [roomId]: 1 } } });
    await readTo(bob, roomId, seq);
    await tab.until(() => tab.last?.total === 0, "the read");
    expect(tab.last?.mentions).toEqual({ total: 0, rooms: { [roomId]: 0 } });
  });

  it("survive a restart of the room: the counts derived again from the log are the same", async () => {
    const { roomId, users } = await roomOf(3);
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    await sendText(roomId, alice, `${at(bob.id)} ${at(carol.id)}`);
    const { seq } = await sendText(roomId, bob, `${at(carol.id)} and ${at(alice.id)}`);
    await sendText(roomId, carol, "plain");
    await readTo(alice, roomId, seq - 1);
    const before = await counts(roomId);
    expect(before[carol.id]).toEqual({ unread: 0, mentions: 0 }); // carol posted: she read the room
    expect(before[alice.id]).toEqual({ unread: 2, mentions: 1 });
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect(await counts(roomId)).toEqual(before);
  });
});

describe("muting a room", () => {
  it("is my own flag: in the rooms list and the snapshot, told to my other tabs; the room still counts unread and mentions", async () => {
    const { roomId, users } = await roomOf(3);
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    expect(await listEntry(bob, roomId)).toMatchObject({ muted: false });
    const tab = await BadgeTab.open(bob);
    onTestFinished(() => tab.close());
    const res = await mute(bob, roomId, true);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ muted: true });
    await tab.until(() => tab.all.some((f) => f.type === "room_muted"), "room_muted");
    expect(tab.all.find((f) => f.type === "room_muted")).toEqual({ type: "room_muted", roomId, muted: true } satisfies HubFrame);
    expect(await listEntry(bob, roomId)).toMatchObject({ muted: true });
    expect(await listEntry(carol, roomId)).toMatchObject({ muted: false });
    expect(await snapshot(bob, roomId)).toMatchObject({ muted: true });
    // Again: nothing changes, and no frame.
    expect(await (await mute(bob, roomId, true)).json()).toEqual({ muted: true });

    await sendText(roomId, alice, `${at(bob.id)} still counted`);
    expect(await unread(bob)).toEqual({ total: 1, rooms: { [roomId]: 1 }, mentions: { total: 1, rooms: { [roomId]: 1 } } });
    await tab.until(() => tab.last?.total === 1, "the muted room's count");
    expect(tab.all.filter((f) => f.type === "room_muted")).toHaveLength(1);

    expect(await (await mute(bob, roomId, false)).json()).toEqual({ muted: false });
    expect(await listEntry(bob, roomId)).toMatchObject({ muted: false });
  });

  it("refused for non-members (403), unknown rooms (404) and anything but a boolean (400)", async () => {
    const { roomId, users } = await roomOf(2);
    const eve = await register();
    expect((await errorOf(await mute(eve, roomId, true))).status).toBe(403);
    expect((await errorOf(await mute(eve, "no-such-room", true))).status).toBe(404);
    for (const bad of ["yes", 1, null]) expect((await mute(users[1]!, roomId, bad)).status, JSON.stringify(bad)).toBe(400);
    expect(await listEntry(users[1]!, roomId)).toMatchObject({ muted: false });
  });
});

describe("cost of mentions", () => {
  it.each([10, 100, 1000])("in a room of %i members, a message mentioning k members writes k rows more than one mentioning nobody", async (n) => {
    const owner = await register();
    const room = await createRoom(owner);
    const ids = await seedMembers(room.id, n - 1);
    const send = (text: string) => async () => expect((await call(`/api/rooms/${room.id}/messages`, { cookie: owner.cookie, json: { clientId: crypto.randomUUID(), text } })).status).toBe(201);
    await send("warm up")();
    const base = await costOf(room.id, send("nobody"));
    const measured: Record<number, number> = { 0: base.total };
    for (const k of [1, 5, Math.min(ids.length, LIMITS.mentionsPerMessage)]) {
      const cost = await costOf(room.id, send(ids.slice(0, k).map(at).join(" ")));
      measured[k] = cost.total;
      expect(cost.total - base.total, `k = ${k}`).toBe(k);
    }
    // Past the cap, tokens are text: still 50 rows.
    if (ids.length > LIMITS.mentionsPerMessage) {
      const over = await costOf(room.id, send(ids.slice(0, LIMITS.mentionsPerMessage + 9).map(at).join(" ")));
      expect(over.total - base.total).toBe(LIMITS.mentionsPerMessage);
    }
    console.log(`rows per message with k mentions, ${n} members: ${JSON.stringify(measured)}`);
  });
});
