/**
 * Deleting an account (`DELETE /api/me {password}`, issue #14, HARDENING A9):
 * every session and socket of it ends and nothing of it answers afterwards;
 * its memberships go (the rooms hear `member_left`); its messages and files
 * show "deleted user" in snapshots, history and replays — also in rooms it
 * had left; rooms it owned pass to their longest-standing member; its
 * username is free again.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished } from "vitest";
import { CLOSE, DELETED_USER_NAME, type FilesPage, type HistoryPage, type RoomEvent, type RoomList, type RoomSnapshot, type RoomSummary } from "#protocol";
import { ACCOUNT_DELETED } from "../../worker/lib/socket-object";
import { db } from "../../worker/db";
import { repairRooms } from "../../worker/lib/membership";
import type { Room } from "../../worker/room";
import { BadgeTab } from "./badge-tab";
import { addMember, call, createRoom, errorOf, openDm, randomAddress, register, sendText, signInAgain, type TestUser, uploadText } from "./helpers";
import { TestSocket, upgrade } from "./socket";

const deleteMe = (u: TestUser, password: string) => call("/api/me", { method: "DELETE", cookie: u.cookie, json: { password }, headers: { "CF-Connecting-IP": randomAddress() } });
const snapshot = async (roomId: string, u: TestUser) => (await call(`/api/rooms/${roomId}`, { cookie: u.cookie })).json<RoomSnapshot>();
const events = async (roomId: string, u: TestUser) =>
  (await (await call(`/api/rooms/${roomId}/events?after=0`, { cookie: u.cookie })).json<{ events: RoomEvent[] }>()).events;

describe("A9 account deleted", () => {
  it("A9 account deleted → its sockets close (every session, room and badge); nothing of it answers afterwards", async () => {
    const alice = await register();
    const bob = await register();
    const other = await signInAgain(alice);
    const room = await createRoom(bob);
    await addMember(bob, room.id, alice);
    const sockets = [await TestSocket.open(room.id, alice), await TestSocket.open(room.id, other)];
    const tabs = [await BadgeTab.open(alice), await BadgeTab.open(other)];
    const bobs = await TestSocket.open(room.id, bob);
    onTestFinished(() => [...sockets, bobs].forEach((s) => s.close()));
    onTestFinished(() => tabs.forEach((t) => t.close()));

    const res = await deleteMe(alice, alice.password);
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-parley_session=;"))).toBe(true);
    for (const s of sockets) expect(await s.waitClosed()).toEqual({ code: CLOSE.policy, reason: ACCOUNT_DELETED });
    for (const t of tabs) {
      await t.until(() => t.closed !== undefined, "the badge socket to close");
      expect(t.closed).toEqual({ code: CLOSE.policy, reason: ACCOUNT_DELETED });
    }
    // The room tells the others, and bob's socket stays.
    const left = await bobs.waitFor((f) => f.type === "member_left");
    expect(left).toMatchObject({ type: "member_left", userId: alice.id, username: DELETED_USER_NAME, accountDeleted: true });
    expect(bobs.isOpen).toBe(true);

    // Nothing of it answers: no session, no sign-in, no socket.
    for (const u of [alice, other]) {
      expect(await errorOf(await call("/api/me", { cookie: u.cookie }))).toMatchObject({ status: 401, code: "unauthorized" });
      expect((await call("/api/rooms", { cookie: u.cookie })).status).toBe(401);
      expect((await upgrade(`/api/rooms/${room.id}/ws`, { cookie: u.cookie })).status).toBe(401);
      expect((await upgrade("/api/me/ws", { cookie: u.cookie })).status).toBe(401);
    }
    expect((await call("/api/auth/login", { json: { username: alice.username, password: alice.password } })).status).toBe(401);
    const d1 = await env.DB.batch([
      env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(alice.id),
      env.DB.prepare("SELECT COUNT(*) AS n FROM memberships WHERE user_id = ?").bind(alice.id),
    ]);
    expect(d1.map((r) => (r.results[0] as { n: number }).n)).toEqual([0, 0]);
    const inRoom = await runInDurableObject(env.ROOM.getByName(room.id), (r: Room) => r.membersList().map((m) => m.userId));
    expect(inRoom).toEqual([bob.id]);
  });

  it("A9 account deleted → a wrong password deletes nothing (401 invalid_credentials)", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const s = await TestSocket.open(room.id, alice);
    onTestFinished(() => s.close());
    expect(await errorOf(await deleteMe(alice, "not the password"))).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(await errorOf(await call("/api/me", { method: "DELETE", cookie: alice.cookie, json: {} }))).toMatchObject({ status: 400 });
    expect((await call("/api/me", { cookie: alice.cookie })).status).toBe(200);
    expect(s.isOpen).toBe(true);
    expect((await snapshot(room.id, alice)).members.map((m) => m.id)).toEqual([alice.id]);
  });
});

describe("after an account is deleted", () => {
  it("its messages and files show “deleted user” in snapshots, history and replays, also in a room it had left", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(bob);
    const left = await createRoom(bob);
    await addMember(bob, room.id, alice);
    await addMember(bob, left.id, alice);
    const { message } = await sendText(room.id, alice, "hello from alice");
    await call(`/api/rooms/${room.id}/messages/${message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "hello, edited" } });
    await sendText(room.id, bob, "hi alice");
    const file = await uploadText(room.id, alice, "alice's notes", "notes.txt");
    await sendText(left.id, alice, "I was here");
    expect((await call(`/api/rooms/${left.id}/members/${alice.id}`, { method: "DELETE", cookie: alice.cookie })).status).toBe(204);

    expect((await deleteMe(alice, alice.password)).status).toBe(204);

    const snap = await snapshot(room.id, bob);
    expect(snap.messages.map((m) => [m.userId, m.username, m.text])).toEqual([
      [alice.id, DELETED_USER_NAME, "hello, edited"],
      [bob.id, bob.username, "hi alice"],
    ]);
    expect(snap.members.map((m) => m.id)).toEqual([bob.id]);
    expect(snap.files.map((f) => [f.file_id, f.uploaded_by, f.uploader_id])).toEqual([[file.file_id, DELETED_USER_NAME, alice.id]]);
    const files = await (await call(`/api/rooms/${room.id}/files`, { cookie: bob.cookie })).json<FilesPage>();
    expect(files.files[0]).toMatchObject({ file_id: file.file_id, uploaded_by: DELETED_USER_NAME });
    const history = await (await call(`/api/rooms/${room.id}/messages?limit=10`, { cookie: bob.cookie })).json<HistoryPage>();
    expect(history.messages.find((m) => m.id === message.id)).toMatchObject({ username: DELETED_USER_NAME });

    // Replays: no stored event of the room names alice any more.
    const replay = await events(room.id, bob);
    expect(JSON.stringify(replay)).not.toContain(alice.username);
    expect(replay.find((e) => e.type === "message" && e.message.id === message.id)).toMatchObject({ message: { username: DELETED_USER_NAME } });
    expect(replay.find((e) => e.type === "message_edited")).toMatchObject({ message: { id: message.id, username: DELETED_USER_NAME } });
    expect(replay.find((e) => e.type === "member_joined" && e.member.id === alice.id)).toMatchObject({ member: { username: DELETED_USER_NAME } });
    expect(replay.find((e) => e.type === "file_uploaded")).toMatchObject({ file: { uploaded_by: DELETED_USER_NAME } });
    // A socket resuming from the start gets the same.
    const late = await TestSocket.open(room.id, bob, 0);
    onTestFinished(() => late.close());
    expect(JSON.stringify(late.events())).not.toContain(alice.username);

    // The room alice had left: her message there is anonymised as well.
    const formerSnap = await snapshot(left.id, bob);
    expect(formerSnap.messages.find((m) => m.userId === alice.id)).toMatchObject({ username: DELETED_USER_NAME, text: "I was here" });
    expect(JSON.stringify(await events(left.id, bob))).not.toContain(alice.username);
  });

  it("the rooms list's preview of its last message says “deleted user”", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(bob);
    await addMember(bob, room.id, alice);
    await sendText(room.id, alice, "last word");
    expect((await deleteMe(alice, alice.password)).status).toBe(204);
    const rooms = (await (await call("/api/rooms", { cookie: bob.cookie })).json<RoomList>()).rooms;
    expect(rooms.find((r) => r.id === room.id)).toMatchObject({ memberCount: 1, preview: { userId: alice.id, username: DELETED_USER_NAME, text: "last word" } });
  });

  it("a room it owned passes to its longest-standing member, who can then manage it", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    await addMember(alice, room.id, carol);
    const watcher = await TestSocket.open(room.id, carol);
    onTestFinished(() => watcher.close());
    expect((await deleteMe(alice, alice.password)).status).toBe(204);
    const snap = await snapshot(room.id, carol);
    expect(snap.room.ownerId).toBe(bob.id);
    expect(snap.members.map((m) => [m.id, m.role])).toEqual([
      [bob.id, "owner"],
      [carol.id, "member"],
    ]);
    // The room heard it live: bob's new role, alice gone.
    await watcher.until(() => watcher.frames.some((f) => f.type === "member_updated" && f.member.id === bob.id && f.member.role === "owner"), "bob's new role");
    await watcher.waitFor((f) => f.type === "member_left");
    expect((await call(`/api/rooms/${room.id}`, { method: "PATCH", cookie: bob.cookie, json: { name: "bob's now" } })).status).toBe(200);
    expect((await call(`/api/rooms/${room.id}/members/${carol.id}`, { method: "DELETE", cookie: bob.cookie })).status).toBe(204);
  });

  it("a DM with it stays for the other person, named “deleted user”, told live on their badge socket", async () => {
    const alice = await register();
    const bob = await register();
    const dm = (await (await openDm(alice, bob.username)).json<{ room: RoomSummary }>()).room;
    await sendText(dm.id, alice, "bye");
    const tab = await BadgeTab.open(bob);
    onTestFinished(() => tab.close());
    expect((await deleteMe(alice, alice.password)).status).toBe(204);
    await tab.until(() => tab.all.some((f) => f.type === "room_updated" && f.room.id === dm.id), "room_updated for the DM");
    expect(tab.all.find((f) => f.type === "room_updated")).toEqual({
      type: "room_updated",
      room: { id: dm.id, name: DELETED_USER_NAME, dmWith: { id: alice.id, username: DELETED_USER_NAME, displayName: null } },
    });
    const rooms = (await (await call("/api/rooms", { cookie: bob.cookie })).json<RoomList>()).rooms;
    expect(rooms.find((r) => r.id === dm.id)).toMatchObject({
      kind: "dm",
      name: DELETED_USER_NAME,
      dmWith: { id: alice.id, username: DELETED_USER_NAME },
      memberCount: 1,
      preview: { username: DELETED_USER_NAME, text: "bye" },
    });
    const snap = await snapshot(dm.id, bob);
    expect(snap.room).toMatchObject({ name: DELETED_USER_NAME, dmWith: { id: alice.id } });
    expect(snap.messages.map((m) => m.username)).toEqual([DELETED_USER_NAME]);
  });

  it("its username is free again: a new account gets it (a new id), and a DM with it is a new room", async () => {
    const alice = await register();
    const bob = await register();
    const oldDm = (await (await openDm(bob, alice.username)).json<{ room: RoomSummary }>()).room;
    await call("/api/me", { method: "PATCH", cookie: alice.cookie, json: { displayName: "Old Alice" } });
    expect((await deleteMe(alice, alice.password)).status).toBe(204);
    const again = await register(alice.username.toUpperCase(), "another good password");
    expect(again.id).not.toBe(alice.id);
    expect(await (await call("/api/me", { cookie: again.cookie })).json()).toEqual({ id: again.id, username: alice.username.toUpperCase(), displayName: null });
    const fresh = await openDm(bob, alice.username);
    expect(fresh.status).toBe(201);
    const room = (await fresh.json<{ room: RoomSummary }>()).room;
    expect(room.id).not.toBe(oldDm.id);
    expect(room.dmWith).toMatchObject({ id: again.id });
    const row = await env.DB.prepare("SELECT username, display_name, password_hash, deleted_at FROM users WHERE id = ?").bind(alice.id).first();
    expect(row).toMatchObject({ username: DELETED_USER_NAME, display_name: null, password_hash: "", deleted_at: expect.any(Number) });
  });

  it("a room that missed the deletion's call catches up by itself (R14): the repair finds the account deleted and anonymises it", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(bob);
    await addMember(bob, room.id, alice);
    await sendText(room.id, alice, "remember me?");
    const watcher = await TestSocket.open(room.id, bob);
    onTestFinished(() => watcher.close());
    // D1's part of a deletion only, as if every call to the room had failed afterwards.
    await env.DB.batch([
      env.DB.prepare("UPDATE rooms SET version = version + 1 WHERE id = ?").bind(room.id),
      env.DB.prepare("DELETE FROM memberships WHERE user_id = ?").bind(alice.id),
      env.DB.prepare("DELETE FROM sessions WHERE user_id = ?").bind(alice.id),
      env.DB.prepare("UPDATE users SET username = ?, username_key = 'deleted:' || id, password_hash = '', deleted_at = ? WHERE id = ?").bind(DELETED_USER_NAME, Date.now(), alice.id),
    ]);
    expect((await snapshot(room.id, bob)).messages[0]).toMatchObject({ username: alice.username });
    await repairRooms(env, db(env.DB));
    const left = await watcher.waitFor((f) => f.type === "member_left");
    expect(left).toMatchObject({ userId: alice.id, accountDeleted: true, username: DELETED_USER_NAME });
    expect((await snapshot(room.id, bob)).messages[0]).toMatchObject({ userId: alice.id, username: DELETED_USER_NAME, text: "remember me?" });
  });
});
