/**
 * Threads (issue #15): a reply is a message with `threadOf` (a live
 * top-level message of the same room), in the log like any message but not
 * in the main history or snapshot; `GET …/messages?thread=` pages it. The
 * parent's `replyCount` / `lastReplyAt` are kept and announced as
 * `thread_updated`. A reply counts as unread only for the parent's author,
 * those who replied before it, and those it mentions.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished } from "vitest";
import { type EventsPage, type HistoryPage, mentionToken as at, type RoomEvent, type RoomList, type RoomSnapshot, type SendResult, type ServerFrame } from "#protocol";
import type { Room } from "../../worker/room";
import { addMember, call, createRoom, errorOf, register, roomWithTwo, seedMembers, sendText, type TestUser } from "./helpers";
import { costOf } from "./meters";
import { TestSocket } from "./socket";

const reply = (u: TestUser, roomId: string, threadOf: string, text: string, clientId: string = crypto.randomUUID()) =>
  call(`/api/rooms/${roomId}/messages`, { cookie: u.cookie, json: { clientId, text, threadOf } });
async function replied(u: TestUser, roomId: string, threadOf: string, text: string): Promise<SendResult> {
  const res = await reply(u, roomId, threadOf, text);
  if (res.status !== 201) throw new Error(`reply: ${res.status} ${await res.text()}`);
  return res.json();
}
const thread = async (u: TestUser, roomId: string, parentId: string, q = "") =>
  (await call(`/api/rooms/${roomId}/messages?thread=${parentId}${q}`, { cookie: u.cookie })).json<HistoryPage>();
const history = async (u: TestUser, roomId: string) => (await (await call(`/api/rooms/${roomId}/messages`, { cookie: u.cookie })).json<HistoryPage>()).messages;
const snapshot = async (u: TestUser, roomId: string) => (await call(`/api/rooms/${roomId}`, { cookie: u.cookie })).json<RoomSnapshot>();
const del = (u: TestUser, roomId: string, id: string) => call(`/api/rooms/${roomId}/messages/${id}`, { method: "DELETE", cookie: u.cookie });
const counts = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => Object.fromEntries(r.membersList().map((m) => [m.userId, { unread: m.unread, mentions: m.mentions }])));
const unreadOf = async (roomId: string, u: TestUser) => (await counts(roomId))[u.id]?.unread;
const storedRows = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) => s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one().n);

async function roomOf(n: number): Promise<{ roomId: string; users: TestUser[] }> {
  const users = await Promise.all(Array.from({ length: n }, () => register()));
  const room = await createRoom(users[0]!);
  for (const u of users.slice(1)) await addMember(users[0]!, room.id, u);
  return { roomId: room.id, users };
}

describe("replies", () => {
  it("carry threadOf; the parent keeps replyCount and lastReplyAt; main history and snapshot leave them out; ?thread= pages them oldest first", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message: parent } = await sendText(roomId, alice, "the question");
    expect(parent).toMatchObject({ threadOf: null, replyCount: 0, lastReplyAt: null });
    const r1 = await replied(bob, roomId, parent.id, "answer one");
    expect(r1.message).toMatchObject({ threadOf: parent.id, replyCount: 0, text: "answer one" });
    const r2 = await replied(alice, roomId, parent.id, "answer two");
    const r3 = await replied(bob, roomId, parent.id, "answer three");
    await sendText(roomId, alice, "top level again");

    const main = await history(bob, roomId);
    expect(main.map((m) => m.text)).toEqual(["the question", "top level again"]);
    expect(main[0]).toMatchObject({ id: parent.id, replyCount: 3, lastReplyAt: r3.message.createdAt });
    const snap = await snapshot(bob, roomId);
    expect(snap.messages.map((m) => m.text)).toEqual(["the question", "top level again"]);

    const page = await thread(bob, roomId, parent.id);
    expect(page.parent).toMatchObject({ id: parent.id, replyCount: 3 });
    expect(page.messages.map((m) => m.id)).toEqual([r1.message.id, r2.message.id, r3.message.id]);
    expect(page.hasMore).toBe(false);
    const first = await thread(bob, roomId, parent.id, "&limit=2");
    expect(first).toMatchObject({ hasMore: true });
    expect(first.messages.map((m) => m.text)).toEqual(["answer one", "answer two"]);
    const rest = await thread(bob, roomId, parent.id, `&after=${first.messages.at(-1)!.seq}`);
    expect(rest.messages.map((m) => m.text)).toEqual(["answer three"]);
    expect(rest.hasMore).toBe(false);
  });

  it("a retry with the same clientId answers the original reply and counts nothing twice", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message: parent } = await sendText(roomId, alice, "q");
    const clientId = crypto.randomUUID();
    const a = await reply(bob, roomId, parent.id, "once", clientId);
    const b = await reply(bob, roomId, parent.id, "once", clientId);
    expect([a.status, b.status]).toEqual([201, 200]);
    expect((await b.json<SendResult>()).duplicate).toBe(true);
    expect((await thread(alice, roomId, parent.id)).parent).toMatchObject({ replyCount: 1 });
    expect(await unreadOf(roomId, alice)).toBe(1);
  });

  it("are refused (nothing stored) for an unknown, deleted or other room's message (404), a reply as parent (400), a non-member (403)", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const other = await roomWithTwo();
    const { message: foreign } = await sendText(other.roomId, other.alice, "elsewhere");
    const { message: parent } = await sendText(roomId, alice, "parent");
    const { message: gone } = await sendText(roomId, alice, "deleted");
    await del(alice, roomId, gone.id);
    const { message: aReply } = await replied(bob, roomId, parent.id, "a reply");
    const rows = await storedRows(roomId);
    for (const [threadOf, status] of [["no-such-message", 404], [foreign.id, 404], [gone.id, 404], [aReply.id, 400]] as const) {
      expect((await errorOf(await reply(bob, roomId, threadOf, "nope"))).status, threadOf).toBe(status);
    }
    expect((await errorOf(await reply(other.bob, roomId, parent.id, "intruder"))).status).toBe(403);
    expect((await call(`/api/rooms/${roomId}/messages`, { cookie: bob.cookie, json: { clientId: crypto.randomUUID(), text: "x", threadOf: "" } })).status).toBe(400);
    expect(await storedRows(roomId)).toBe(rows);
    // A thread page of something that is not a top-level message of this room is a 404 too; of a room I'm not in, 403.
    for (const id of ["no-such-message", foreign.id, aReply.id]) {
      expect((await call(`/api/rooms/${roomId}/messages?thread=${id}`, { cookie: bob.cookie })).status, id).toBe(404);
    }
    expect((await call(`/api/rooms/${roomId}/messages?thread=${parent.id}`, { cookie: other.bob.cookie })).status).toBe(403);
  });

  it("deleting a reply lowers replyCount (lastReplyAt goes back); deleting the parent keeps its thread", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message: parent } = await sendText(roomId, alice, "parent");
    const r1 = await replied(bob, roomId, parent.id, "one");
    const r2 = await replied(bob, roomId, parent.id, "two");
    expect((await del(bob, roomId, r2.message.id)).status).toBe(204);
    expect((await thread(alice, roomId, parent.id)).parent).toMatchObject({ replyCount: 1, lastReplyAt: r1.message.createdAt });
    expect((await del(alice, roomId, parent.id)).status).toBe(204);
    const page = await thread(alice, roomId, parent.id);
    expect(page.parent).toMatchObject({ text: null, deletedAt: expect.any(Number), replyCount: 1 });
    expect(page.messages.map((m) => [m.text, m.deletedAt === null])).toEqual([
      ["one", true],
      [null, false],
    ]);
    // The deleted parent takes no new replies; its old ones stay.
    expect((await reply(bob, roomId, parent.id, "late")).status).toBe(404);
    expect((await del(bob, roomId, r1.message.id)).status).toBe(204);
    expect((await thread(alice, roomId, parent.id)).parent).toMatchObject({ replyCount: 0, lastReplyAt: null });
  });

  it("a reply is not the room's latest activity: the rooms list keeps the parent's preview", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message: parent } = await sendText(roomId, alice, "preview me");
    await replied(bob, roomId, parent.id, "not the preview");
    const entry = (await (await call("/api/rooms", { cookie: alice.cookie })).json<RoomList>()).rooms.find((r) => r.id === roomId);
    expect(entry).toMatchObject({ lastActivityAt: parent.createdAt, preview: { text: "preview me" } });
  });
});

describe("replies live and in replays", () => {
  it("sockets hear the reply (a message with threadOf) and then thread_updated, in seq order; the socket send frame takes threadOf", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message: parent } = await sendText(roomId, alice, "parent");
    const watcher = await TestSocket.open(roomId, alice);
    const ws = await TestSocket.open(roomId, bob);
    onTestFinished(() => {
      watcher.close();
      ws.close();
    });
    const clientId = crypto.randomUUID();
    ws.send({ type: "send", clientId, text: "over the socket", threadOf: parent.id });
    const ack = await ws.waitFor((f): f is Extract<ServerFrame, { type: "ack" }> => f.type === "ack" && f.clientId === clientId);
    await watcher.until(() => watcher.events().some((e) => e.type === "thread_updated"), "thread_updated");
    const [m, t] = watcher.events();
    expect(m).toMatchObject({ type: "message", seq: ack.seq, message: { id: ack.messageId, threadOf: parent.id, text: "over the socket" } });
    expect(t).toEqual({ type: "thread_updated", seq: ack.seq + 1, ts: expect.any(Number), messageId: parent.id, replyCount: 1, lastReplyAt: (m as Extract<RoomEvent, { type: "message" }>).message.createdAt });

    // Refusals come back as typed error frames, and nothing is stored.
    ws.send({ type: "send", clientId: crypto.randomUUID(), text: "to nothing", threadOf: "no-such-message" });
    ws.send({ type: "send", clientId: crypto.randomUUID(), text: "to a reply", threadOf: ack.messageId });
    await ws.until(() => ws.frames.filter((f) => f.type === "error").length === 2, "two errors");
    expect(ws.frames.filter((f) => f.type === "error").map((f) => (f as { code: string }).code)).toEqual(["not_found", "invalid_frame"]);

    await del(bob, roomId, ack.messageId);
    await watcher.until(() => watcher.events().filter((e) => e.type === "thread_updated").length === 2, "the second thread_updated");
    expect(watcher.events().at(-1)).toMatchObject({ type: "thread_updated", messageId: parent.id, replyCount: 0, lastReplyAt: null });
    expect(watcher.events().at(-2)).toMatchObject({ type: "message_deleted", messageId: ack.messageId });
  });

  it("a reconnect replays replies with threadOf and the thread_updated events (also over /events); a replayed parent carries its counts now", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { seq: before } = await sendText(roomId, alice, "before");
    const { message: parent } = await sendText(roomId, alice, "parent");
    const r = await replied(bob, roomId, parent.id, "replayed reply");
    const ws = await TestSocket.open(roomId, alice, before);
    onTestFinished(() => ws.close());
    const replay = ws.events();
    const seqs = replay.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => before + 1 + i));
    expect(replay.find((e) => e.type === "message" && e.message.id === parent.id)).toMatchObject({ message: { replyCount: 1, lastReplyAt: r.message.createdAt } });
    expect(replay.find((e) => e.type === "message" && e.message.id === r.message.id)).toMatchObject({ message: { threadOf: parent.id } });
    expect(replay.find((e) => e.type === "thread_updated")).toMatchObject({ messageId: parent.id, replyCount: 1 });
    const page = await (await call(`/api/rooms/${roomId}/events?after=${before}`, { cookie: alice.cookie })).json<EventsPage>();
    expect(page.events).toEqual(replay);
  });

  it("survive a restart: the thread page, counts and unread are the same after the room is evicted", async () => {
    const { roomId, users } = await roomOf(3);
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    const { message: parent } = await sendText(roomId, alice, "parent");
    await replied(bob, roomId, parent.id, "one");
    await replied(carol, roomId, parent.id, `two ${at(bob.id)}`);
    await replied(bob, roomId, parent.id, "three");
    const page = await thread(alice, roomId, parent.id);
    const before = await counts(roomId);
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect(await counts(roomId)).toEqual(before);
    expect(await thread(alice, roomId, parent.id)).toEqual(page);
  });
});

describe("who a reply counts for", () => {
  it("the parent's author and those who replied before it, and whom it mentions; not the rest of the room", async () => {
    const { roomId, users } = await roomOf(5);
    const [alice, bob, carol, dan, erin] = users as [TestUser, TestUser, TestUser, TestUser, TestUser];
    const { message: parent } = await sendText(roomId, alice, "parent");
    // Everyone reads the parent, so only replies count from here.
    for (const u of users.slice(1)) await call(`/api/rooms/${roomId}/read`, { cookie: u.cookie, json: { seq: parent.seq } });
    const c0 = await counts(roomId);
    expect(Object.values(c0).map((c) => c.unread)).toEqual([0, 0, 0, 0, 0]);

    await replied(bob, roomId, parent.id, "bob joins");
    expect(await counts(roomId)).toMatchObject({ [alice.id]: { unread: 1 }, [bob.id]: { unread: 0 }, [carol.id]: { unread: 0 }, [dan.id]: { unread: 0 } });
    await replied(carol, roomId, parent.id, `carol joins, asking ${at(dan.id)}`);
    expect(await counts(roomId)).toMatchObject({
      [alice.id]: { unread: 2, mentions: 0 },
      [bob.id]: { unread: 1, mentions: 0 },
      [carol.id]: { unread: 0 },
      [dan.id]: { unread: 1, mentions: 1 }, // mentioned: counts for him, though he never took part
      [erin.id]: { unread: 0, mentions: 0 },
    });
    const { message: last } = await replied(alice, roomId, parent.id, "the author replies");
    expect(await counts(roomId)).toMatchObject({ [bob.id]: { unread: 2 }, [carol.id]: { unread: 1 }, [dan.id]: { unread: 1 }, [erin.id]: { unread: 0 } });
    // The room's badge (GET /api/me/unread) says the same.
    const badge = await (await call("/api/me/unread", { cookie: bob.cookie })).json<{ rooms: Record<string, number> }>();
    expect(badge.rooms[roomId]).toBe(2);
    // Deleting a reply takes it back from those it counted for.
    await del(alice, roomId, last.id);
    expect(await counts(roomId)).toMatchObject({ [bob.id]: { unread: 1 }, [carol.id]: { unread: 0 }, [erin.id]: { unread: 0 } });
    // A top-level message still counts for everyone.
    await sendText(roomId, erin, "top level");
    // (alice's own reply had moved her cursor past everything before it.)
    expect(await counts(roomId)).toMatchObject({ [alice.id]: { unread: 1 }, [bob.id]: { unread: 2 }, [dan.id]: { unread: 2 }, [erin.id]: { unread: 0 } });
  });

  it("taking part counts from the first reply on: earlier replies stay uncounted, whatever the cursor", async () => {
    const { roomId, users } = await roomOf(3);
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    const { message: parent } = await sendText(roomId, alice, "parent");
    await call(`/api/rooms/${roomId}/read`, { cookie: carol.cookie, json: { seq: parent.seq } });
    await replied(bob, roomId, parent.id, "before carol");
    expect(await unreadOf(roomId, carol)).toBe(0);
    // carol's cursor stays before bob's reply (she had nothing unread, so posting moves nothing)
    const { seq } = await replied(carol, roomId, parent.id, "carol joins");
    const stored = await runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => r.membersList().find((m) => m.userId === carol.id)!.readSeq);
    expect(stored).toBe(parent.seq);
    expect(await unreadOf(roomId, carol)).toBe(0);
    await replied(bob, roomId, parent.id, "after carol");
    expect(await unreadOf(roomId, carol)).toBe(1);
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect(await unreadOf(roomId, carol)).toBe(1);
    // Her own reply and the one before it count for her in no derivation; one participant row for her, none for the parent's author.
    const rows = await runInDurableObject(env.ROOM.getByName(roomId), (_r, s) =>
      s.storage.sql.exec<{ user_id: string; since_seq: number }>("SELECT user_id, since_seq FROM thread_participants ORDER BY since_seq").toArray(),
    );
    expect(rows.map((r) => r.user_id)).toEqual([bob.id, carol.id]);
    expect(rows[1]!.since_seq).toBe(seq);
  });
});

describe("cost of a reply", () => {
  it.each([10, 100, 1000])("in a room of %i members: 3 rows more than a top-level message (+ k mentions), whatever the room's size", async (n) => {
    const owner = await register();
    const room = await createRoom(owner);
    const ids = await seedMembers(room.id, n - 1);
    const { message: parent } = await sendText(room.id, owner, "parent");
    const eventRows = () => runInDurableObject(env.ROOM.getByName(room.id), (_r, s) => s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events").one().n);
    /** Send, and answer how many old events the replay window pruned meanwhile (a row each; a room of many joins has a full window). */
    let pruned = 0;
    const send = (text: string, threadOf?: string) => async () => {
      const before = await eventRows();
      const res = await call(`/api/rooms/${room.id}/messages`, { cookie: owner.cookie, json: { clientId: crypto.randomUUID(), text, threadOf } });
      expect(res.status).toBe(201);
      pruned = before + (threadOf ? 1 : 0) - (await eventRows());
    };
    const top = await costOf(room.id, send("top level"));
    expect(pruned).toBe(0);
    const replies = [];
    for (const text of ["reply", "reply again"]) {
      const cost = await costOf(room.id, send(text, parent.id));
      // The parent's row, the thread index entry, the thread_updated event (no participant row: the owner wrote the parent).
      expect(cost.total, text).toBe(top.total + 3 + pruned);
      replies.push({ rows: cost.total, pruned });
    }
    const mentioning = await costOf(room.id, send(`reply ${ids.slice(0, 5).map(at).join(" ")}`, parent.id));
    expect(mentioning.total).toBe(top.total + 3 + pruned + 5);
    expect(mentioning.hubRows).toBe(0);
    console.log(`rows, ${n} members: top-level ${top.total}, replies ${JSON.stringify(replies)}, a reply mentioning 5 ${mentioning.total} (pruned ${pruned})`);
  });

  it("a new participant writes one row more, once", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message: parent } = await sendText(roomId, alice, "parent");
    const send = (u: TestUser, text: string) => async () => expect((await reply(u, roomId, parent.id, text)).status).toBe(201);
    const { seq } = await replied(alice, roomId, parent.id, "warm up");
    // bob has read everything: no reply of his moves his cursor (that would be a row too).
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq } });
    const byAuthor = await costOf(roomId, send(alice, "author"));
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: seq + 10 } });
    const first = await costOf(roomId, send(bob, "bob's first"));
    const second = await costOf(roomId, send(bob, "bob's second"));
    expect(first.roomRows - second.roomRows).toBe(1);
    expect(second.roomRows).toBe(byAuthor.roomRows);
  });
});
