/**
 * The room protocol on the transport (app/lib/room-sync.svelte.ts): resume
 * with `after=`, `resync_required` (snapshot reload with the events of the
 * meantime held back), the outbox across a reconnect, events applied once in
 * `seq` order, polling while down, and the 1008 endings. The server is a
 * fake WebSocket plus a stubbed `fetch`; time is fake.
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { CLOSE, type Message, type RoomEvent, type RoomSnapshot } from "#protocol";
import { Connection } from "../../app/lib/connection.svelte.ts";
import { type EndReason, RoomSync } from "../../app/lib/room-sync.svelte.ts";
import { RoomState } from "../../app/lib/room.svelte.ts";
import { deferred, errorReply, FakeBrowser, type FakeSocket, fakeSockets, flush, reply, stubFetch, useFakeTime } from "./fake-socket.ts";

const ROOM = "room-1";
const ME = "u-me";
const ALICE = "u-alice";

const message = (seq: number, text: string, userId = ALICE, clientId = `c-${seq}`): Message => ({
  id: `m-${seq}`,
  seq,
  userId,
  username: userId === ME ? "me" : "alice",
  clientId,
  text,
  createdAt: seq * 1_000,
  editedAt: null,
  deletedAt: null,
});

const msgEvent = (seq: number, text: string, userId = ALICE, clientId?: string): RoomEvent => ({
  type: "message",
  seq,
  ts: seq * 1_000,
  message: message(seq, text, userId, clientId),
});

function snapshot(seq: number, messages: Message[] = [message(seq, "latest")]): RoomSnapshot {
  return {
    room: { id: ROOM, name: "General", ownerId: ALICE, createdAt: 1 },
    role: "member",
    members: [
      { id: ALICE, username: "alice", role: "owner", joinedAt: 1 },
      { id: ME, username: "me", role: "member", joinedAt: 1 },
    ],
    messages,
    hasMore: false,
    files: [],
    receipts: [{ userId: ME, username: "me", upTo: seq }],
    readSeq: seq,
    unread: 0,
    seq,
  };
}

interface Server {
  /** Answers `GET /api/rooms/room-1` (the snapshot). */
  snapshot: () => Response | Promise<Response>;
  /** Answers `GET /api/rooms/room-1/events?after=`. */
  events: (after: number) => Response | Promise<Response>;
  /** Answers `GET /api/me`. */
  me: () => Response | Promise<Response>;
}

/** A room opened at `seq` 10 and a sync on fakes (not started); both disposed after the test. */
async function setup(server: Partial<Server> = {}) {
  useFakeTime();
  const answers: Server = {
    snapshot: () => reply(snapshot(10)),
    events: () => reply({ events: [], seq: 10 }),
    me: () => reply({ id: ME, username: "me" }),
    ...server,
  };
  const calls = stubFetch((method, path) => {
    if (path === `/api/rooms/${ROOM}`) return answers.snapshot();
    const events = /^\/api\/rooms\/room-1\/events\?after=(\d+)$/.exec(path);
    if (events) return answers.events(Number(events[1]));
    if (path === "/api/me") return answers.me();
    if (method !== "GET") return reply({}, 200);
    throw new Error(`unexpected request ${method} ${path}`);
  });
  const room = new RoomState();
  room.setMe(ME);
  await room.open(ROOM);
  const net = fakeSockets();
  const browser = new FakeBrowser();
  const connection = new Connection();
  const applied: RoomEvent[] = [];
  const ends: EndReason[] = [];
  const sync = new RoomSync({
    room,
    userId: ME,
    onevent: (e) => applied.push(e),
    onend: (why) => ends.push(why),
    WebSocket: net.WebSocket,
    random: () => 0.5,
    surroundings: browser,
    connection,
  });
  onTestFinished(() => {
    sync.dispose();
    room.dispose();
  });
  return { room, sync, net, browser, connection, applied, ends, calls, answers };
}

/** The server side of a connection: hello, the replay, then live. */
function connect(socket: FakeSocket, head: number, replay: RoomEvent[] = []) {
  socket.open().receive({ type: "hello", seq: head, userId: ME, connectionId: "conn" });
  for (const event of replay) socket.receive(event);
  socket.receive({ type: "receipts", receipts: [] }).receive({ type: "live", seq: head });
}

const sends = (socket: FakeSocket) => socket.frames.filter((f) => f.type === "send");

