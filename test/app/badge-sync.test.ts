/**
 * The badge protocol on the transport (app/lib/badge-sync.svelte.ts): counts
 * frames (full ones replace, the others merge), the rooms-list frames
 * (added, removed, renamed, activity), resuming after a drop with polling of
 * `/api/me/unread` meanwhile and the list fetched again, an HTTP answer older
 * than the socket's counts dropped, and the end on sign-out (1008). A fake
 * WebSocket and `fetch`; time is fake.
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { CLOSE, type RoomSummary } from "#protocol";
import { BADGE_POLL_MS, BadgeSync } from "../../app/lib/badge-sync.svelte.ts";
import { Connection } from "../../app/lib/connection.svelte.ts";
import { Rooms } from "../../app/lib/rooms.svelte.ts";
import { Session } from "../../app/lib/session.svelte.ts";
import { deferred, FakeBrowser, fakeSockets, flush, reply, stubFetch, useFakeTime } from "./fake-socket.ts";

const summary = (id: string, name: string, unread = 0): RoomSummary => ({
  id,
  name,
  ownerId: "u-owner",
  role: "member",
  memberCount: 2,
  unread,
  createdAt: 1,
});

const counts = (total: number, rooms: Record<string, number>, extra: { full?: boolean; trigger?: string } = {}) => ({
  type: "notification_count_update",
  total,
  rooms,
  trigger: extra.full ? "connect" : "new_message",
  ...extra,
});

/** A signed-in session, a rooms list, and a badge sync on fakes (started); disposed after the test. */
async function setup(options: { unreadGate?: Promise<Response> } = {}) {
  useFakeTime();
  let unread = { total: 0, rooms: {} as Record<string, number> };
  let serverRooms: RoomSummary[] = [];
  const calls = stubFetch((_method, path) => {
    if (path === "/api/me") return reply({ id: "u-me", username: "me" });
    if (path === "/api/me/unread") return options.unreadGate ?? reply(unread);
    if (path === "/api/rooms") return reply({ rooms: serverRooms });
    throw new Error(`unexpected request ${path}`);
  });
  const session = new Session();
  await session.restore();
  const rooms = new Rooms();
  const net = fakeSockets();
  const browser = new FakeBrowser();
  const connection = new Connection();
  const activity: [string, number][] = [];
  const badges = new BadgeSync({
    session,
    rooms,
    onactivity: (roomId, added) => activity.push([roomId, added]),
    WebSocket: net.WebSocket,
    random: () => 0.5,
    surroundings: browser,
    connection,
  });
  onTestFinished(() => badges.dispose());
  badges.start();
  return {
    session,
    rooms,
    net,
    browser,
    connection,
    activity,
    calls,
    badges,
    setServerUnread: (u: typeof unread) => (unread = u),
    setServerRooms: (list: RoomSummary[]) => (serverRooms = list),
    roomFetches: () => calls.filter((c) => c === "GET /api/rooms").length,
    unreadPolls: () => calls.filter((c) => c === "GET /api/me/unread").length,
  };
}

describe("BadgeSync: counts", () => {
  it("a full frame replaces the counts, later frames merge, and new items are announced", async () => {
    const t = await setup();
    expect(t.net.last.url).toBe("ws://parley.test/api/me/ws");
    t.session.setUnread({ total: 9, rooms: { stale: 9 } });
    t.net.last.open().receive(counts(3, { a: 3 }, { full: true }));
    expect(t.session.total).toBe(3);
    expect(t.session.unreadFor("a")).toBe(3);
    expect(t.session.unreadFor("stale")).toBe(0);
    expect(t.connection.state).toBe("connected");

    t.net.last.receive(counts(5, { b: 2 }));
    expect(t.session.total).toBe(5);
    expect(t.session.unreadFor("a")).toBe(3);
    expect(t.session.unreadFor("b")).toBe(2);
    expect(t.activity).toEqual([["b", 2]]);

    // A read elsewhere: merged, but nothing new to announce.
    t.net.last.receive(counts(2, { a: 0 }, { trigger: "message_read" }));
    expect(t.session.total).toBe(2);
    expect(t.session.unreadFor("a")).toBe(0);
    expect(t.activity).toEqual([["b", 2]]);
  });

  it("room_added, room_updated and room_removed keep the rooms list and the counts in step", async () => {
    const t = await setup();
    t.net.last.open().receive(counts(0, {}, { full: true }));
    t.net.last.receive({ type: "room_added", room: summary("r1", "Alpha", 1) });
    t.net.last.receive({ type: "room_updated", room: { id: "r1", name: "Beta" } });
    expect(t.rooms.list.map((r) => r.name)).toEqual(["Beta"]);
    t.net.last.receive(counts(1, { r1: 1 }));
    t.net.last.receive({ type: "room_removed", roomId: "r1" });
    expect(t.rooms.list).toEqual([]);
    expect(t.session.total).toBe(0);
    // A late count for the room I left is not shown again.
    t.net.last.receive(counts(0, { r1: 1 }));
    expect(t.session.unreadFor("r1")).toBe(0);
  });
});

