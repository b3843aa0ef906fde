/** The search box's state (app/lib/search.svelte.ts): pause before asking, latest query wins, errors shown. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SearchHit, SearchReply } from "#protocol";
import { ApiError } from "#lib/http.ts";
import { MessageSearch, type SearchFetch } from "#lib/search.svelte.ts";

const hit = (q: string, roomId = "r1"): SearchHit => ({
  roomId,
  seq: 1,
  messageId: `m-${q}`,
  userId: "u",
  username: "ann",
  createdAt: 1,
  snippet: q,
  parts: [{ text: q, hit: true }],
});

/** A fetcher whose answers the test releases, recording what was asked. */
function controlled() {
  const calls: { q: string; room: string | null; signal: AbortSignal; resolve: (r: SearchReply) => void; reject: (e: unknown) => void }[] = [];
  const fetcher: SearchFetch = (q, room, signal) =>
    new Promise<SearchReply>((resolve, reject) => {
      calls.push({ q, room, signal, resolve, reject });
    });
  return { calls, fetcher };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("MessageSearch", () => {
  it("asks once after the typing pauses, with the last text", async () => {
    const { calls, fetcher } = controlled();
    const s = new MessageSearch(fetcher, 250);
    s.input("r");
    s.input("re");
    s.input("rep");
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => [c.q, c.room])).toEqual([["rep", null]]);
    expect(s.status).toBe("loading");
    calls[0]!.resolve({ hits: [hit("rep")], partial: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.status).toBe("done");
    expect(s.hits.map((h) => h.messageId)).toEqual(["m-rep"]);
  });

  it("a newer query aborts the older one; a late answer of the older one is ignored", async () => {
    const { calls, fetcher } = controlled();
    const s = new MessageSearch(fetcher, 10);
    s.input("old");
    await vi.advanceTimersByTimeAsync(10);
    s.input("new");
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[0]!.signal.aborted).toBe(true);
    calls[1]!.resolve({ hits: [hit("new")], partial: false });
    calls[0]!.resolve({ hits: [hit("old")], partial: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.hits.map((h) => h.messageId)).toEqual(["m-new"]);
  });

  it("blank text clears the results without asking; a refusal shows the server's message", async () => {
    const { calls, fetcher } = controlled();
    const s = new MessageSearch(fetcher, 10);
    s.input("   ");
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toHaveLength(0);
    expect(s.status).toBe("idle");
    s.input("!!!");
    await vi.advanceTimersByTimeAsync(10);
    calls[0]!.reject(new ApiError(400, "bad_request", "Search for at least one word (letters or digits)"));
    await vi.advanceTimersByTimeAsync(0);
    expect(s.status).toBe("error");
    expect(s.error).toBe("Search for at least one word (letters or digits)");
  });

  it("changing the scope searches again at once, in that room", async () => {
    const { calls, fetcher } = controlled();
    const s = new MessageSearch(fetcher, 10);
    s.input("plan");
    await vi.advanceTimersByTimeAsync(10);
    s.scope("room-7");
    expect(calls.map((c) => [c.q, c.room])).toEqual([
      ["plan", null],
      ["plan", "room-7"],
    ]);
    s.dispose();
    expect(calls[1]!.signal.aborted).toBe(true);
  });
});