describe("RoomSync: resume", () => {
  it("connects with after=<snapshot seq>, and after a drop resumes with after=<last applied seq>", async () => {
    const t = await setup();
    t.sync.start();
    expect(t.net.last.url).toBe(`ws://parley.test/api/rooms/${ROOM}/ws?after=10`);
    connect(t.net.last, 10);
    expect(t.connection.state).toBe("connected");
    t.net.last.receive(msgEvent(11, "eleven")).receive(msgEvent(12, "twelve"));
    expect(t.room.seq).toBe(12);

    t.net.last.drop(CLOSE.restart);
    expect(t.connection.state).toBe("connecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(t.net.sockets).toHaveLength(2);
    expect(t.net.last.after).toBe("12");
    connect(t.net.last, 13, [msgEvent(13, "missed")]);
    expect(t.room.messages.map((m) => m.seq)).toEqual([10, 11, 12, 13]);
  });

  it("after polling moved the seq on while down, resumes from where receipts were last live", async () => {
    const t = await setup({ events: (after) => reply({ events: after === 11 ? [msgEvent(12, "polled")] : [], seq: 12 }) });
    t.sync.start();
    connect(t.net.last, 10);
    t.net.last.receive(msgEvent(11, "live"));
    t.net.last.drop();
    // The retry hears nothing; meanwhile a poll round brings seq 12.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.calls).toContain(`GET /api/rooms/${ROOM}/events?after=11`);
    expect(t.room.seq).toBe(12);
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(1_000);
    // Events from 11 again (the replayed 12 is ignored), so the receipts frame covers what moved since 11.
    expect(t.net.last.after).toBe("11");
    connect(t.net.last, 12, [msgEvent(12, "polled")]);
    expect(t.room.messages.filter((m) => m.seq === 12)).toHaveLength(1);
    expect(t.applied.map((e) => e.seq)).toEqual([11, 12]);
  });
});

describe("RoomSync: resync_required", () => {
  it("reloads the snapshot, holds back what arrives meanwhile, then applies it in order", async () => {
    const t = await setup();
    t.sync.start();
    const snap = deferred<Response>();
    t.answers.snapshot = () => snap.promise;
    const ws = t.net.last;
    ws.open().receive({ type: "hello", seq: 50, userId: ME, connectionId: "c" }).receive({ type: "resync_required", seq: 50 });
    ws.receive({ type: "receipts", receipts: [{ userId: ALICE, username: "alice", upTo: 49 }] }).receive({ type: "live", seq: 50 });
    // Live events while the snapshot is on its way: held back, not applied (they would be a gap).
    ws.receive(msgEvent(51, "during the reload")).receive({ type: "message_read", ts: 1, receipt: { userId: ALICE, username: "alice", upTo: 51 } });
    await flush();
    expect(t.calls.filter((c) => c === `GET /api/rooms/${ROOM}`)).toHaveLength(2);
    expect(t.room.seq).toBe(10);
    expect(t.room.message("m-51")).toBeUndefined();
    expect(t.applied).toEqual([]);

    snap.resolve(reply(snapshot(50, [message(49, "forty-nine"), message(50, "fifty")])));
    await flush();
    expect(t.room.seq).toBe(51);
    expect(t.room.messages.map((m) => m.seq)).toEqual([49, 50, 51]);
    expect(t.applied.map((e) => e.seq)).toEqual([51]);
    // The receipts came after the snapshot's, in arrival order: the last one wins.
    expect(t.room.reads.receipts.find((r) => r.userId === ALICE)?.upTo).toBe(51);
    // The socket stayed as it was.
    expect(ws.closedWith).toBeNull();
    expect(t.net.sockets).toHaveLength(1);
  });

  it("a held-back event the new snapshot already covers is applied once", async () => {
    const t = await setup();
    t.sync.start();
    const snap = deferred<Response>();
    t.answers.snapshot = () => snap.promise;
    t.net.last.open().receive({ type: "hello", seq: 50, userId: ME, connectionId: "c" }).receive({ type: "resync_required", seq: 50 });
    t.net.last.receive({ type: "live", seq: 50 }).receive(msgEvent(51, "new"));
    snap.resolve(reply(snapshot(51, [message(50, "fifty"), message(51, "new")])));
    await flush();
    expect(t.room.messages.filter((m) => m.seq === 51)).toHaveLength(1);
    expect(t.applied).toEqual([]);
    expect(t.room.seq).toBe(51);
  });
});

describe("RoomSync: the outbox across a reconnect", () => {
  it("a send that was not acked is sent again with the same clientId once the next socket is live", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    const result = t.sync.send("  hello  ");
    expect(result.ok).toBe(true);
    const clientId = result.ok ? result.clientId : "";
    expect(sends(t.net.last)).toEqual([{ type: "send", clientId, text: "hello" }]);
    expect(t.sync.outbox.entries.map((e) => e.clientId)).toEqual([clientId]);

    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(500);
    const second = t.net.last;
    second.open().receive({ type: "hello", seq: 10, userId: ME, connectionId: "c2" });
    // Not before live (the replay may still bring it).
    expect(sends(second)).toEqual([]);
    second.receive({ type: "live", seq: 10 });
    expect(sends(second)).toEqual([{ type: "send", clientId, text: "hello" }]);

    // Acked, then its event lands: the optimistic copy goes, the message is there once.
    second.receive({ type: "ack", clientId, messageId: "m-11", seq: 11, duplicate: true });
    expect(t.sync.outbox.entries).toHaveLength(1);
    second.receive(msgEvent(11, "hello", ME, clientId));
    expect(t.sync.outbox.entries).toEqual([]);
    expect(t.room.messages.filter((m) => m.clientId === clientId)).toHaveLength(1);
  });

  it("a message written while down waits in the outbox and goes out when live; an acked one is not resent", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    const acked = t.sync.send("acked");
    const ackedId = acked.ok ? acked.clientId : "";
    t.net.last.receive({ type: "ack", clientId: ackedId, messageId: "m-11", seq: 11, duplicate: false });
    t.net.last.drop();
    const later = t.sync.send("written while down");
    const laterId = later.ok ? later.clientId : "";
    expect(t.sync.outbox.entries.map((e) => e.text)).toEqual(["acked", "written while down"]);
    await vi.advanceTimersByTimeAsync(500);
    connect(t.net.last, 11, [msgEvent(11, "acked", ME, ackedId)]);
    expect(sends(t.net.last)).toEqual([{ type: "send", clientId: laterId, text: "written while down" }]);
    expect(t.sync.outbox.entries.map((e) => e.text)).toEqual(["written while down"]);
  });
});

