/**
 * The room page's state (app/lib/room.svelte.ts, RoomState): a snapshot,
 * then the room's log applied event by event, idempotently by `seq`; a jump
 * in `seq` is a gap the caller must fill; a reload (resync) replaces it all.
 * HTTP (`GET /api/rooms/:id`, history) goes through a stubbed `fetch`.
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { FileInfo, Member, Message, Receipt, RoomEvent, RoomSnapshot } from "#protocol";
import { messageRows } from "../../app/lib/message-rows.ts";
import { RoomState } from "../../app/lib/room.svelte.ts";
import { dividerRow, UnreadDivider } from "../../app/lib/unread-divider.svelte.ts";

const ROOM = "room-1";
const ME = "u-me";
const ALICE = "u-alice";

const member = (id: string, username: string, role: Member["role"] = "member", joinedAt = 1): Member => ({ id, username, role, joinedAt });

const message = (seq: number, text: string, userId = ALICE, extra: Partial<Message> = {}): Message => ({
  id: `m-${seq}`,
  seq,
  userId,
  username: userId === ME ? "me" : "alice",
  clientId: `c-${seq}`,
  text,
  createdAt: seq * 1_000,
  editedAt: null,
  deletedAt: null,
  ...extra,
});

const file = (id: string, seq: number, uploaderId = ALICE): FileInfo => ({
  file_id: id,
  room_id: ROOM,
  filename: `${id}.txt`,
  file_type: "text/plain",
  file_size: 10,
  uploaded_by: uploaderId === ME ? "me" : "alice",
  uploader_id: uploaderId,
  uploaded_at: seq * 1_000,
  description: "",
  has_thumbnail: false,
  seq,
});

function snapshot(seq: number, extra: Partial<RoomSnapshot> = {}): RoomSnapshot {
  return {
    room: { id: ROOM, name: "General", ownerId: ME, createdAt: 1 },
    role: "owner",
    members: [member(ALICE, "alice"), member(ME, "me", "owner")],
    messages: [message(seq - 1, "older"), message(seq, "latest")],
    hasMore: false,
    files: [file("f-old", seq - 2)],
    receipts: [
      { userId: ME, username: "me", upTo: seq },
      { userId: ALICE, username: "alice", upTo: seq - 1 },
    ],
    readSeq: seq,
    unread: 0,
    seq,
    ...extra,
  };
}

/** A RoomState showing `snap` (applied directly, no HTTP), with me set. */
function roomAt(snap: RoomSnapshot = snapshot(10)): RoomState {
  const room = newRoom();
  room.applySnapshot(snap);
  return room;
}

/** A RoomState that knows who I am; disposed after the test. */
function newRoom(): RoomState {
  const room = new RoomState();
  room.setMe(ME);
  onTestFinished(() => room.dispose());
  return room;
}

const msgEvent = (seq: number, text: string, userId = ALICE): RoomEvent => ({ type: "message", seq, ts: seq * 1_000, message: message(seq, text, userId) });

/** What a test can see of the room, to compare before and after. */
const view = (room: RoomState) => ({
  seq: room.seq,
  name: room.name,
  members: room.members,
  messages: room.messages,
  files: room.files,
  receipts: room.reads.receipts,
});

const receiptOf = (room: RoomState, userId: string): Receipt | undefined => room.reads.receipts.find((r) => r.userId === userId);

/** Stub `fetch` with a handler by path; restored after the test. */
function stubFetch(handler: (path: string) => Promise<Response> | Response) {
  const calls: string[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL) => {
    const path = String(input);
    calls.push(path);
    return handler(path);
  });
  vi.stubGlobal("fetch", fn);
  onTestFinished(() => {
    vi.unstubAllGlobals();
  });
  return calls;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const errorReply = (status: number, code: string, message: string) => json({ error: { code, message } }, status);

