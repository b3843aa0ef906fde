/**
 * Comments on files (issue #16 item 2): a file's comments are the thread on
 * its timeline entry — messages whose `threadOf` is the file's id, kept by
 * the room like replies — with `GET/POST /api/files/:id/comments`, the
 * `file_comment_added` / `file_comment_removed` events, a live count in the
 * files list, idempotence by client id, and U10's comment on another room's file.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type FileComments, type FilesPage, type HistoryPage, mentionToken as at, type RoomEvent, type SendResult } from "#protocol";
import type { Room } from "../../worker/room";
import { addMember, call, createRoom, errorOf, register, roomWithTwo, seedMembers, sendText, type TestUser, uploadText } from "./helpers";
import { costOf } from "./meters";
import { TestSocket } from "./socket";

const comment = (u: TestUser, fileId: string, text: string, clientId: string = crypto.randomUUID()) =>
  call(`/api/files/${fileId}/comments`, { cookie: u.cookie, json: { clientId, text } });
async function commented(u: TestUser, fileId: string, text: string): Promise<SendResult> {
  const res = await comment(u, fileId, text);
  if (res.status !== 201) throw new Error(`comment: ${res.status} ${await res.text()}`);
  return res.json();
}
const comments = async (u: TestUser, fileId: string, q = "") => {
  const res = await call(`/api/files/${fileId}/comments${q}`, { cookie: u.cookie });
  if (res.status !== 200) throw new Error(`comments: ${res.status} ${await res.text()}`);
  return res.json<FileComments>();
};
const listed = async (u: TestUser, roomId: string) => (await (await call(`/api/rooms/${roomId}/files`, { cookie: u.cookie })).json<FilesPage>()).files;
const unreadOf = (roomId: string, u: TestUser) =>
  runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => r.membersList().find((m) => m.userId === u.id)?.unread);
const messageRows = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) => s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one().n);
const history = async (u: TestUser, roomId: string) => (await (await call(`/api/rooms/${roomId}/messages`, { cookie: u.cookie })).json<HistoryPage>()).messages;

async function roomOfThree() {
  const { roomId, alice, bob } = await roomWithTwo();
  const carol = await register();
  await addMember(alice, roomId, carol);
  return { roomId, alice, bob, carol };
}

describe("comments on a file", () => {
  it("are stored as the file's thread: listed oldest first, announced live (message + file_comment_added with the count), kept out of the main history", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const file = await uploadText(roomId, alice, "the plan", "plan.txt");
    const watcher = await TestSocket.open(roomId, alice);
    const c1 = await commented(bob, file.file_id, "looks good");
    expect(c1.message).toMatchObject({ threadOf: file.file_id, text: "looks good", userId: bob.id });
    await watcher.waitFor((f) => f.type === "file_comment_added");
    const added = watcher.events().filter((e) => e.type === "file_comment_added");
    expect(added).toEqual([expect.objectContaining({ fileId: file.file_id, messageId: c1.message.id, commentCount: 1, lastCommentAt: c1.message.createdAt })]);
    expect(watcher.events().some((e) => e.type === "message" && e.message.id === c1.message.id)).toBe(true);
    const c2 = await commented(alice, file.file_id, "thanks!");

    const page = await comments(bob, file.file_id);
    expect(page.messages.map((m) => m.text)).toEqual(["looks good", "thanks!"]);
    expect(page.file).toMatchObject({ file_id: file.file_id, filename: "plan.txt", comments: 2 });
    expect(page.hasMore).toBe(false);
    const after = await comments(bob, file.file_id, `?after=${c1.seq}&limit=1`);
    expect(after.messages.map((m) => m.id)).toEqual([c2.message.id]);

    expect((await listed(bob, roomId)).find((f) => f.file_id === file.file_id)?.comments).toBe(2);
    expect(await history(bob, roomId)).toEqual([]);
    watcher.close();
  });

  it("are idempotent by client id: a retry answers the stored comment (200) and stores nothing more", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const file = await uploadText(roomId, alice, "x");
    const clientId = crypto.randomUUID();
    const first = await comment(bob, file.file_id, "once", clientId);
    expect(first.status).toBe(201);
    const rows = await messageRows(roomId);
    const again = await comment(bob, file.file_id, "once", clientId);
    expect(again.status).toBe(200);
    const [a, b] = [await first.json<SendResult>(), await again.json<SendResult>()];
    expect(b).toMatchObject({ duplicate: true, message: { id: a.message.id } });
    expect(await messageRows(roomId)).toBe(rows);
    expect((await comments(alice, file.file_id)).file.comments).toBe(1);
  });

  it("count as unread like thread replies: for the uploader, earlier commenters and the mentioned, not for the rest of the room", async () => {
    const { roomId, alice, bob, carol } = await roomOfThree();
    const file = await uploadText(roomId, alice, "x");
    const [dave, erin] = [await register(), await register()];
    await addMember(alice, roomId, dave);
    await addMember(alice, roomId, erin);
    const all = [alice, bob, dave, erin];
    const now = () => Promise.all(all.map((u) => unreadOf(roomId, u)));
    await commented(bob, file.file_id, "first"); // counts for alice (the uploader); bob, posting, has read what came before
    const base = await now();
    await commented(carol, file.file_id, `and ${at(dave.id)}`); // alice, bob (commented before), dave (mentioned); not erin
    const expected = [base[0]! + 1, base[1]! + 1, base[2]! + 1, base[3]];
    expect(await now()).toEqual(expected);
    // The same numbers derived afresh from storage (a woken object).
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect(await now()).toEqual(expected);
  });

  it("a deleted comment lowers the count (file_comment_removed); deleting the file erases its comments and their unread items", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const file = await uploadText(roomId, alice, "x");
    const c1 = await commented(bob, file.file_id, "one");
    await commented(bob, file.file_id, "two");
    const watcher = await TestSocket.open(roomId, alice);
    const del = await call(`/api/rooms/${roomId}/messages/${c1.message.id}`, { method: "DELETE", cookie: bob.cookie });
    expect(del.status).toBeLessThan(300);
    await watcher.waitFor((f) => f.type === "file_comment_removed");
    expect(watcher.events().find((e) => e.type === "file_comment_removed")).toMatchObject({ fileId: file.file_id, messageId: c1.message.id, commentCount: 1 });
    expect((await listed(alice, roomId))[0]?.comments).toBe(1);
    const before = await unreadOf(roomId, alice);

    expect((await call(`/api/files/${file.file_id}`, { method: "DELETE", cookie: alice.cookie })).status).toBe(204);
    // alice's unread drops by the file's item (her own: not counted) and the live comment.
    expect(await unreadOf(roomId, alice)).toBe(before! - 1);
    const texts = await runInDurableObject(env.ROOM.getByName(roomId), (_r, s) =>
      s.storage.sql.exec<{ text: string | null }>("SELECT text FROM messages WHERE thread_of = ?", file.file_id).toArray().map((r) => r.text),
    );
    expect(texts).toEqual([null, null]);
    expect((await comments(alice, file.file_id).catch((e: Error) => e.message)).toString()).toMatch(/^comments: 404/);
    expect((await comment(bob, file.file_id, "too late")).status).toBe(404);
    watcher.close();
  });

  it("bad input is a 400 with a message and stores nothing", async () => {
    const { roomId, alice } = await roomWithTwo();
    const file = await uploadText(roomId, alice, "x");
    const rows = await messageRows(roomId);
    for (const json of [{ clientId: "nope", text: "hi" }, { clientId: crypto.randomUUID(), text: "" }, { clientId: crypto.randomUUID(), text: "a\u0000b" }, {}]) {
      const res = await call(`/api/files/${file.file_id}/comments`, { cookie: alice.cookie, json });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toBeTruthy();
    }
    expect(await messageRows(roomId)).toBe(rows);
  });
});

describe("U10 comments", () => {
  it("U10 a comment on another room's file is refused (403 by its path, 404 as a reply in my room) and nothing is stored", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const mallory = await register();
    const own = await createRoom(mallory);
    const file = await uploadText(roomId, alice, "private");
    const mine = await messageRows(own.id);
    const theirs = await messageRows(roomId);
    const byPath = await comment(mallory, file.file_id, "let me in");
    expect(byPath.status).toBe(403);
    expect((await call(`/api/files/${file.file_id}/comments`, { cookie: mallory.cookie })).status).toBe(403);
    // The file's id as a thread in a room of mallory's own: that room has no such file.
    const asReply = await call(`/api/rooms/${own.id}/messages`, { cookie: mallory.cookie, json: { clientId: crypto.randomUUID(), text: "sneaky", threadOf: file.file_id } });
    expect(asReply.status).toBe(404);
    expect(await messageRows(own.id)).toBe(mine);
    expect(await messageRows(roomId)).toBe(theirs);
    expect((await comments(bob, file.file_id)).messages).toEqual([]);
  });

  it("U10 a comment on an unknown file is a 404", async () => {
    const alice = await register();
    expect((await comment(alice, crypto.randomUUID(), "hello?")).status).toBe(404);
  });
});

describe("comments in the log", () => {
  it("replay after a seq carries the comment's message and file_comment_added in order", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const file = await uploadText(roomId, alice, "x");
    const { seq } = await sendText(roomId, alice, "before");
    await commented(bob, file.file_id, "late");
    const res = await call(`/api/rooms/${roomId}/events?after=${seq}`, { cookie: alice.cookie });
    const { events } = await res.json<{ events: RoomEvent[] }>();
    expect(events.map((e) => e.type)).toEqual(["message", "file_comment_added"]);
  });
});

describe("cost of a comment", () => {
  it.each([10, 1000])("in a room of %i members: a reply's rows (3 more than a top-level message), whatever the room's size", async (n) => {
    const owner = await register();
    const room = await createRoom(owner);
    await seedMembers(room.id, n - 1);
    const file = await uploadText(room.id, owner, "x");
    const eventRows = () => runInDurableObject(env.ROOM.getByName(room.id), (_r, s) => s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events").one().n);
    let pruned = 0;
    const act = (fn: () => Promise<Response>, events: number) => async () => {
      const before = await eventRows();
      expect((await fn()).status).toBe(201);
      pruned = before + events - (await eventRows());
    };
    const top = await costOf(room.id, act(() => call(`/api/rooms/${room.id}/messages`, { cookie: owner.cookie, json: { clientId: crypto.randomUUID(), text: "top" } }), 0));
    const topPruned = pruned;
    const c = await costOf(room.id, act(() => comment(owner, file.file_id, "a comment"), 1));
    // The file's row (its count), the thread index entry, the file_comment_added event; the uploader needs no participant row.
    expect(c.total).toBe(top.total - topPruned + 3 + pruned);
    expect(c.hubRows).toBe(0);
  });
});
