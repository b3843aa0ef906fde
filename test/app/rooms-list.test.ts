/**
 * The rooms list (app/lib/rooms.svelte.ts, app/lib/room-activity.ts): newest
 * activity first, rooms and DMs apart, `room_activity` and the open room's
 * own events moving a room up and changing its preview (never backwards),
 * live changes surviving a load in flight, and opening a DM.
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { Message, RoomEvent, RoomPreview, RoomSummary } from "#protocol";
import { byActivity, previewText, titleOf, withActivity, withEvent } from "../../app/lib/room-activity.ts";
import { Rooms } from "../../app/lib/rooms.svelte.ts";
import { deferred, reply, stubFetch } from "./fake-socket.ts";

const summary = (id: string, extra: Partial<RoomSummary> = {}): RoomSummary => ({
  id,
  name: id.toUpperCase(),
  ownerId: "u-owner",
  role: "member",
  memberCount: 2,
  unread: 0,
  createdAt: 100,
  kind: "room",
  ...extra,
});

const dm = (id: string, username: string, extra: Partial<RoomSummary> = {}) =>
  summary(id, { kind: "dm", name: username, dmWith: { id: `u-${username}`, username, displayName: null }, peer: { id: `u-${username}`, username, displayName: null }, ...extra });

const preview = (text: string, ts: number, userId = "u-alice"): RoomPreview => ({ userId, username: "alice", displayName: null, text, ts });

const message = (id: string, text: string | null, createdAt: number, userId = "u-alice"): Message => ({
  id,
  seq: 1,
  userId,
  username: "alice",
  clientId: `c-${id}`,
  text,
  createdAt,
  editedAt: null,
  deletedAt: null,
});

const ids = (list: RoomSummary[]) => list.map((r) => r.id);

/** A Rooms loaded with `list` (served by a stubbed GET /api/rooms). */
async function loaded(list: RoomSummary[]): Promise<Rooms> {
  stubFetch((method, path) => {
    if (method === "GET" && path === "/api/rooms") return reply({ rooms: list });
    throw new Error(`unexpected ${method} ${path}`);
  });
  const rooms = new Rooms();
  await rooms.load();
  return rooms;
}

describe("order", () => {
  it("newest activity first, then newest created, then by id; rooms and DMs apart", async () => {
    const rooms = await loaded([
      summary("old", { createdAt: 10 }),
      summary("busy", { createdAt: 5, lastActivityAt: 500 }),
      dm("d1", "bob", { lastActivityAt: 300 }),
      summary("new", { createdAt: 50 }),
      summary("tie-b", { createdAt: 20, lastActivityAt: 200 }),
      summary("tie-a", { createdAt: 20, lastActivityAt: 200 }),
    ]);
    expect(ids(rooms.list)).toEqual(["busy", "d1", "tie-a", "tie-b", "new", "old"]);
    expect(ids(rooms.groups)).toEqual(["busy", "tie-a", "tie-b", "new", "old"]);
    expect(ids(rooms.dms)).toEqual(["d1"]);
  });

  it("a DM is called after the other person (display name first), a room by its name", () => {
    expect(titleOf(dm("d", "bob"))).toBe("bob");
    expect(titleOf(dm("d", "bob", { peer: { id: "u", username: "bob", displayName: "Bob B." } }))).toBe("Bob B.");
    expect(titleOf(summary("r", { name: "Plans" }))).toBe("Plans");
    expect([summary("a", { createdAt: 1 }), summary("b", { createdAt: 2 })].sort(byActivity).map((r) => r.id)).toEqual(["b", "a"]);
  });
});

describe("room_activity", () => {
  it("moves the room to the top with its new preview", async () => {
    const rooms = await loaded([summary("a", { lastActivityAt: 300 }), summary("b", { lastActivityAt: 200 }), summary("c", { lastActivityAt: 100 })]);
    rooms.activity("c", 400, preview("hello", 400));
    expect(ids(rooms.list)).toEqual(["c", "a", "b"]);
    expect(rooms.find("c")?.preview?.text).toBe("hello");
    // A file: the time moves, the preview the frame carries (the latest message) stays.
    rooms.activity("b", 500, preview("hello from b", 150));
    expect(ids(rooms.list)).toEqual(["b", "c", "a"]);
    expect(rooms.find("b")?.preview?.text).toBe("hello from b");
  });

  it("never goes back: an older frame after a newer one changes neither the time nor the preview", async () => {
    const rooms = await loaded([summary("a", { lastActivityAt: 100 }), summary("b", { lastActivityAt: 300 })]);
    rooms.activity("a", 600, preview("second", 600));
    rooms.activity("a", 500, preview("first", 500));
    expect(rooms.find("a")).toMatchObject({ lastActivityAt: 600, preview: { text: "second" } });
    // The latest message deleted: a null preview that is news replaces it; an older one does not.
    expect(withActivity(rooms.find("a")!, 550, null).preview?.text).toBe("second");
    expect(withActivity(rooms.find("a")!, 600, null).preview).toBeNull();
  });

  it("ignores rooms that are not listed", async () => {
    const rooms = await loaded([summary("a")]);
    rooms.activity("zzz", 999, preview("x", 999));
    expect(ids(rooms.list)).toEqual(["a"]);
  });
});