/** A promise with its resolve function, to answer a request when the test decides. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("RoomState: snapshot", () => {
  it("applySnapshot shows the room as the server has it at seq, members owner first", () => {
    const snap = snapshot(10);
    const room = roomAt(snap);

    expect(room.status).toBe("ready");
    expect(room.error).toBeNull();
    expect(room.seq).toBe(10);
    expect(room.room).toEqual(snap.room);
    expect(room.name).toBe("General");
    expect(room.role).toBe("owner");
    expect(room.isOwner).toBe(true);
    expect(room.members.map((m) => m.username)).toEqual(["me", "alice"]);
    expect(room.messages.map((m) => m.text)).toEqual(["older", "latest"]);
    expect(room.files.map((f) => f.file_id)).toEqual(["f-old"]);
    expect(room.reads.readSeq).toBe(10);
    expect(room.message("m-9")?.text).toBe("older");
  });
});

describe("RoomState.applyEvent: order and idempotence", () => {
  it("applies events one after another in seq order, moving seq with each", () => {
    const room = roomAt(snapshot(10));
    expect(room.applyEvent(msgEvent(11, "eleven"))).toBe("applied");
    expect(room.seq).toBe(11);
    expect(room.applyEvent(msgEvent(12, "twelve"))).toBe("applied");
    expect(room.seq).toBe(12);
    expect(room.messages.map((m) => [m.seq, m.text])).toEqual([
      [9, "older"],
      [10, "latest"],
      [11, "eleven"],
      [12, "twelve"],
    ]);
  });

  it("ignores an event it already has (same seq again, or older): stale, nothing changes", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent(msgEvent(11, "eleven"));
    const before = view(room);
    expect(room.applyEvent(msgEvent(11, "eleven"))).toBe("stale");
    expect(room.applyEvent(msgEvent(10, "replayed"))).toBe("stale");
    expect(room.applyEvent({ type: "room_renamed", seq: 5, ts: 5, name: "Old name" })).toBe("stale");
    expect(view(room)).toEqual(before);
    expect(room.messages.filter((m) => m.seq === 11)).toHaveLength(1);
  });

  it("a jump in seq is a gap: nothing is applied and seq stays, so the missing events can be fetched", () => {
    const room = roomAt(snapshot(10));
    const before = view(room);
    expect(room.applyEvent(msgEvent(12, "twelve"))).toBe("gap");
    expect(room.applyEvent({ type: "room_renamed", seq: 15, ts: 15, name: "Later" })).toBe("gap");
    expect(view(room)).toEqual(before);
    // Once the missing event arrives, the later one fits again.
    expect(room.applyEvent(msgEvent(11, "eleven"))).toBe("applied");
    expect(room.applyEvent(msgEvent(12, "twelve"))).toBe("applied");
    expect(room.messages.map((m) => m.seq)).toEqual([9, 10, 11, 12]);
  });

  it("a message already loaded is not listed twice (seq still moves)", () => {
    const room = roomAt(snapshot(10));
    const dup = message(10, "latest");
    expect(room.applyEvent({ type: "message", seq: 11, ts: 11, message: dup })).toBe("applied");
    expect(room.messages.filter((m) => m.id === "m-10")).toHaveLength(1);
    expect(room.seq).toBe(11);
  });

  it("someone's message moves their read cursor to it (the server does so without an event)", () => {
    const room = roomAt(snapshot(10));
    expect(receiptOf(room, ALICE)?.upTo).toBe(9);
    room.applyEvent(msgEvent(11, "hi"));
    expect(receiptOf(room, ALICE)?.upTo).toBe(11);
    expect(room.reads.isUnread(11, ALICE)).toBe(true);
  });

  it("receipts move read cursors but never seq, and never make a gap", () => {
    const room = roomAt(snapshot(10));
    room.applyReceipts([{ userId: ALICE, username: "alice", upTo: 10 }]);
    expect(receiptOf(room, ALICE)?.upTo).toBe(10);
    expect(room.seq).toBe(10);
    expect(room.applyEvent(msgEvent(11, "next"))).toBe("applied");
  });
});

describe("RoomState.applyEvent: edits and deletes", () => {
  it("message_edited replaces the message with its new state, in place", () => {
    const room = roomAt(snapshot(10));
    const edited = message(9, "older, fixed", ALICE, { editedAt: 11_000 });
    expect(room.applyEvent({ type: "message_edited", seq: 11, ts: 11_000, message: edited })).toBe("applied");
    expect(room.messages.map((m) => m.text)).toEqual(["older, fixed", "latest"]);
    expect(room.message("m-9")).toEqual(edited);
    expect(room.seq).toBe(11);
  });

  it("message_deleted erases the text and sets deletedAt to the event's time; the row stays", () => {
    const room = roomAt(snapshot(10));
    expect(room.applyEvent({ type: "message_deleted", seq: 11, ts: 11_500, messageId: "m-10", userId: ALICE })).toBe("applied");
    expect(room.message("m-10")).toMatchObject({ id: "m-10", text: null, deletedAt: 11_500 });
    expect(room.messages).toHaveLength(2);
    expect(room.message("m-9")?.text).toBe("older");
  });

  it("a second delete of a deleted message keeps the first deletedAt", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent({ type: "message_deleted", seq: 11, ts: 11_500, messageId: "m-10", userId: ALICE });
    room.applyEvent({ type: "message_deleted", seq: 12, ts: 12_500, messageId: "m-10", userId: ALICE });
    expect(room.message("m-10")?.deletedAt).toBe(11_500);
    expect(room.seq).toBe(12);
  });

  it("edits and deletes of messages not loaded (older than the first page) change no message, but seq moves", () => {
    const room = roomAt(snapshot(10));
    const messages = room.messages;
    room.applyEvent({ type: "message_edited", seq: 11, ts: 11, message: message(3, "ancient, edited") });
    room.applyEvent({ type: "message_deleted", seq: 12, ts: 12, messageId: "m-2", userId: ALICE });
    expect(room.messages).toEqual(messages);
    expect(room.message("m-3")).toBeUndefined();
    expect(room.seq).toBe(12);
  });
});

describe("RoomState.applyEvent: files", () => {
  it("file_uploaded puts the file first (newest first), once, and moves the uploader's read cursor", () => {
    const room = roomAt(snapshot(10));
    expect(room.applyEvent({ type: "file_uploaded", seq: 11, ts: 11, file: file("f-new", 11) })).toBe("applied");
    expect(room.files.map((f) => f.file_id)).toEqual(["f-new", "f-old"]);
    expect(receiptOf(room, ALICE)?.upTo).toBe(11);
    // The same file announced again (a later event): still listed once.
    room.applyEvent({ type: "file_uploaded", seq: 12, ts: 12, file: file("f-new", 11) });
    expect(room.files.map((f) => f.file_id)).toEqual(["f-new", "f-old"]);
    expect(room.seq).toBe(12);
  });

  it("file_deleted removes the file", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent({ type: "file_uploaded", seq: 11, ts: 11, file: file("f-new", 11) });
    expect(room.applyEvent({ type: "file_deleted", seq: 12, ts: 12, file_id: "f-old", uploader_id: ALICE })).toBe("applied");
    expect(room.files.map((f) => f.file_id)).toEqual(["f-new"]);
    expect(room.seq).toBe(12);
  });
});

describe("RoomState.applyEvent: members and name", () => {
  it("member_joined adds the member in order, with everything before their joining read", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent({ type: "member_joined", seq: 11, ts: 11, member: member("u-bob", "Bob") });
    expect(room.members.map((m) => m.username)).toEqual(["me", "alice", "Bob"]);
    expect(receiptOf(room, "u-bob")).toEqual({ userId: "u-bob", username: "Bob", upTo: 10 });
    // Joining again (e.g. a role change) replaces, never duplicates.
    room.applyEvent({ type: "member_joined", seq: 12, ts: 12, member: member("u-bob", "Bob", "member", 12) });
    expect(room.members.filter((m) => m.id === "u-bob")).toEqual([member("u-bob", "Bob", "member", 12)]);
  });

  it("member_left removes the member and their receipt", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent({ type: "member_left", seq: 11, ts: 11, userId: ALICE, username: "alice" });
    expect(room.members.map((m) => m.id)).toEqual([ME]);
    expect(receiptOf(room, ALICE)).toBeUndefined();
  });

  it("room_renamed changes the name", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent({ type: "room_renamed", seq: 11, ts: 11, name: "Renamed" });
    expect(room.name).toBe("Renamed");
    expect(room.room?.name).toBe("Renamed");
  });
});

describe("RoomState: resync (snapshot reload)", () => {
  it("a new snapshot replaces everything the events had built, including seq", () => {
    const room = roomAt(snapshot(10));
    room.applyEvent(msgEvent(11, "applied live"));
    room.applyEvent({ type: "file_uploaded", seq: 12, ts: 12, file: file("f-live", 12) });
    room.applyEvent({ type: "room_renamed", seq: 13, ts: 13, name: "Live name" });

    const fresh = snapshot(40, {
      room: { id: ROOM, name: "Server name", ownerId: ME, createdAt: 1 },
      messages: [message(39, "thirty-nine"), message(40, "forty")],
      files: [file("f-40", 38)],
      members: [member(ME, "me", "owner")],
      receipts: [{ userId: ME, username: "me", upTo: 35 }],
      hasMore: true,
    });
    room.applySnapshot(fresh);
    expect(room.seq).toBe(40);
    expect(room.name).toBe("Server name");
    expect(room.messages.map((m) => m.text)).toEqual(["thirty-nine", "forty"]);
    expect(room.files.map((f) => f.file_id)).toEqual(["f-40"]);
    expect(room.members.map((m) => m.id)).toEqual([ME]);
    expect(room.reads.receipts).toEqual([{ userId: ME, username: "me", upTo: 35 }]);
    expect(room.reads.readSeq).toBe(35);
    expect(room.hasMore).toBe(true);
    // Events continue from the snapshot's seq.
    expect(room.applyEvent(msgEvent(13, "old"))).toBe("stale");
    expect(room.applyEvent(msgEvent(41, "next"))).toBe("applied");
  });

  it("open() loads the snapshot over HTTP; load() (a resync) replaces it with the newer one", async () => {
    let current = snapshot(10);
    const calls = stubFetch((path) => (path === `/api/rooms/${ROOM}` ? json(current) : errorReply(404, "not_found", "No")));
    const room = newRoom();
    const opening = room.open(ROOM);
    expect(room.status).toBe("loading");
    await opening;
    expect(room.status).toBe("ready");
    expect(room.id).toBe(ROOM);
    expect(room.seq).toBe(10);

    room.applyEvent(msgEvent(11, "live"));
    current = snapshot(30, { messages: [message(30, "after resync")] });
    expect(await room.load()).toBe(true);
    expect(room.seq).toBe(30);
    expect(room.messages.map((m) => m.text)).toEqual(["after resync"]);
    expect(calls).toEqual([`/api/rooms/${ROOM}`, `/api/rooms/${ROOM}`]);
  });

  it("a failed reload while the room is showing keeps it showing; losing access says so", async () => {
    let reply: () => Response = () => json(snapshot(10));
    stubFetch(() => reply());
    const room = newRoom();
    await room.open(ROOM);

    reply = () => errorReply(500, "internal", "Oops");
    expect(await room.load()).toBe(false);
    expect(room.status).toBe("ready");
    expect(room.error).toBeNull();
    expect(room.seq).toBe(10);

    reply = () => errorReply(403, "forbidden", "Not a member");
    expect(await room.load()).toBe(false);
    expect(room.status).toBe("forbidden");
  });

  it("a first load that fails shows the error; a 404 says not_found", async () => {
    let reply: () => Response = () => errorReply(500, "internal", "Oops");
    stubFetch(() => reply());
    const room = newRoom();
    await room.open(ROOM);
    expect(room.status).toBe("error");
    expect(room.error).toBe("Oops");

    reply = () => errorReply(404, "not_found", "No such room");
    await room.open("other");
    expect(room.status).toBe("not_found");
  });

  it("a slower, older reply is dropped when a newer load has started", async () => {
    const first = deferred<Response>();
    const second = deferred<Response>();
    const pending = [first, second];
    stubFetch(() => pending.shift()!.promise);
    const room = newRoom();
    const a = room.open(ROOM);
    const b = room.load();
    second.resolve(json(snapshot(20)));
    expect(await b).toBe(true);
    first.resolve(json(snapshot(5)));
    await a;
    expect(room.seq).toBe(20);
    expect(room.messages.map((m) => m.seq)).toEqual([19, 20]);
  });

  it("opening another room clears what was shown before its snapshot arrives", async () => {
    const next = deferred<Response>();
    stubFetch(() => next.promise);
    const room = roomAt(snapshot(10));
    const opening = room.open("room-2");
    expect(room.id).toBe("room-2");
    expect(room.messages).toEqual([]);
    expect(room.files).toEqual([]);
    expect(room.members).toEqual([]);
    expect(room.seq).toBe(0);
    next.resolve(json(snapshot(3, { room: { id: "room-2", name: "Two", ownerId: ALICE, createdAt: 2 }, role: "member" })));
    await opening;
    expect(room.name).toBe("Two");
    expect(room.isOwner).toBe(false);
  });
});

/** A RoomState opened on ROOM over the stubbed fetch: the snapshot `snap`, then `history` for every other request. */
async function openedRoom(snap: RoomSnapshot, history: (path: string) => Promise<Response> | Response) {
  const calls = stubFetch((path) => (path === `/api/rooms/${ROOM}` ? json(snap) : history(path)));
  const room = newRoom();
  await room.open(ROOM);
  calls.length = 0;
  return { room, calls };
}

