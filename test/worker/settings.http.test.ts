/**
 * Account settings (issue #14): the display name (`PATCH /api/me`), shown in
 * member lists and DMs and told to the user's rooms live; and a password
 * change (`POST /api/me/password`), which signs out every other session.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished } from "vitest";
import { CLOSE, type RoomEvent, type RoomList, type RoomSnapshot, type RoomSummary, type User } from "#protocol";
import { PASSWORD_CHANGED } from "../../worker/lib/socket-object";
import { BadgeTab } from "./badge-tab";
import { addMember, call, createRoom, errorOf, openDm, randomAddress, register, signInAgain, type TestUser } from "./helpers";
import { TestSocket } from "./socket";

const me = async (u: TestUser) => (await call("/api/me", { cookie: u.cookie })).json<User>();
const patchMe = (u: TestUser, displayName: unknown) => call("/api/me", { method: "PATCH", cookie: u.cookie, json: { displayName } });
const changePassword = (u: TestUser, currentPassword: string, newPassword: string) =>
  call("/api/me/password", { cookie: u.cookie, json: { currentPassword, newPassword }, headers: { "CF-Connecting-IP": randomAddress() } });
const snapshot = async (roomId: string, u: TestUser) => (await call(`/api/rooms/${roomId}`, { cookie: u.cookie })).json<RoomSnapshot>();

describe("PATCH /api/me: the display name", () => {
  it("GET /api/me includes it; PATCH sets it (normalised and trimmed), answers the user, and null clears it", async () => {
    const alice = await register();
    expect(await me(alice)).toEqual({ id: alice.id, username: alice.username, displayName: null });
    const set = await patchMe(alice, "  Alice Ａ  ");
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ id: alice.id, username: alice.username, displayName: "Alice A" });
    expect(await me(alice)).toMatchObject({ displayName: "Alice A" });
    const row = await env.DB.prepare("SELECT display_name FROM users WHERE id = ?").bind(alice.id).first<{ display_name: string | null }>();
    expect(row?.display_name).toBe("Alice A");
    expect(await (await patchMe(alice, null)).json()).toEqual({ id: alice.id, username: alice.username, displayName: null });
    expect(await me(alice)).toMatchObject({ displayName: null });
    // Signing in answers it too.
    await patchMe(alice, "Al");
    const login = await call("/api/auth/login", { json: { username: alice.username, password: alice.password } });
    expect(await login.json()).toEqual({ user: { id: alice.id, username: alice.username, displayName: "Al" } });
  });

  it("refuses empty, too long, control and bidi-override names (400), a missing field, no session (401), another origin (403)", async () => {
    const alice = await register();
    for (const bad of ["   ", "x".repeat(65), "tab\there", "evil\u202Eeman", 42]) {
      expect(await errorOf(await patchMe(alice, bad))).toMatchObject({ status: 400, code: "bad_request" });
    }
    expect(await errorOf(await call("/api/me", { method: "PATCH", cookie: alice.cookie, json: {} }))).toMatchObject({ status: 400 });
    expect((await call("/api/me", { method: "PATCH", json: { displayName: "x" } })).status).toBe(401);
    expect((await call("/api/me", { method: "PATCH", cookie: alice.cookie, json: { displayName: "x" }, origin: "https://evil.example" })).status).toBe(403);
    expect(await me(alice)).toMatchObject({ displayName: null });
  });

  it("is rate-limited per user (RATE_PROFILE, 20 an hour): the 21st change is a 429 with Retry-After, and not stored", async () => {
    const alice = await register();
    for (let i = 0; i < 20; i++) expect((await patchMe(alice, `Name ${i}`)).status).toBe(200);
    const refused = await patchMe(alice, "One too many");
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await me(alice)).toMatchObject({ displayName: "Name 19" });
  });

  it("appears in member lists: the snapshot, member_joined, and a live member_updated on an open room socket", async () => {
    const alice = await register();
    const bob = await register();
    await patchMe(bob, "Bobby");
    const room = await createRoom(alice);
    const watcher = await TestSocket.open(room.id, alice);
    onTestFinished(() => watcher.close());
    const added = await addMember(alice, room.id, bob);
    expect((await added.json<{ member: unknown }>()).member).toMatchObject({ id: bob.id, displayName: "Bobby" });
    const joined = await watcher.waitFor((f) => f.type === "member_joined" && f.member.id === bob.id);
    expect(joined.type === "member_joined" && joined.member).toMatchObject({ id: bob.id, username: bob.username, displayName: "Bobby", role: "member" });
    expect((await snapshot(room.id, alice)).members.find((m) => m.id === bob.id)).toMatchObject({ displayName: "Bobby" });

    // A change reaches the open socket as a stored event, and the snapshot and replays have it.
    await patchMe(bob, "Robert");
    const updated = (await watcher.waitFor((f) => f.type === "member_updated")) as Extract<RoomEvent, { type: "member_updated" }>;
    expect(updated.member).toMatchObject({ id: bob.id, username: bob.username, displayName: "Robert", role: "member" });
    expect((await snapshot(room.id, alice)).members.find((m) => m.id === bob.id)).toMatchObject({ displayName: "Robert" });
    const replay = await (await call(`/api/rooms/${room.id}/events?after=${updated.seq - 1}`, { cookie: alice.cookie })).json<{ events: RoomEvent[] }>();
    expect(replay.events).toEqual([updated]);

    // Clearing it is an update too.
    await patchMe(bob, null);
    await watcher.until(() => watcher.frames.some((f) => f.type === "member_updated" && f.member.displayName === null), "the cleared name");
    // Setting the same name again tells nobody.
    const before = watcher.events().length;
    expect((await patchMe(bob, null)).status).toBe(200);
    await addMember(alice, room.id, await register()); // a marker event: anything from bob's PATCH would have come first
    await watcher.until(() => watcher.events().length > before, "the marker");
    expect(watcher.events().slice(before).map((e) => e.type)).toEqual(["member_joined"]);
  });

  it("names a DM: the other side's list and snapshot show it, and their badge socket gets room_updated live", async () => {
    const alice = await register();
    const bob = await register();
    const dm = (await (await openDm(alice, bob.username)).json<{ room: RoomSummary }>()).room;
    const tab = await BadgeTab.open(alice);
    onTestFinished(() => tab.close());
    await patchMe(bob, "Bob the Builder");
    await tab.until(() => tab.all.some((f) => f.type === "room_updated" && f.room.id === dm.id), "room_updated for the DM");
    expect(tab.all.find((f) => f.type === "room_updated")).toEqual({
      type: "room_updated",
      room: { id: dm.id, name: "Bob the Builder", dmWith: { id: bob.id, username: bob.username, displayName: "Bob the Builder" } },
    });
    const rooms = (await (await call("/api/rooms", { cookie: alice.cookie })).json<RoomList>()).rooms;
    expect(rooms.find((r) => r.id === dm.id)).toMatchObject({ name: "Bob the Builder", dmWith: { displayName: "Bob the Builder" } });
    expect((await snapshot(dm.id, alice)).room).toMatchObject({ name: "Bob the Builder", kind: "dm" });
    // Bob's own side is still named after alice.
    expect((await snapshot(dm.id, bob)).room).toMatchObject({ name: alice.username });
    const opened = await (await openDm(alice, bob.username)).json<{ room: RoomSummary }>();
    expect(opened.room).toMatchObject({ id: dm.id, name: "Bob the Builder" });
  });
});

describe("POST /api/me/password", () => {
  it("a wrong current password is 401 invalid_credentials, counted by the sign-in throttle; nothing changes", async () => {
    const alice = await register();
    const res = await changePassword(alice, "not my password", "a brand new password");
    expect(await errorOf(res)).toMatchObject({ status: 401, code: "invalid_credentials" });
    const row = await env.DB.prepare("SELECT failures FROM login_failures WHERE key = ?").bind(`u:${alice.username.toLowerCase()}`).first<{ failures: number }>();
    expect(row?.failures).toBe(1);
    // The old password still signs in; the new one does not.
    expect((await call("/api/auth/login", { json: { username: alice.username, password: alice.password } })).status).toBe(200);
    expect((await call("/api/auth/login", { json: { username: alice.username, password: "a brand new password" } })).status).toBe(401);
    // The new one is checked like at registration.
    expect(await errorOf(await changePassword(alice, alice.password, "short"))).toMatchObject({ status: 400 });
  });

  it("after 10 wrong attempts the throttle answers 429 with Retry-After, even for the right password", async () => {
    const alice = await register();
    for (let i = 0; i < 10; i++) expect((await changePassword(alice, `wrong ${i} password`, "a brand new password")).status).toBe(401);
    const refused = await changePassword(alice, alice.password, "a brand new password");
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
  });

  it("signs out every other session (their sockets close, 1008) but not this one; the new password signs in", async () => {
    const alice = await register();
    const other = await signInAgain(alice);
    const room = await createRoom(alice);
    const mine = await TestSocket.open(room.id, alice);
    onTestFinished(() => mine.close());
    const myTab = await BadgeTab.open(alice);
    onTestFinished(() => myTab.close());
    const theirs = await TestSocket.open(room.id, other);
    onTestFinished(() => theirs.close());
    const theirTab = await BadgeTab.open(other);
    onTestFinished(() => theirTab.close());

    const res = await changePassword(alice, alice.password, "a brand new password");
    expect(res.status).toBe(204);
    expect(await theirs.waitClosed()).toEqual({ code: CLOSE.policy, reason: PASSWORD_CHANGED });
    await theirTab.until(() => theirTab.closed !== undefined, "the other tab to close");
    expect(theirTab.closed).toEqual({ code: CLOSE.policy, reason: PASSWORD_CHANGED });
    expect((await call("/api/me", { cookie: other.cookie })).status).toBe(401);

    // This session and its sockets carry on.
    expect((await call("/api/me", { cookie: alice.cookie })).status).toBe(200);
    mine.send({ type: "send", clientId: crypto.randomUUID(), text: "still here" });
    await mine.waitFor((f) => f.type === "ack");
    expect(mine.isOpen).toBe(true);
    myTab.ws.send('{"type":"ping"}');
    await myTab.until(() => myTab.raw.some((f) => (f as { type?: string }).type === "pong"), "this tab's pong");
    expect(myTab.closed).toBeUndefined();
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(alice.id).first<{ n: number }>();
    expect(sessions?.n).toBe(1);

    expect((await call("/api/auth/login", { json: { username: alice.username, password: alice.password } })).status).toBe(401);
    expect((await call("/api/auth/login", { json: { username: alice.username, password: "a brand new password" } })).status).toBe(200);
  });

  it("also takes the shared contract's field names {current, next}", async () => {
    const alice = await register();
    const short = await call("/api/me/password", { cookie: alice.cookie, json: { current: alice.password, next: "short" } });
    expect(await errorOf(short)).toMatchObject({ status: 400, message: expect.stringMatching(/at least 8/) });
    const res = await call("/api/me/password", { cookie: alice.cookie, json: { current: alice.password, next: "the next good password" } });
    expect(res.status).toBe(204);
    expect((await call("/api/auth/login", { json: { username: alice.username, password: "the next good password" } })).status).toBe(200);
  });
});
