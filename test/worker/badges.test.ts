import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hubShardName, hubShards } from "../../worker/lib/hub";
import { type RoomList, type RoomSnapshot, type UnreadCounts } from "#protocol";
import { exports } from "cloudflare:workers";
import type { Room } from "../../worker/room";
import { addMember, call, createRoom, ORIGIN, register, roomWithTwo, type TestUser } from "./helpers";
import { TestSocket } from "./socket";
import { BadgeTab, eventually } from "./badge-tab";

const unread = async (u: TestUser) => (await call("/api/me/unread", { cookie: u.cookie })).json<UnreadCounts>();
const snapshot = async (roomId: string, u: TestUser) => (await call(`/api/rooms/${roomId}`, { cookie: u.cookie })).json<RoomSnapshot>();
const send = (roomId: string, u: TestUser, text: string) =>
  call(`/api/rooms/${roomId}/messages`, { cookie: u.cookie, json: { clientId: crypto.randomUUID(), text } });
const head = (roomId: string) => runInDurableObject(env.ROOM.getByName(roomId), (room: Room) => room.log.head());
/** Send and answer the stored message's seq. */
const sendSeq = async (roomId: string, u: TestUser, text: string) => (await (await send(roomId, u, text)).json<{ seq: number }>()).seq;

/** Every member's count (in the room's memory) equals the count derived from the log. */
async function expectCountsDerived(roomId: string) {
  const rows = await runInDurableObject(env.ROOM.getByName(roomId), (room: Room, s) => {
    const derived = new Map(
      s.storage.sql
        .exec<{ user_id: string; derived: number }>(
          `SELECT m.user_id,
             (SELECT COUNT(*) FROM messages x WHERE x.seq > m.read_seq AND x.user_id != m.user_id AND x.deleted_at IS NULL) AS derived
           FROM members m`,
        )
        .toArray()
        .map((r) => [r.user_id, r.derived]),
    );
    return room.membersList().map((m) => ({ user_id: m.userId, unread: m.unread, derived: derived.get(m.userId) }));
  });
  for (const r of rows) expect(r.unread, `member ${r.user_id}`).toBe(r.derived);
  return rows;
}