describe("RoomSync: thread replies through the outbox", () => {
  it("a reply goes out with threadOf, waits in its thread (not the main timeline), is resent when live and settles on its event", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    t.net.last.drop();
    const top = t.sync.send("top level");
    const reply = t.sync.send("in the thread", "m-5");
    const replyId = reply.ok ? reply.clientId : "";
    expect(t.sync.outbox.main.map((e) => e.text)).toEqual(["top level"]);
    expect(t.sync.outbox.inThread("m-5").map((e) => [e.text, e.threadOf])).toEqual([["in the thread", "m-5"]]);
    expect(t.sync.outbox.inThread("other")).toEqual([]);
    await vi.advanceTimersByTimeAsync(500);
    connect(t.net.last, 10);
    expect(sends(t.net.last)).toEqual([
      { type: "send", clientId: top.ok ? top.clientId : "", text: "top level" },
      { type: "send", clientId: replyId, text: "in the thread", threadOf: "m-5" },
    ]);
    t.net.last.receive({ type: "ack", clientId: replyId, messageId: "m-11", seq: 11, duplicate: false });
    expect(t.sync.outbox.inThread("m-5")).toHaveLength(1);
    const event = msgEvent(11, "in the thread", ME, replyId);
    if (event.type === "message") event.message.threadOf = "m-5";
    t.net.last.receive(event);
    expect(t.sync.outbox.inThread("m-5")).toEqual([]);
    expect(t.room.messages.some((m) => m.clientId === replyId)).toBe(false);
  });
});