describe("the open room's events", () => {
  const names = (userId: string) => (userId === "u-alice" ? "Alice" : null);

  it("my own message (no frame comes to the author) moves the room up and previews it", async () => {
    const rooms = await loaded([summary("a", { lastActivityAt: 300 }), summary("b", { lastActivityAt: 100 })]);
    const m = message("m1", "mine", 700, "u-me");
    rooms.applyEvent("b", { type: "message", seq: 5, ts: 700, message: m }, names, () => m);
    expect(ids(rooms.list)).toEqual(["b", "a"]);
    expect(rooms.find("b")?.preview).toEqual({ userId: "u-me", username: "alice", displayName: null, text: "mine", ts: 700 });
  });

  it("a file moves it up; an edit or deletion of the previewed message changes the preview, of another one does not", () => {
    const room = summary("a", { lastActivityAt: 100, preview: preview("draft", 100) });
    const file = { type: "file_uploaded", seq: 2, ts: 200, file: { uploaded_at: 200 } } as RoomEvent;
    expect(withEvent(room, file, names, () => undefined)).toMatchObject({ lastActivityAt: 200, preview: { text: "draft" } });

    const edited = message("m1", "final", 100);
    expect(withEvent(room, { type: "message_edited", seq: 3, ts: 300, message: edited }, names, () => edited)?.preview?.text).toBe("final");
    const other = message("m0", "older", 50);
    expect(withEvent(room, { type: "message_edited", seq: 3, ts: 300, message: other }, names, () => other)).toBeNull();

    const deleted = { ...message("m1", null, 100), deletedAt: 300 };
    const deletion: RoomEvent = { type: "message_deleted", seq: 4, ts: 300, messageId: "m1", userId: "u-alice" };
    expect(withEvent(room, deletion, names, () => deleted)?.preview).toBeNull();
    expect(withEvent(room, deletion, names, () => undefined)).toBeNull();
  });

  it("previews carry the author's display name and at most 160 characters, never half a surrogate pair", () => {
    const long = "a".repeat(159) + "😀" + "b";
    const m = message("m", long, 900);
    const next = withEvent(summary("a"), { type: "message", seq: 1, ts: 900, message: m }, names, () => m);
    expect(next?.preview?.displayName).toBe("Alice");
    expect(next?.preview?.text).toBe("a".repeat(159));
    expect(previewText("short")).toBe("short");
  });
});

describe("loading and DMs", () => {
  it("live changes made while a load is in flight are applied again to its reply", async () => {
    const gate = deferred<Response>();
    stubFetch(() => gate.promise);
    const rooms = new Rooms();
    const loading = rooms.load();
    rooms.upsert(summary("added", { lastActivityAt: 50 }));
    gate.resolve(reply({ rooms: [summary("a", { lastActivityAt: 100 })] }));
    await loading;
    // The reply predates the activity: it is applied on top of it.
    expect(ids(rooms.list)).toEqual(["a", "added"]);
    const second = deferred<Response>();
    stubFetch(() => second.promise);
    const again = rooms.load();
    rooms.activity("added", 900, preview("new", 900));
    second.resolve(reply({ rooms: [summary("a", { lastActivityAt: 100 }), summary("added", { lastActivityAt: 50 })] }));
    await again;
    expect(ids(rooms.list)).toEqual(["added", "a"]);
    expect(rooms.find("added")?.preview?.text).toBe("new");
  });

  it("openDm posts the username and lists the room it answers (once, however often)", async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (path: string, init?: RequestInit) => {
        expect([init?.method, path]).toEqual(["POST", "/api/dm"]);
        bodies.push(JSON.parse(String(init?.body)));
        return reply({ room: dm("d1", "bob", { lastActivityAt: 900 }) }, bodies.length === 1 ? 201 : 200);
      }),
    );
    onTestFinished(() => {
      vi.unstubAllGlobals();
    });
    const rooms = new Rooms();
    expect((await rooms.openDm("bob")).id).toBe("d1");
    expect((await rooms.openDm("BOB")).id).toBe("d1");
    expect(bodies).toEqual([{ username: "bob" }, { username: "BOB" }]);
    expect(ids(rooms.dms)).toEqual(["d1"]);
    expect(rooms.groups).toEqual([]);
  });

  it("openDm passes the server's refusal on (unknown user, myself)", async () => {
    stubFetch(() => reply({ error: { code: "not_found", message: "No user named “zed”" } }, 404));
    const rooms = new Rooms();
    await expect(rooms.openDm("zed")).rejects.toThrow("No user named “zed”");
    expect(rooms.list).toEqual([]);
  });
});