describe("RoomState.loadOlder", () => {
  it("puts the older page in front and takes hasMore from it", async () => {
    const { room, calls } = await openedRoom(snapshot(10, { hasMore: true }), () =>
      json({ messages: [message(7, "seven"), message(8, "eight")], hasMore: false }),
    );
    await room.loadOlder();
    expect(calls).toEqual([`/api/rooms/${ROOM}/messages?before=9&limit=50`]);
    expect(room.messages.map((m) => m.seq)).toEqual([7, 8, 9, 10]);
    expect(room.hasMore).toBe(false);
    expect(room.loadingOlder).toBe(false);
    // Nothing older: no further request.
    await room.loadOlder();
    expect(calls).toHaveLength(1);
  });

  it("drops a page that arrives after the list was replaced by a snapshot", async () => {
    const page = deferred<Response>();
    const { room } = await openedRoom(snapshot(10, { hasMore: true }), () => page.promise);
    const loading = room.loadOlder();
    expect(room.loadingOlder).toBe(true);
    room.applySnapshot(snapshot(50, { hasMore: true }));
    page.resolve(json({ messages: [message(7, "seven")], hasMore: false }));
    await loading;
    expect(room.messages.map((m) => m.seq)).toEqual([49, 50]);
    expect(room.hasMore).toBe(true);
  });

  it("a failed page shows why, and keeps the messages", async () => {
    const { room } = await openedRoom(snapshot(10, { hasMore: true }), () => errorReply(500, "internal", "History is down"));
    await room.loadOlder();
    expect(room.olderError).toBe("History is down");
    expect(room.messages.map((m) => m.seq)).toEqual([9, 10]);
    expect(room.loadingOlder).toBe(false);
  });
});

