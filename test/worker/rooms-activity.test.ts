/**
 * The rooms list lives (issue #14): `GET /api/rooms` carries each room's
 * kind, last activity (latest message or file, else its creation) and a
 * preview of its latest message, newest first; a new message or file sends
 * `room_activity` to the other members' badge sockets; and none of it
 * writes a row per message (R17: the rows one message writes stay as they were).
 */
import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished } from "vitest";
import type { RoomActivity, RoomList } from "#protocol";
import { BadgeTab, eventually } from "./badge-tab";
import { hubs, readMeters } from "./meters";
import { addMember, call, createRoom, register, sendText, type TestUser, uploadText } from "./helpers";

const list = async (u: TestUser) => (await (await call("/api/rooms", { cookie: u.cookie })).json<RoomList>()).rooms;
const activities = (tab: BadgeTab, roomId: string) => tab.all.filter((f): f is RoomActivity => f.type === "room_activity" && f.roomId === roomId);

describe("GET /api/rooms: kind, last activity and preview, newest first", () => {
  it("a room with nothing in it: its creation time, no preview", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const [entry] = await list(alice);
    expect(entry).toMatchObject({ id: room.id, kind: "room", preview: null });
    expect(entry!.lastActivityAt).toBe(entry!.createdAt);
  });

  it("orders by the latest message, and previews it (author and text), across two rooms", async () => {
    const alice = await register();
    const bob = await register();
    const a = await createRoom(alice, "A room");
    const b = await createRoom(alice, "B room");
    await addMember(alice, a.id, bob);
    await addMember(alice, b.id, bob);
    // Newest created first while nothing is said.
    expect((await list(bob)).map((r) => r.id)).toEqual([b.id, a.id]);

    const inA = await sendText(a.id, alice, "first, in A");
    const inB = await sendText(b.id, bob, "then B");
    let rooms = await list(bob);
    expect(rooms.map((r) => r.id)).toEqual([b.id, a.id]);
    expect(rooms[0]).toMatchObject({ lastActivityAt: inB.message.createdAt, preview: { userId: bob.id, username: bob.username, text: "then B", ts: inB.message.createdAt } });
    expect(rooms[1]).toMatchObject({ lastActivityAt: inA.message.createdAt, preview: { userId: alice.id, username: alice.username, text: "first, in A" } });

    // Wait for the clock to move past B's message (a condition, not a fixed sleep), then A is newest.
    await eventually(async () => Date.now(), (t) => t > inB.message.createdAt, "the clock to move on");
    const again = await sendText(a.id, alice, "A again");
    rooms = await list(bob);
    expect(rooms.map((r) => r.id)).toEqual([a.id, b.id]);
    expect(rooms[0]).toMatchObject({ lastActivityAt: again.message.createdAt, preview: { text: "A again" } });
    // Alice sees the same order and previews.
    expect((await list(alice)).map((r) => [r.id, r.preview?.text])).toEqual([
      [a.id, "A again"],
      [b.id, "then B"],
    ]);
  });

  it("the preview is at most 160 characters, follows an edit of the latest message, and is null once it is deleted", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const long = "🙂".repeat(50) + "x".repeat(200); // 100 UTF-16 units of emoji, then plain text
    const { message } = await sendText(room.id, alice, long);
    let [entry] = await list(alice);
    expect(entry!.preview!.text).toBe(long.slice(0, 160));
    // A cut never leaves half a surrogate pair.
    const odd = await sendText(room.id, alice, "x" + "🙂".repeat(100));
    [entry] = await list(alice);
    expect(entry!.preview!.text).toBe("x" + "🙂".repeat(79));
    expect(entry!.preview!.text.isWellFormed()).toBe(true);

    await call(`/api/rooms/${room.id}/messages/${odd.message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "edited" } });
    [entry] = await list(alice);
    expect(entry!.preview).toMatchObject({ text: "edited", userId: alice.id });
    // Editing an older message changes nothing.
    await call(`/api/rooms/${room.id}/messages/${message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "older edit" } });
    expect((await list(alice))[0]!.preview).toMatchObject({ text: "edited" });

    await call(`/api/rooms/${room.id}/messages/${odd.message.id}`, { method: "DELETE", cookie: alice.cookie });
    [entry] = await list(alice);
    expect(entry!.preview).toBeNull();
    expect(entry!.lastActivityAt).toBe(odd.message.createdAt);
  });

  it("a file counts as activity (the preview stays the latest message's)", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const { message } = await sendText(room.id, alice, "see the file");
    await eventually(async () => Date.now(), (t) => t > message.createdAt, "the clock to move on");
    const file = await uploadText(room.id, alice, "contents");
    const [entry] = await list(alice);
    expect(entry!.lastActivityAt).toBe(file.uploaded_at);
    expect(entry!.lastActivityAt).toBeGreaterThan(message.createdAt);
    expect(entry!.preview).toMatchObject({ text: "see the file" });
  });

  it("a fresh room instance reads the same activity back from its log", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    await sendText(room.id, alice, "before the restart");
    const file = await uploadText(room.id, alice, "bytes");
    const before = (await list(alice))[0];
    await evictDurableObject(env.ROOM.getByName(room.id));
    const after = (await list(alice))[0];
    expect(after).toEqual(before);
    expect(after).toMatchObject({ lastActivityAt: file.uploaded_at, preview: { text: "before the restart" } });
  });
});