describe("RoomSync: events once, in seq order", () => {
  it("ignores duplicates; a gap drops the socket and the resume fills it in order", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    const first = t.net.last;
    first.receive(msgEvent(11, "a")).receive(msgEvent(11, "a again")).receive(msgEvent(10, "old"));
    expect(t.room.messages.map((m) => [m.seq, m.text])).toEqual([
      [10, "latest"],
      [11, "a"],
    ]);
    // 13 before 12: a gap. Nothing of it is applied; the socket is dropped and resumed from 11.
    first.receive(msgEvent(13, "c"));
    expect(t.room.seq).toBe(11);
    expect(first.closedWith?.code).toBe(CLOSE.idle);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.net.last.after).toBe("11");
    connect(t.net.last, 13, [msgEvent(12, "b"), msgEvent(13, "c")]);
    t.net.last.receive(msgEvent(12, "b late"));
    expect(t.room.messages.map((m) => m.text)).toEqual(["latest", "a", "b", "c"]);
    expect(t.applied.map((e) => e.seq)).toEqual([11, 12, 13]);
  });

  it("while down, polling applies the events it fetches, once", async () => {
    const t = await setup({ events: (after) => reply({ events: [msgEvent(11, "polled"), msgEvent(12, "too")].filter((e) => e.seq > after), seq: 12 }) });
    t.sync.start();
    connect(t.net.last, 10);
    t.browser.goOffline();
    t.browser.onLine = true; // The browser is back but no `online` fired: only polling runs until the retry.
    await vi.advanceTimersByTimeAsync(5_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.room.messages.map((m) => m.text)).toEqual(["latest", "polled", "too"]);
    expect(t.applied.map((e) => e.seq)).toEqual([11, 12]);
  });
});

describe("RoomSync: ending", () => {
  it("1008 while still signed in means removed: it ends for good", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    t.net.last.drop(CLOSE.policy, "removed from the room");
    await flush();
    expect(t.calls).toContain("GET /api/me");
    expect(t.sync.ended).toBe("removed");
    expect(t.ends).toEqual(["removed"]);
    expect(t.connection.state).toBe("offline");
    expect(t.sync.send("anyone?")).toEqual({ ok: false, error: "This room is no longer connected." });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.net.sockets).toHaveLength(1);
    expect(t.calls.some((c) => c.includes("/events"))).toBe(false);
  });

  it("1008 with a signed-out session (reason, or /api/me says 401) ends it as signed out", async () => {
    const a = await setup();
    a.sync.start();
    connect(a.net.last, 10);
    a.net.last.drop(CLOSE.policy, "signed out");
    await flush();
    expect(a.ends).toEqual(["signed_out"]);
    expect(a.calls).not.toContain("GET /api/me");

    const b = await setup({ me: () => errorReply(401, "unauthorized") });
    b.sync.start();
    connect(b.net.last, 10);
    b.net.last.drop(CLOSE.policy, "");
    await flush();
    expect(b.ends).toEqual(["signed_out"]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(b.net.sockets).toHaveLength(1);
  });

  it("a poll answered 403 (no longer a member) ends it as removed", async () => {
    const t = await setup({ events: () => errorReply(403, "forbidden") });
    t.sync.start();
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.ends).toEqual(["removed"]);
    expect(t.sync.ended).toBe("removed");
    const count = t.net.sockets.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.net.sockets).toHaveLength(count);
  });
});

describe("RoomSync: presence, typing and edits", () => {
  it("shows presence and others' typing while connected, and forgets both on a drop", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    t.net.last
      .receive({ type: "presence", users: [{ userId: ALICE, username: "alice" }] })
      .receive({ type: "typing", userId: ALICE, username: "alice", typing: true })
      .receive({ type: "typing", userId: ME, username: "me", typing: true, activity: "uploading" });
    expect([...t.sync.presence.online]).toEqual([ALICE]);
    expect(t.sync.presence.typing.text).toBe("alice is typing…");
    t.net.last.drop();
    expect([...t.sync.presence.online]).toEqual([]);
    expect(t.sync.presence.typing.text).toBe("");
  });

  it("an edit goes over the socket when live (settled by done), over HTTP when down", async () => {
    const t = await setup();
    t.sync.start();
    connect(t.net.last, 10);
    const editing = t.sync.edit("m-10", "changed");
    const frame = t.net.last.frames.find((f) => f.type === "edit");
    expect(frame).toMatchObject({ type: "edit", messageId: "m-10", text: "changed" });
    t.net.last.receive({ type: "done", ref: frame?.ref, seq: 11 });
    await expect(editing).resolves.toBeUndefined();

    t.net.last.drop();
    t.answers.events = () => reply({ events: [], seq: 10 });
    const overHttp = t.sync.delete("m-10");
    await flush();
    await expect(overHttp).resolves.toBeUndefined();
    expect(t.calls).toContain(`DELETE /api/rooms/${ROOM}/messages/m-10`);
    // …and the change is fetched at once rather than at the next poll.
    expect(t.calls).toContain(`GET /api/rooms/${ROOM}/events?after=10`);
  });
});