describe("RoomState: my read mark (ReadState)", () => {
  it("my read shows at once; an older receipt of mine still on its way does not undo it, a confirming one settles it", () => {
    const room = roomAt(snapshot(10, { receipts: [{ userId: ME, username: "me", upTo: 5 }] }));
    room.reads.advance(ME, "me", 8);
    expect(room.reads.readSeq).toBe(8);
    room.applyReceipts([{ userId: ME, username: "me", upTo: 6 }]);
    expect(room.reads.readSeq).toBe(8);
    room.applyReceipts([{ userId: ME, username: "me", upTo: 8 }]);
    expect(room.reads.readSeq).toBe(8);
    // Confirmed: now a lower receipt is a real move back (mark unread in another tab).
    room.applyReceipts([{ userId: ME, username: "me", upTo: 6 }]);
    expect(room.reads.readSeq).toBe(6);
  });

  it("a lower receipt of mine that comes long after my read is the room's word (another tab marked unread)", () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const room = roomAt(snapshot(10, { receipts: [{ userId: ME, username: "me", upTo: 5 }] }));
    room.reads.advance(ME, "me", 9);
    vi.advanceTimersByTime(3_500);
    room.applyReceipts([{ userId: ME, username: "me", upTo: 7 }]);
    expect(room.reads.readSeq).toBe(7);
  });

  it("after allowBack (my own mark unread), the receipt that answers it moves my cursor back at once", () => {
    const room = roomAt(snapshot(10, { receipts: [{ userId: ME, username: "me", upTo: 5 }] }));
    room.reads.advance(ME, "me", 9);
    room.reads.allowBack();
    room.applyReceipts([{ userId: ME, username: "me", upTo: 3 }]);
    expect(room.reads.readSeq).toBe(3);
  });

  it("a read of mine that failed is retracted: the cursor the room confirmed shows again", () => {
    const room = roomAt(snapshot(10, { receipts: [{ userId: ME, username: "me", upTo: 5 }] }));
    room.reads.advance(ME, "me", 9);
    room.reads.retract(9);
    expect(room.reads.readSeq).toBe(5);
  });
});

