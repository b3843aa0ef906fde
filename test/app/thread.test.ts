/** One open thread (app/lib/thread.svelte.ts): paging in, live events, replies with a client id. */
import { describe, expect, it, vi } from "vitest";
import type { FileComments, FileInfo, HistoryPage, Message, RoomEvent } from "#protocol";
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

function thread(pages: HistoryPage[]) {
  const asked: number[] = [];
  const t = new ThreadState(
    "room",
    "p",
    async (after) => {
      asked.push(after);
      return pages.shift() ?? { messages: [], hasMore: false, parent };
    },
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
});

describe("ThreadState for a file's comments", () => {
  const f: FileInfo = {
    file_id: "f1",
    room_id: "room",
    filename: "plan.txt",
    file_type: "text/plain",
    file_size: 4,
    uploaded_by: "ann",
    uploader_id: "u1",
    uploaded_at: 1,
    description: "",
    has_thumbnail: false,
    seq: 3,
  };
  const comment = (seq: number) => msg(seq, { threadOf: "f1", text: `comment ${seq}` });

  it("loads through the file's comments endpoint and follows the file's comment, version and deletion events", async () => {
    const urls: string[] = [];
    vi.stubGlobal("fetch", async (input: string) => {
      urls.push(input);
      const page: FileComments = { file: { ...f, comments: 1 }, messages: [comment(4)], hasMore: false };
      return new Response(JSON.stringify(page), { headers: { "Content-Type": "application/json" } });
    });
    try {
      const t = ThreadState.forFile("room", f);
      expect(t.file?.filename).toBe("plan.txt");
      await t.load();
      expect(urls).toEqual(["/api/files/f1/comments?after=0&limit=100"]);
      expect(t.file?.comments).toBe(1);
      const events: RoomEvent[] = [
        { type: "message", seq: 5, ts: 5, message: comment(5) },
        { type: "file_comment_added", seq: 6, ts: 6, fileId: "f1", messageId: "m5", commentCount: 2, lastCommentAt: 5000 },
        { type: "file_comment_added", seq: 7, ts: 7, fileId: "other", messageId: "x", commentCount: 9, lastCommentAt: 1 },
        { type: "file_version_added", seq: 8, ts: 8, file: { ...f, filename: "plan-v2.txt", version: 2, seq: 8 } },
      ];
      for (const e of events) t.apply(e);
      expect(t.replies.map((r) => r.seq)).toEqual([4, 5]);
      expect(t.file).toMatchObject({ filename: "plan-v2.txt", version: 2, comments: 2 });
      t.apply({ type: "file_comment_removed", seq: 9, ts: 9, fileId: "f1", messageId: "m4", commentCount: 1, lastCommentAt: 5000 });
      expect(t.file?.comments).toBe(1);
      expect(t.gone).toBe(false);
      t.apply({ type: "file_deleted", seq: 10, ts: 10, file_id: "f1", uploader_id: "u1" });
      expect(t.gone).toBe(true);
      expect(t.replies).toEqual([]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
