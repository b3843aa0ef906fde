/**
 * Direct messages (issue #14): `POST /api/dm {username}` opens or creates the
 * two-person room; the same pair always gets the same room (either side, any
 * letter case, many requests at once); a DM has no owner powers; the other
 * person's rooms list gets it live; it counts in badges like any room.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Room } from "../../worker/room";
import type { RoomList, RoomSnapshot, RoomSummary, UnreadCounts } from "#protocol";
import { BadgeTab } from "./badge-tab";
import { call, createRoom, errorOf, openDm, register, sendText, type TestUser } from "./helpers";

const roomOf = async (res: Response) => (await res.json<{ room: RoomSummary }>()).room;
const list = async (u: TestUser) => (await (await call("/api/rooms", { cookie: u.cookie })).json<RoomList>()).rooms;
const dmRows = (a: string, b: string) =>
  env.DB.prepare("SELECT id, kind, dm_key FROM rooms WHERE dm_key = ?")
    .bind(a < b ? `${a}:${b}` : `${b}:${a}`)
    .all<{ id: string; kind: string }>()
    .then((r) => r.results);

/** Add `n` users straight into D1 (no password hashing): DM targets for the rate test. */
async function seedUsers(n: number): Promise<string[]> {
  const names = Array.from({ length: n }, () => `t_${crypto.randomUUID().slice(0, 12)}`);
  await env.DB.batch(
    names.map((name) =>
      env.DB.prepare("INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (?, ?, ?, 'x', ?)").bind(`seed-${name}`, name, name, Date.now()),
    ),
  );
  return names;
}

describe("POST /api/dm", () => {
  it("creates the DM (201), then answers the same room (200) from either side, in any letter case", async () => {
    const alice = await register();
    const bob = await register();
    const first = await openDm(alice, bob.username);
    expect(first.status).toBe(201);
    const room = await roomOf(first);
    expect(room).toMatchObject({
      kind: "dm",
      name: bob.username,
      dmWith: { id: bob.id, username: bob.username, displayName: null },
      // The same person under the shared contract's name.
      peer: { id: bob.id, username: bob.username, displayName: null },
      role: "member",
      memberCount: 2,
      unread: 0,
      preview: null,
      lastActivityAt: room.createdAt,
    });
    const again = await openDm(alice, bob.username.toUpperCase());
    expect(again.status).toBe(200);
    expect((await roomOf(again)).id).toBe(room.id);
    const theirs = await openDm(bob, alice.username.toLowerCase());
    expect(theirs.status).toBe(200);
    expect(await roomOf(theirs)).toMatchObject({ id: room.id, kind: "dm", name: alice.username, dmWith: { id: alice.id } });
    expect(await dmRows(alice.id, bob.id)).toEqual([expect.objectContaining({ id: room.id, kind: "dm" })]);

    // Both are plain members, in D1 and in the room.
    const roles = await env.DB.prepare("SELECT user_id, role FROM memberships WHERE room_id = ? ORDER BY user_id").bind(room.id).all();
    expect(roles.results).toEqual([alice.id, bob.id].sort().map((id) => ({ user_id: id, role: "member" })));
    const inRoom = await runInDurableObject(env.ROOM.getByName(room.id), (r: Room) => r.membersList().map((m) => [m.userId, m.role]));
    expect(inRoom).toEqual([alice.id, bob.id].sort().map((id) => [id, "member"]));
  });

  it("the same pair gets the same room under 20 parallel requests from both sides", async () => {
    const alice = await register();
    const bob = await register();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? openDm(alice, i % 4 === 1 ? bob.username.toUpperCase() : bob.username) : openDm(bob, alice.username))),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    const ids = new Set(await Promise.all(answers.map(async (r) => (await roomOf(r)).id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await dmRows(alice.id, bob.id)).toEqual([expect.objectContaining({ id })]);
    const members = await env.DB.prepare("SELECT COUNT(*) AS n FROM memberships WHERE room_id = ?").bind(id).first<{ n: number }>();
    expect(members?.n).toBe(2);
    // Only the one creation counts against the creators' hourly budget; the others gave their token back.
    const used = await env.DB.prepare("SELECT COALESCE(SUM(used), 0) AS n FROM rate_windows WHERE key IN (?, ?)").bind(`dm:${alice.id}`, `dm:${bob.id}`).first<{ n: number }>();
    expect(used?.n).toBe(1);
    // Each side sees it once, named after the other.
    expect((await list(alice)).filter((r) => r.kind === "dm").map((r) => [r.id, r.name])).toEqual([[id, bob.username]]);
    expect((await list(bob)).filter((r) => r.kind === "dm").map((r) => [r.id, r.name])).toEqual([[id, alice.username]]);
  });

  it("404 for an unknown username, 400 for yourself, 401 without a session, 403 from another origin", async () => {
    const alice = await register();
    expect(await errorOf(await openDm(alice, "nobody_here_ever"))).toMatchObject({ status: 404, code: "not_found" });
    expect(await errorOf(await openDm(alice, alice.username.toUpperCase()))).toMatchObject({ status: 400, code: "bad_request", message: expect.stringMatching(/yourself/) });
    expect((await call("/api/dm", { json: { username: alice.username } })).status).toBe(401);
    const foreign = await call("/api/dm", { cookie: alice.cookie, json: { username: alice.username }, origin: "https://evil.example" });
    expect(await errorOf(foreign)).toMatchObject({ status: 403, code: "bad_origin" });
    expect(await errorOf(await call("/api/dm", { cookie: alice.cookie, json: {} }))).toMatchObject({ status: 400 });
  });

  it("creating DMs is rate-limited per user per hour (RATE_DM); opening an existing one is not", async () => {
    const alice = await register();
    const names = await seedUsers(31);
    for (const name of names.slice(0, 30)) expect((await openDm(alice, name)).status).toBe(201);
    const refused = await openDm(alice, names[30]!);
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Nothing was created for the refused one, and an existing DM still opens.
    expect((await list(alice)).filter((r) => r.kind === "dm")).toHaveLength(30);
    expect((await openDm(alice, names[0]!)).status).toBe(200);
  });
});