describe("RoomState.unreadItems", () => {
  it("lists others' messages (not deleted) and files above my mark, ascending; says where loaded history starts", () => {
    const room = roomAt(
      snapshot(20, {
        messages: [message(12, "read already"), message(14, "mine", ME), message(15, "gone", ALICE, { text: null }), message(16, "new")],
        files: [file("f-mine", 17, ME), file("f-new", 18), file("f-old", 11)],
        receipts: [{ userId: ME, username: "me", upTo: 13 }],
        hasMore: true,
      }),
    );
    expect(room.unreadItems()).toEqual({ seqs: [16, 18], knownFrom: 12 });
    room.reads.advance(ME, "me", 16);
    expect(room.unreadItems().seqs).toEqual([18]);
  });
});

describe("RoomState.reading: reading marks read over HTTP", () => {
  it("sends POST /read with the seq seen, shows it at once, and takes the room's answer", async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const path = String(input);
        if (path === `/api/rooms/${ROOM}`) return json(snapshot(10, { receipts: [{ userId: ME, username: "me", upTo: 8 }] }));
        bodies.push({ path, method: init?.method, body: JSON.parse(String(init?.body)) });
        return json({ readSeq: 10, unread: 0, changed: true });
      }),
    );
    onTestFinished(() => void vi.unstubAllGlobals());
    const room = newRoom();
    await room.open(ROOM);
    expect(room.reads.isUnread(10, ALICE)).toBe(true);
    room.reading.enable();
    room.reading.setAttentive(true);
    room.reading.show(10, "timeline");
    await vi.waitFor(() => expect(room.reads.readSeq).toBe(10));
    await vi.waitFor(() => expect(bodies).toEqual([{ path: `/api/rooms/${ROOM}/read`, method: "POST", body: { seq: 10 } }]));
    // Opening another room starts reading over (not placed yet).
    void room.open("room-2");
    expect(room.reading.state).toBe("off");
  });
});