describe("unread counts", () => {
  it("a message raises every other member's count, in the room list, the badge and the snapshot", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const joined = await head(roomId);
    for (const t of ["one", "two", "three"]) expect((await send(roomId, alice, t)).status).toBe(201);
    expect(await unread(bob)).toEqual({ total: 3, rooms: { [roomId]: 3 }, mentions: { total: 0, rooms: {} } });
    expect(await unread(alice)).toEqual({ total: 0, rooms: {}, mentions: { total: 0, rooms: {} } });
    const list = await (await call("/api/rooms", { cookie: bob.cookie })).json<RoomList>();
    expect(list.rooms.find((r) => r.id === roomId)?.unread).toBe(3);
    const snap = await snapshot(roomId, bob);
    expect(snap).toMatchObject({ unread: 3, seq: joined + 3 });
    expect(snap.readSeq).toBeLessThanOrEqual(joined); // bob joined with everything before read
    await expectCountsDerived(roomId);
  });

  it("sending moves the sender's cursor past their message: replying reads the room", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await send(roomId, alice, "q1");
    await send(roomId, alice, "q2");
    expect((await unread(bob)).total).toBe(2);
    await send(roomId, bob, "answer");
    expect(await unread(bob)).toEqual({ total: 0, rooms: {}, mentions: { total: 0, rooms: {} } });
    expect((await unread(alice)).total).toBe(1);
    await expectCountsDerived(roomId);
  });

  it("mark read moves the cursor up to the message; marking an older seq changes nothing (R8)", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const seqs: number[] = [];
    for (const t of ["a", "b", "c", "d"]) seqs.push(await sendSeq(roomId, alice, t));
    const r1 = await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: seqs[1] } });
    expect(await r1.json()).toEqual({ readSeq: seqs[1], unread: 2, changed: true });
    const headAfter = await head(roomId);
    expect(headAfter).toBe(seqs[3]); // a receipt is not a log event (R16)

    const tab = await BadgeTab.open(bob);
    const r2 = await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: seqs[0] } });
    expect(await r2.json()).toEqual({ readSeq: seqs[1], unread: 2, changed: false });
    expect(await head(roomId)).toBe(headAfter);
    // A marker proves the tab would have heard an update by now: only the marker's.
    await send(roomId, alice, "marker");
    await tab.until(() => tab.last?.total === 3, "the marker's count");
    // Nothing but the marker moved the badge (a late echo of the earlier read may repeat the 2).
    expect(tab.frames[0]?.total).toBe(2);
    expect(tab.frames.map((f) => f.total).filter((t) => t !== 2)).toEqual([3]);
    tab.close();
    await expectCountsDerived(roomId);
  });

  it("mark read past head is clamped; mark all read is read-to-head", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const x = await sendSeq(roomId, alice, "x");
    const res = await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: 999 } });
    expect(await res.json()).toEqual({ readSeq: x, unread: 0, changed: true });
  });

  it("mark unread from here moves the cursor back, explicitly", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const seqs: number[] = [];
    for (const t of ["a", "b", "c"]) seqs.push(await sendSeq(roomId, alice, t));
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: seqs[2] } });
    expect((await unread(bob)).total).toBe(0);
    const res = await call(`/api/rooms/${roomId}/unread`, { cookie: bob.cookie, json: { seq: seqs[1] } });
    expect(await res.json()).toEqual({ readSeq: seqs[0], unread: 2, changed: true });
    expect((await unread(bob)).total).toBe(2);
    await expectCountsDerived(roomId);
  });

  it("editing changes nothing; deleting an unread message lowers the count, never below zero", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const m1 = await (await send(roomId, alice, "first")).json<{ message: { id: string; seq: number } }>();
    const m2 = await (await send(roomId, alice, "second")).json<{ message: { id: string } }>();
    await call(`/api/rooms/${roomId}/messages/${m1.message.id}`, { cookie: alice.cookie, method: "PATCH", json: { text: "first!" } });
    expect((await unread(bob)).total).toBe(2);
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: m1.message.seq } });
    expect((await unread(bob)).total).toBe(1);
    // Deleting a message bob already read leaves his count alone; deleting the unread one lowers it.
    await call(`/api/rooms/${roomId}/messages/${m1.message.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect((await unread(bob)).total).toBe(1);
    await call(`/api/rooms/${roomId}/messages/${m2.message.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(await unread(bob)).toEqual({ total: 0, rooms: {}, mentions: { total: 0, rooms: {} } });
    const rows = await expectCountsDerived(roomId);
    expect(rows.every((r) => r.unread >= 0)).toBe(true);
  });

  it("a new member starts with nothing unread; a removed member's badge drops the room (R13)", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await send(room.id, alice, "before bob");
    await addMember(alice, room.id, bob);
    expect((await unread(bob)).total).toBe(0);
    await send(room.id, alice, "hello bob");
    expect((await unread(bob)).total).toBe(1);
    const tab = await BadgeTab.open(bob);
    expect(tab.frames.find((f) => f.full)).toMatchObject({ total: 1, rooms: { [room.id]: 1 } });
    await call(`/api/rooms/${room.id}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" });
    await tab.until(() => tab.last?.rooms[room.id] === 0, "the room dropped");
    expect(tab.last).toMatchObject({ total: 0, trigger: "membership" });
    expect(await unread(bob)).toEqual({ total: 0, rooms: {}, mentions: { total: 0, rooms: {} } });
    tab.close();
  });
});

describe("badges pushed to every tab", () => {
  it("R7 two tabs of one user agree at once; the event carries the numbers; the socket mark-read path too", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const tab1 = await BadgeTab.open(bob);
    const tab2 = await BadgeTab.open(bob);
    const roomTab = await TestSocket.open(roomId, bob);
    const a = await TestSocket.open(roomId, alice);
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "ping 1" });
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "ping 2" });
    for (const t of [tab1, tab2]) await t.until(() => t.last?.total === 2, "total 2");
    expect(tab1.last).toMatchObject({ type: "notification_count_update", total: 2, rooms: { [roomId]: 2 }, trigger: "new_message" });
    await roomTab.until(() => roomTab.messageTexts().length === 2, "both messages");
    const [first, second] = roomTab.events().flatMap((e) => (e.type === "message" ? [e.seq] : []));

    // Bob reads message 1 in the room tab: both badge tabs drop to 1, and Alice sees the receipt.
    roomTab.send({ type: "read", seq: first });
    for (const t of [tab1, tab2]) await t.until(() => t.last?.total === 1, "total 1");
    expect(tab2.last).toMatchObject({ rooms: { [roomId]: 1 }, trigger: "message_read" });
    const receipt = await a.waitFor((f) => f.type === "message_read");
    expect(receipt.type === "message_read" && receipt.receipt).toEqual({ userId: bob.id, username: bob.username, upTo: first });
    // An older read from the other tab: cursor stays, nothing pushed.
    roomTab.send({ type: "read", seq: 0 });
    roomTab.send({ type: "read", seq: second });
    for (const t of [tab1, tab2]) await t.until(() => t.last?.total === 0, "total 0");
    const totals = tab1.frames.map((f) => f.total);
    expect(totals.every((n) => n >= 0)).toBe(true);
    expect(totals.slice(-2)).toEqual([1, 0]);
    // What the hub pushed is what the polling endpoint answers.
    expect(await unread(bob)).toEqual({ total: tab1.last!.total, rooms: {}, mentions: { total: 0, rooms: {} } });
    for (const s of [tab1, tab2]) s.close();
    roomTab.close();
    a.close();
  });

  it("no frame ever tells a client to re-fetch: every badge frame carries total and rooms", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const tab = await BadgeTab.open(bob);
    const a = await sendSeq(roomId, alice, "a");
    await tab.until(() => tab.last?.total === 1, "a's count");
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: a } });
    await tab.until(() => tab.last?.total === 0, "the read");
    await send(roomId, alice, "b");
    await tab.until(() => tab.frames.length >= 4, "four frames");
    for (const raw of tab.raw as { type: string }[]) {
      // Counts carry the numbers; rooms-list frames carry the room itself (room_activity: its new time and preview).
      if (raw.type === "notification_count_update") expect(raw).toMatchObject({ total: expect.any(Number), rooms: expect.any(Object) });
      else if (raw.type === "room_activity") expect(raw).toMatchObject({ roomId, lastActivityAt: expect.any(Number), preview: expect.anything() });
      else expect(raw).toMatchObject({ type: expect.stringMatching(/^room_(added|updated|removed)$/) });
    }
    expect(tab.frames.length).toBeGreaterThanOrEqual(4);
    tab.close();
  });

  it("one call per hub shard per message, never one per member", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const members: TestUser[] = [];
    for (let i = 0; i < 30; i++) {
      const u = await register();
      await addMember(alice, room.id, u);
      members.push(u);
    }
    // Every member has a tab open (a room pushes only to members someone watches).
    const tabs = await Promise.all(members.map((m) => BadgeTab.open(m)));
    const shards = hubShards(env);
    const names = [...new Set([alice, ...members].map((u) => hubShardName(u.id, shards)))];
    const stats = async () => {
      let calls = 0;
      let updates = 0;
      for (const n of names) {
        const s = await env.USER_HUB.getByName(n).stats();
        calls += s.applyCalls;
        updates += s.updates;
      }
      return { calls, updates };
    };
    await eventually(stats, () => true, "stats");
    const settled = async () => {
      let prev = await stats();
      return eventually(
        async () => {
          await new Promise((r) => setTimeout(r, 100));
          const cur = await stats();
          const same = cur.calls === prev.calls;
          prev = cur;
          return { ...cur, same };
        },
        (v) => v.same,
        "pushes to settle",
      );
    };
    const before = await settled();
    expect((await send(room.id, alice, "to all 30")).status).toBe(201);
    const after = await eventually(stats, (s) => s.updates - before.updates >= members.length, "the pushes");
    const calls = after.calls - before.calls;
    expect(calls).toBeLessThanOrEqual(names.length);
    expect(calls).toBeLessThan(members.length);
    expect(after.updates - before.updates).toBeGreaterThanOrEqual(members.length);
    for (const m of members.slice(0, 3)) expect((await unread(m)).rooms[room.id]).toBe(1);
    for (const t of tabs) await t.until(() => t.last?.rooms[room.id] === 1, "every tab's count");
    for (const t of tabs) t.close();
  });

  it("a push that did not reach its hub is retried by the alarm", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const tab = await BadgeTab.open(bob);
    const stub = env.ROOM.getByName(roomId);
    await runInDurableObject(stub, (room: Room) => {
      room.pushes.callHub = () => Promise.reject(new Error("hub down"));
    });
    await send(roomId, alice, "x");
    // The push failed: the tab has heard nothing yet.
    await eventually(() => runInDurableObject(stub, (room: Room) => room.meterReading().hubCalls), (n) => n > 0, "the failed push");
    expect(tab.last?.total).toBe(0);
    await runInDurableObject(stub, (room: Room) => {
      room.pushes.callHub = (shard, batch) => env.USER_HUB.getByName(shard).deliver(batch);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await tab.until(() => tab.last?.total === 1, "the retried push");
    tab.close();
  });

  it("an older update arriving late never overwrites a newer one", async () => {
    const user = await register();
    const tab = await BadgeTab.open(user);
    const hub = env.USER_HUB.getByName(hubShardName(user.id, hubShards(env)));
    await hub.deliver({ roomId: "room-x", counts: [{ userId: user.id, n: 5, version: 10 }], notices: [], trigger: "new_message" });
    await hub.deliver({ roomId: "room-x", counts: [{ userId: user.id, n: 2, version: 9 }], notices: [], trigger: "new_message" });
    expect(await hub.getUnread(user.id)).toEqual({ total: 5, rooms: { "room-x": 5 }, mentions: { total: 0, rooms: {} } });
    tab.close();
  });
});

describe("the badge socket", () => {
  it("needs a session and an allowed Origin", async () => {
    const u = await register();
    const noSession = await exports.default.fetch(new Request(`${ORIGIN}/api/me/ws`, { headers: { Upgrade: "websocket", Origin: ORIGIN } }));
    expect(noSession.status).toBe(401);
    const badOrigin = await exports.default.fetch(
      new Request(`${ORIGIN}/api/me/ws`, { headers: { Upgrade: "websocket", Origin: "https://evil.example", Cookie: u.cookie } }),
    );
    expect(badOrigin.status).toBe(403);
  });

  it("closes on logout (S4)", async () => {
    const u = await register();
    const tab = await BadgeTab.open(u);
    const closed = new Promise<CloseEvent>((r) => tab.ws.addEventListener("close", r));
    await call("/api/auth/logout", { cookie: u.cookie, method: "POST" });
    expect((await closed).code).toBe(1008);
  });
});