describe("room_activity on the badge socket", () => {
  it("a new message reaches another member's badge socket with the new time and preview; not the author's", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const bobTab = await BadgeTab.open(bob);
    onTestFinished(() => bobTab.close());
    const aliceTab = await BadgeTab.open(alice);
    onTestFinished(() => aliceTab.close());

    const { message } = await sendText(room.id, alice, "fresh news");
    await bobTab.until(() => activities(bobTab, room.id).length > 0, "room_activity for bob");
    expect(activities(bobTab, room.id)[0]).toEqual({
      type: "room_activity",
      roomId: room.id,
      lastActivityAt: message.createdAt,
      preview: { userId: alice.id, username: alice.username, displayName: null, text: "fresh news", ts: message.createdAt },
    });
    // The count came too.
    await bobTab.until(() => bobTab.last?.rooms[room.id] === 1, "bob's count");

    // Bob answers: alice's tab gets his activity; his own tab does not get its echo.
    const reply = await sendText(room.id, bob, "got it");
    await aliceTab.until(() => activities(aliceTab, room.id).some((f) => f.lastActivityAt === reply.message.createdAt), "alice's room_activity");
    expect(activities(aliceTab, room.id).every((f) => f.preview?.userId === bob.id)).toBe(true);
    expect(activities(bobTab, room.id).every((f) => f.preview?.userId === alice.id)).toBe(true);
  });

  it("a file upload sends room_activity too", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const tab = await BadgeTab.open(bob);
    onTestFinished(() => tab.close());
    const file = await uploadText(room.id, alice, "report");
    await tab.until(() => activities(tab, room.id).some((f) => f.lastActivityAt === file.uploaded_at), "room_activity for the file");
  });

  it("an edit or deletion of the newest message sends the new preview (room_activity, same time); of an older one, nothing", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const older = await sendText(room.id, alice, "older");
    const newest = await sendText(room.id, alice, "newest");
    const tab = await BadgeTab.open(bob);
    onTestFinished(() => tab.close());
    const aliceTab = await BadgeTab.open(alice);
    onTestFinished(() => aliceTab.close());
    const before = activities(tab, room.id).length;

    await call(`/api/rooms/${room.id}/messages/${newest.message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "newest, edited" } });
    await tab.until(() => activities(tab, room.id).length > before, "room_activity after the edit");
    expect(activities(tab, room.id).at(-1)).toMatchObject({ lastActivityAt: newest.message.createdAt, preview: { text: "newest, edited", userId: alice.id } });

    // An older message's edit changes no preview: nothing is sent for it. The deletion after it is the
    // next frame bob's tab gets, so the edit sent nothing in between.
    const afterEdit = activities(tab, room.id).length;
    await call(`/api/rooms/${room.id}/messages/${older.message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "older, edited" } });
    await call(`/api/rooms/${room.id}/messages/${newest.message.id}`, { method: "DELETE", cookie: alice.cookie });
    await tab.until(() => activities(tab, room.id).length > afterEdit, "room_activity after the deletion");
    expect(activities(tab, room.id).slice(afterEdit)).toEqual([
      { type: "room_activity", roomId: room.id, lastActivityAt: newest.message.createdAt, preview: null },
    ]);
    // The author's own tab is never told.
    expect(activities(aliceTab, room.id)).toEqual([]);
  });
});

// ------------------------------------------------------------------ cost

/** One message over HTTP; the rows it wrote (room and every hub) once its pushes settled. */
async function rowsOfOneMessage(roomId: string, sender: TestUser): Promise<{ room: number; hubs: number }> {
  await eventually(() => readMeters(roomId), (m) => !m.busy, "earlier pushes to settle");
  await Promise.all([env.ROOM.getByName(roomId).meterReset(), ...hubs().map((h) => h.meterReset())]);
  await sendText(roomId, sender, "how much now?");
  const m = await eventually(() => readMeters(roomId), (x) => !x.busy, "the pushes");
  return { room: m.room.rowsWritten, hubs: m.hubs.rowsWritten };
}

describe("R17 the rooms list costs no row per message", () => {
  // Measured before issue #14 (room.cost.test.ts): 4 rows in the room (the message row, its two
  // index entries, the pushed-version mark), plus one hub row per member with a tab open.
  it("with no tab open: 4 rows, as before; with k tabs open (each getting room_activity): 4 + k", async () => {
    const owner = await register();
    const room = await createRoom(owner);
    const members: TestUser[] = [];
    for (let i = 0; i < 3; i++) {
      const u = await register();
      await addMember(owner, room.id, u);
      members.push(u);
    }
    await sendText(room.id, owner, "warm up"); // the room has its latest activity in memory
    expect(await rowsOfOneMessage(room.id, owner)).toEqual({ room: 4, hubs: 0 });

    const tabs = await Promise.all(members.map((u) => BadgeTab.open(u)));
    onTestFinished(() => tabs.forEach((t) => t.close()));
    const seen = tabs.map((t) => activities(t, room.id).length);
    expect(await rowsOfOneMessage(room.id, owner)).toEqual({ room: 4, hubs: members.length });
    for (const [i, t] of tabs.entries()) await t.until(() => activities(t, room.id).length > seen[i]!, "each tab's room_activity");

    // After a wake the latest activity is read from the log, not written: the first message costs 4 rows too.
    for (const t of tabs) t.close();
    await Promise.all(tabs.map((t) => t.closedLocally()));
    await evictDurableObject(env.ROOM.getByName(room.id));
    await env.ROOM.getByName(room.id).syncMembers(room.id); // wakes it (a fresh instance has its pushes to check)
    expect(await rowsOfOneMessage(room.id, owner)).toEqual({ room: 4, hubs: 0 });
  });
});
