import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Room } from "../../worker/room";
import type { RoomEvent, RoomList, RoomSnapshot } from "#protocol";
import { addMember, call, createRoom, errorOf, register, roomHead, uniqueName } from "./helpers";

/** The room's stored events from the start, as [seq, type, who]. */
async function eventsOf(roomId: string, cookie: string) {
  const page = await (await call(`/api/rooms/${roomId}/events?after=0`, { cookie })).json<{ events: RoomEvent[] }>();
  return page.events.map((e) => [e.seq, e.type, e.type === "member_joined" ? e.member.id : e.type === "member_left" ? e.userId : undefined]);
}

async function roomMembersInObject(roomId: string) {
  const members = await runInDurableObject(env.ROOM.getByName(roomId), (room: Room) => room.membersList());
  return members.map(({ userId, role }) => ({ userId, role }));
}

describe("rooms", () => {
  it("the creator owns a new room and sees it listed with its unread count", async () => {
    const alice = await register();
    const res = await call("/api/rooms", { cookie: alice.cookie, json: { name: "  Design review  " } });
    expect(res.status).toBe(201);
    const { room } = await res.json<{ room: RoomList["rooms"][number] }>();
    expect(room).toMatchObject({ name: "Design review", ownerId: alice.id, role: "owner", memberCount: 1, unread: 0 });
    // Unguessable: 128 random bits.
    expect(room.id).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const list = await (await call("/api/rooms", { cookie: alice.cookie })).json<RoomList>();
    expect(list.rooms).toEqual([room]);
    expect(await roomMembersInObject(room.id)).toEqual([{ userId: alice.id, role: "owner" }]);
  });

  it("validates the room name", async () => {
    const alice = await register();
    const empty = await call("/api/rooms", { cookie: alice.cookie, json: { name: "   " } });
    expect(await errorOf(empty)).toMatchObject({ status: 400, message: "Room name must not be empty" });
    const long = await call("/api/rooms", { cookie: alice.cookie, json: { name: "x".repeat(81) } });
    expect(await errorOf(long)).toMatchObject({ status: 400, message: expect.stringMatching(/at most 80/) });
  });

  it("needs a session", async () => {
    expect((await call("/api/rooms")).status).toBe(401);
    expect((await call("/api/rooms", { json: { name: "x" } })).status).toBe(401);
  });

  it("the owner adds a member by username (any case); both see the room", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    const res = await call(`/api/rooms/${room.id}/members`, { cookie: alice.cookie, json: { username: bob.username.toUpperCase() } });
    expect(res.status).toBe(201);
    expect((await res.json<{ member: unknown }>()).member).toMatchObject({ id: bob.id, username: bob.username, role: "member" });

    const bobs = await (await call("/api/rooms", { cookie: bob.cookie })).json<RoomList>();
    expect(bobs.rooms.map((r) => [r.id, r.role, r.memberCount])).toEqual([[room.id, "member", 2]]);
    const snap = await (await call(`/api/rooms/${room.id}`, { cookie: bob.cookie })).json<RoomSnapshot>();
    expect(snap.role).toBe("member");
    expect(snap.members.map((m) => [m.id, m.role])).toEqual([
      [alice.id, "owner"],
      [bob.id, "member"],
    ]);
    // Membership changes are stored events: the owner's join (creating the room), then Bob's.
    expect(snap.seq).toBe(await roomHead(room.id));
    expect(await eventsOf(room.id, bob.cookie)).toEqual([
      [1, "member_joined", alice.id],
      [2, "member_joined", bob.id],
    ]);
    const inObject = await roomMembersInObject(room.id);
    expect(inObject).toHaveLength(2);
    expect(inObject).toContainEqual({ userId: bob.id, role: "member" });
  });

  it("adding twice is idempotent (200 with the member, nothing changes) and an unknown user a 404", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    const first = await addMember(alice, room.id, bob);
    expect(first.status).toBe(201);
    const { member } = await first.json<{ member: unknown }>();
    const head = await roomHead(room.id);
    const again = await addMember(alice, room.id, bob);
    expect(again.status).toBe(200);
    expect((await again.json<{ member: unknown }>()).member).toEqual(member);
    // Nothing new stored: no second member_joined, the same members.
    expect(await roomHead(room.id)).toBe(head);
    expect(await roomMembersInObject(room.id)).toHaveLength(2);
    const ghost = await call(`/api/rooms/${room.id}/members`, { cookie: alice.cookie, json: { username: uniqueName() } });
    expect(await errorOf(ghost)).toMatchObject({ status: 404, code: "not_found" });
  });

  it("only the owner adds, removes and renames", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    expect(await errorOf(await addMember(bob, room.id, carol))).toMatchObject({ status: 403, code: "forbidden" });
    const rm = await call(`/api/rooms/${room.id}/members/${alice.id}`, { cookie: bob.cookie, method: "DELETE" });
    expect(rm.status).toBe(403);
    const rename = await call(`/api/rooms/${room.id}`, { cookie: bob.cookie, method: "PATCH", json: { name: "mine now" } });
    expect(rename.status).toBe(403);

    const ok = await call(`/api/rooms/${room.id}`, { cookie: alice.cookie, method: "PATCH", json: { name: "Renamed" } });
    expect(ok.status).toBe(200);
    expect((await ok.json<{ room: { name: string } }>()).room.name).toBe("Renamed");
  });

  it("the owner removes a member; the member loses access at once", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const before = await roomHead(room.id);
    const res = await call(`/api/rooms/${room.id}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(res.status).toBe(204);
    expect((await call(`/api/rooms/${room.id}`, { cookie: bob.cookie })).status).toBe(403);
    expect((await (await call("/api/rooms", { cookie: bob.cookie })).json<RoomList>()).rooms).toEqual([]);
    expect(await roomMembersInObject(room.id)).toEqual([{ userId: alice.id, role: "owner" }]);
    expect((await eventsOf(room.id, alice.cookie)).at(-1)).toEqual([before + 1, "member_left", bob.id]);
    // Removing again is idempotent: 204, and nothing more is stored.
    const head = await roomHead(room.id);
    const again = await call(`/api/rooms/${room.id}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(again.status).toBe(204);
    expect(await roomHead(room.id)).toBe(head);
    expect(await roomMembersInObject(room.id)).toEqual([{ userId: alice.id, role: "owner" }]);
    // An unknown user id is still a 404.
    const ghost = await call(`/api/rooms/${room.id}/members/${"Z".repeat(22)}`, { cookie: alice.cookie, method: "DELETE" });
    expect(await errorOf(ghost)).toMatchObject({ status: 404, code: "not_found" });
  });

  it("a member can leave; the owner cannot", async () => {
    const alice = await register();
    const bob = await register();
    const room = await createRoom(alice);
    await addMember(alice, room.id, bob);
    expect((await call(`/api/rooms/${room.id}/members/${bob.id}`, { cookie: bob.cookie, method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/rooms/${room.id}`, { cookie: bob.cookie })).status).toBe(403);
    const ownerLeaves = await call(`/api/rooms/${room.id}/members/${alice.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(await errorOf(ownerLeaves)).toMatchObject({ status: 409, code: "conflict" });
  });

  it("S3 a non-member gets 403 on everything of a room; a missing room is 404", async () => {
    const alice = await register();
    const mallory = await register();
    const room = await createRoom(alice);
    const attempts: [string, Parameters<typeof call>[1]][] = [
      [`/api/rooms/${room.id}`, {}],
      [`/api/rooms/${room.id}`, { method: "PATCH", json: { name: "x" } }],
      [`/api/rooms/${room.id}/members`, { json: { username: mallory.username } }],
      [`/api/rooms/${room.id}/members/${alice.id}`, { method: "DELETE" }],
    ];
    for (const [path, opts] of attempts) {
      const res = await call(path, { ...opts, cookie: mallory.cookie });
      expect(await errorOf(res), `${opts?.method ?? "GET"} ${path}`).toMatchObject({ status: 403, code: "forbidden" });
    }
    const missing = await call(`/api/rooms/${"A".repeat(22)}`, { cookie: mallory.cookie });
    expect(await errorOf(missing)).toMatchObject({ status: 404, code: "not_found" });
    // Nothing changed.
    const snap = await (await call(`/api/rooms/${room.id}`, { cookie: alice.cookie })).json<RoomSnapshot>();
    expect(snap.room.name).toBe(room.name);
    expect(snap.members).toHaveLength(1);
  });

  it("/api/me/unread answers the badge from the user's hub shard", async () => {
    const alice = await register();
    const res = await call("/api/me/unread", { cookie: alice.cookie });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ total: 0, rooms: {}, mentions: { total: 0, rooms: {} } });
  });
});