describe("a DM has no owner powers", () => {
  it("nobody adds members (403), renames it (403), removes the other or leaves (403); nobody deletes the other's messages", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    const room = await roomOf(await openDm(alice, bob.username));
    for (const who of [alice, bob]) {
      const add = await call(`/api/rooms/${room.id}/members`, { cookie: who.cookie, json: { username: carol.username } });
      expect(await errorOf(add)).toMatchObject({ status: 403, code: "forbidden", message: expect.stringMatching(/direct message .*can't take more members/) });
      const rename = await call(`/api/rooms/${room.id}`, { method: "PATCH", cookie: who.cookie, json: { name: "ours" } });
      expect(await errorOf(rename)).toMatchObject({ status: 403, code: "forbidden", message: "A direct message can't be renamed" });
    }
    const remove = await call(`/api/rooms/${room.id}/members/${bob.id}`, { method: "DELETE", cookie: alice.cookie });
    expect(await errorOf(remove)).toMatchObject({ status: 403, message: expect.stringMatching(/direct message/) });
    const leave = await call(`/api/rooms/${room.id}/members/${alice.id}`, { method: "DELETE", cookie: alice.cookie });
    expect(await errorOf(leave)).toMatchObject({ status: 403, message: expect.stringMatching(/direct message/) });
    const { message } = await sendText(room.id, bob, "mine");
    const del = await call(`/api/rooms/${room.id}/messages/${message.id}`, { method: "DELETE", cookie: alice.cookie });
    expect(await errorOf(del)).toMatchObject({ status: 403 });

    // Nothing changed: still the two of them, still unnamed in D1.
    const snap = await (await call(`/api/rooms/${room.id}`, { cookie: alice.cookie })).json<RoomSnapshot>();
    expect(snap.members.map((m) => m.id).sort()).toEqual([alice.id, bob.id].sort());
    expect(snap.room).toMatchObject({ kind: "dm", name: bob.username, dmWith: { id: bob.id, username: bob.username } });
    expect(snap.role).toBe("member");
    expect(snap.messages.map((m) => m.text)).toEqual(["mine"]);
  });

  it("a group room is still the owner's: the checks are only for DMs", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    expect((await call(`/api/rooms/${room.id}/members`, { cookie: alice.cookie, json: { username: bob.username } })).status).toBe(201);
    expect((await call(`/api/rooms/${room.id}`, { method: "PATCH", cookie: alice.cookie, json: { name: "renamed" } })).status).toBe(200);
    expect((await list(alice)).find((r) => r.id === room.id)).toMatchObject({ kind: "room", name: "renamed", role: "owner" });
  });
});

describe("the other person hears of it live, and it counts in badges", () => {
  it("room_added reaches the other person's badge socket, named after the opener; messages raise their badge", async () => {
    const alice = await register();
    const bob = await register();
    const tab = await BadgeTab.open(bob);
    onTestFinished(() => tab.close());
    const room = await roomOf(await openDm(alice, bob.username));
    await tab.until(() => tab.all.some((f) => f.type === "room_added" && f.room.id === room.id), "room_added for the DM");
    const added = tab.all.find((f) => f.type === "room_added" && f.room.id === room.id);
    expect(added?.type === "room_added" && added.room).toMatchObject({
      id: room.id,
      kind: "dm",
      name: alice.username,
      dmWith: { id: alice.id, username: alice.username },
      role: "member",
      memberCount: 2,
      unread: 0,
      lastActivityAt: room.createdAt,
      preview: null,
    });

    await sendText(room.id, alice, "hi bob");
    await sendText(room.id, alice, "are you there?");
    await tab.until(() => tab.last?.rooms[room.id] === 2 && tab.last.total === 2, "bob's DM count");
    expect(await (await call("/api/me/unread", { cookie: bob.cookie })).json<UnreadCounts>()).toEqual({ total: 2, rooms: { [room.id]: 2 }, mentions: { total: 0, rooms: {} } });
    expect((await list(bob)).find((r) => r.id === room.id)).toMatchObject({ unread: 2, preview: { userId: alice.id, text: "are you there?" } });
  });
});
