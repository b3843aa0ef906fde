/** One open thread (app/lib/thread.svelte.ts): paging in, live events, replies with a client id. */
import { describe, expect, it } from "vitest";
import type { HistoryPage, Message, RoomEvent, SendResult } from "#protocol";
import { ApiError } from "#lib/http.ts";
import { ThreadState } from "#lib/thread.svelte.ts";

const msg = (seq: number, over: Partial<Message> = {}): Message => ({
  id: `m${seq}`,
  seq,
  userId: "u1",
  username: "ann",
  clientId: `c${seq}`,
  text: `reply ${seq}`,
  createdAt: seq * 1000,
  editedAt: null,
  deletedAt: null,
  threadOf: "p",
  ...over,
});
const parent = msg(1, { id: "p", threadOf: null, text: "the question", replyCount: 0, lastReplyAt: null });

function thread(pages: HistoryPage[], post?: (clientId: string, text: string) => Promise<SendResult>) {
  const asked: number[] = [];
  const t = new ThreadState(
    "room",
    "p",
    async (after) => {
      asked.push(after);
      return pages.shift() ?? { messages: [], hasMore: false, parent };
    },
    post ?? (async () => Promise.reject(new Error("no post"))),
  );
  return { t, asked };
}

describe("ThreadState", () => {
  it("pages the whole thread in, oldest first, and keeps the parent", async () => {
    const { t, asked } = thread([
      { messages: [msg(2), msg(3)], hasMore: true, parent },
      { messages: [msg(5)], hasMore: false, parent },
    ]);
    await t.load();
    expect(asked).toEqual([0, 3]);
    expect(t.status).toBe("ready");
    expect(t.parent?.text).toBe("the question");
    expect(t.replies.map((r) => r.seq)).toEqual([2, 3, 5]);
  });

  it("applies only its own replies and their changes; thread_updated sets the parent's counts", async () => {
    const { t } = thread([{ messages: [msg(2)], hasMore: false, parent }]);
    await t.load();
    const events: RoomEvent[] = [
      { type: "message", seq: 6, ts: 6, message: msg(6) },
      { type: "message", seq: 7, ts: 7, message: msg(7, { threadOf: "other" }) },
      { type: "message", seq: 8, ts: 8, message: msg(8, { threadOf: null }) },
      { type: "thread_updated", seq: 9, ts: 9, messageId: "p", replyCount: 2, lastReplyAt: 6000 },
      { type: "message_edited", seq: 10, ts: 10, message: msg(2, { text: "edited", editedAt: 10 }) },
      { type: "reaction_added", seq: 11, ts: 11, messageId: "m6", emoji: "👍", userId: "u2" },
      { type: "message_deleted", seq: 12, ts: 12, messageId: "m2", userId: "u1" },
    ];
    for (const e of events) t.apply(e);
    expect(t.replies.map((r) => [r.seq, r.text])).toEqual([
      [2, null],
      [6, "reply 6"],
    ]);
    expect(t.replies[1]!.reactions).toEqual([{ emoji: "👍", count: 1, userIds: ["u2"] }]);
    expect(t.parent).toMatchObject({ replyCount: 2, lastReplyAt: 6000 });
  });

  it("a reply shows pending, then once — whether the answer or the socket's event comes first", async () => {
    let release: (r: SendResult) => void = () => {};
    const { t } = thread([], (clientId, text) => new Promise((resolve) => (release = resolve)).then(() => ({ message: msg(20, { clientId, text }), seq: 20, duplicate: false })));
    await t.load();
    const sent = t.send("my answer", "client-1");
    expect(t.pending).toEqual([{ clientId: "client-1", text: "my answer", error: null }]);
    t.apply({ type: "message", seq: 20, ts: 20, message: msg(20, { clientId: "client-1", text: "my answer" }) });
    expect(t.pending).toEqual([]);
    release({ message: msg(20), seq: 20, duplicate: false });
    await sent;
    expect(t.replies.filter((r) => r.seq === 20)).toHaveLength(1);
  });

  it("a refused reply stays with its error; Retry sends the same client id; Discard drops it", async () => {
    const calls: string[] = [];
    let fail = true;
    const { t } = thread([], async (clientId, text) => {
      calls.push(clientId);
      if (fail) throw new ApiError(429, "rate_limited", "Slow down: try again in 2 s", 2);
      return { message: msg(30, { clientId, text }), seq: 30, duplicate: false };
    });
    await t.load();
    await t.send("again?", "client-2");
    expect(t.pending).toEqual([{ clientId: "client-2", text: "again?", error: "Slow down: try again in 2 s" }]);
    fail = false;
    await t.retry("client-2");
    expect(calls).toEqual(["client-2", "client-2"]);
    expect(t.pending).toEqual([]);
    expect(t.replies.map((r) => r.text)).toEqual(["again?"]);

    fail = true;
    await t.send("drop me", "client-3");
    t.discard("client-3");
    expect(t.pending).toEqual([]);
  });
});