describe("UnreadDivider", () => {
  const rowsOf = (messages: Message[], files: FileInfo[] = []) => messageRows({ messages, hasMore: false, files, pending: [], me: ME });

  it("is placed once per visit above the first unread item, and stays there as reads and messages come", () => {
    const divider = new UnreadDivider();
    divider.place(10, true);
    divider.place(14, true);
    divider.arrived(15);
    expect(divider.after).toBe(10);
    const rows = rowsOf([message(9, "old"), message(11, "mine", ME), message(12, "deleted", ALICE, { text: null }), message(13, "first new")]);
    expect(dividerRow(rows, divider.after, ME)).toBe(13);
    // Older pages or a file before it: the row is found again by seq.
    expect(dividerRow(rowsOf([message(13, "first new")], [file("f", 11)]), 10, ME)).toBe(11);
  });

  it("without unread on opening there is none, until something arrives that is not read at once", () => {
    const divider = new UnreadDivider();
    divider.place(10, false);
    expect(divider.after).toBeNull();
    expect(dividerRow(rowsOf([message(11, "new")]), divider.after, ME)).toBeUndefined();
    divider.arrived(10);
    expect(divider.after).toBe(10);
  });

  it("mark unread places it anew, mark all read takes it away, leaving forgets it", () => {
    const divider = new UnreadDivider();
    divider.place(10, true);
    divider.unreadFrom(5);
    expect(divider.after).toBe(4);
    divider.clear();
    expect(divider.after).toBeNull();
    divider.reset();
    expect(divider.placed).toBe(false);
    divider.place(20, true);
    expect(divider.after).toBe(20);
  });
});