describe("BadgeSync: the rooms list", () => {
  it("room_activity moves a room to the top with its preview; room_updated renames a DM after its person", async () => {
    const t = await setup();
    t.net.last.open().receive(counts(0, {}, { full: true }));
    t.net.last.receive({ type: "room_added", room: { ...summary("r1", "Alpha"), lastActivityAt: 200 } });
    t.net.last.receive({ type: "room_added", room: { ...summary("r2", "Beta"), lastActivityAt: 100 } });
    expect(t.rooms.list.map((r) => r.id)).toEqual(["r1", "r2"]);
    const preview = { userId: "u-a", username: "ann", displayName: "Ann", text: "news", ts: 300 };
    t.net.last.receive({ type: "room_activity", roomId: "r2", lastActivityAt: 300, preview });
    expect(t.rooms.list.map((r) => r.id)).toEqual(["r2", "r1"]);
    expect(t.rooms.find("r2")?.preview).toEqual(preview);

    const ann = { id: "u-a", username: "ann", displayName: null };
    t.net.last.receive({ type: "room_added", room: { ...summary("d1", "ann"), kind: "dm", dmWith: ann, peer: ann } });
    t.net.last.receive({ type: "room_updated", room: { id: "d1", name: "Ann A.", dmWith: { ...ann, displayName: "Ann A." } } });
    expect(t.rooms.find("d1")).toMatchObject({ name: "Ann A.", peer: { displayName: "Ann A." }, dmWith: { displayName: "Ann A." } });
  });

  it("fetches the list again after a reconnect (its frames are not replayed), not on the first connect", async () => {
    const t = await setup();
    t.setServerRooms([summary("r1", "Alpha")]);
    await t.rooms.load();
    const fetched = t.roomFetches();
    t.net.last.open().receive(counts(0, {}, { full: true }));
    await flush();
    expect(t.roomFetches()).toBe(fetched);

    // Down; meanwhile I was added to a room (its room_added went to no socket of mine).
    t.net.last.drop(CLOSE.restart);
    t.setServerRooms([summary("r1", "Alpha"), summary("r2", "Missed")]);
    await vi.advanceTimersByTimeAsync(1_000);
    t.net.last.open().receive(counts(0, {}, { full: true }));
    await flush();
    expect(t.roomFetches()).toBe(fetched + 1);
    expect(t.rooms.list.map((r) => r.name).sort()).toEqual(["Alpha", "Missed"]);
  });

  it("drops an HTTP answer that the socket's full counts overtook", async () => {
    const gate = deferred<Response>();
    const t = await setup({ unreadGate: gate.promise });
    // The start's GET /api/me/unread is on its way; the socket's counts arrive first.
    t.net.last.open().receive(counts(3, { a: 3 }, { full: true }));
    gate.resolve(reply({ total: 0, rooms: {} }));
    await flush();
    expect(t.session.total).toBe(3);
    expect(t.session.unreadFor("a")).toBe(3);
  });
});

describe("BadgeSync: drops", () => {
  it("polls /api/me/unread only while down, and the next socket's full counts take over", async () => {
    const t = await setup();
    t.net.last.open().receive(counts(1, { a: 1 }, { full: true }));
    const polledBefore = t.unreadPolls();
    // Up: no polling however long (the socket answers its pings).
    for (let i = 0; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(15_000);
      t.net.last.receive('{"type":"pong"}');
    }
    expect(t.unreadPolls()).toBe(polledBefore);

    // Down, and the retry is refused: the counts come by polling.
    t.setServerUnread({ total: 4, rooms: { a: 4 } });
    t.net.last.drop(CLOSE.restart);
    expect(t.connection.state).toBe("connecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(t.net.sockets).toHaveLength(2);
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(BADGE_POLL_MS - 500);
    await flush();
    expect(t.unreadPolls()).toBe(polledBefore + 1);
    expect(t.session.unreadFor("a")).toBe(4);

    // Resumed: a fresh socket's full frame replaces the numbers, and polling stops.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.net.sockets).toHaveLength(3);
    t.net.last.open().receive(counts(2, { b: 2 }, { full: true }));
    expect(t.session.total).toBe(2);
    expect(t.session.unreadFor("a")).toBe(0);
    expect(t.connection.state).toBe("connected");
    const polled = t.unreadPolls();
    await vi.advanceTimersByTimeAsync(14_000);
    expect(t.unreadPolls()).toBe(polled);
  });

  it("ends on sign-out (1008): no reconnect, no polling, shown offline", async () => {
    const t = await setup();
    t.net.last.open().receive(counts(1, { a: 1 }, { full: true }));
    const polled = t.unreadPolls();
    t.net.last.drop(CLOSE.policy, "signed out");
    expect(t.connection.state).toBe("offline");
    await vi.advanceTimersByTimeAsync(120_000);
    t.browser.goOnline();
    t.browser.becomeVisible();
    expect(t.net.sockets).toHaveLength(1);
    expect(t.unreadPolls()).toBe(polled);
  });
});
