/**
 * Message search (issue #15 item 5): FTS5 in each room's SQLite, searched in
 * one room or across all of mine (`GET /api/search?q=&room=`), newest first
 * with marked snippets; edits and deletions keep the index in step; S13:
 * hostile queries give a typed 400 or a safe query, never a 500, and never
 * another room's text.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SearchReply } from "#protocol";
import type { Room } from "../../worker/room";
import { toFtsQuery } from "../../worker/lib/search-query";
import { INDEX_BATCH, snippetParts } from "../../worker/room/search";
import { ROOM_MIGRATIONS } from "../../worker/room/schema";
import { readMeters } from "./meters";
import { addMember, call, createRoom, errorOf, eventually, register, roomWithTwo, sendText, type TestUser } from "./helpers";

const search = (u: TestUser, q: string, room?: string) =>
  call(`/api/search?${new URLSearchParams(room ? { q, room } : { q })}`, { cookie: u.cookie });
const hits = async (u: TestUser, q: string, room?: string) => {
  const res = await search(u, q, room);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json<SearchReply>()).hits;
};

describe("search in a room and across my rooms", () => {
  it("finds words (any case, accents folded, the last word as a prefix), newest first, with the matches marked", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await sendText(roomId, alice, "The quarterly Report is late");
    await sendText(roomId, bob, "nothing to see here");
    const b = await sendText(roomId, bob, "Café report: ready for review");
    const found = await hits(alice, "REPORT", roomId);
    expect(found.map((h) => h.messageId)).toEqual([b.message.id, a.message.id]);
    expect(found[0]).toMatchObject({ roomId, seq: b.seq, userId: bob.id, username: bob.username, createdAt: b.message.createdAt });
    expect(found[0]!.snippet).toBe("Café report: ready for review");
    expect(found[0]!.parts).toEqual([
      { text: "Café ", hit: false },
      { text: "report", hit: true },
      { text: ": ready for review", hit: false },
    ]);
    expect((await hits(alice, "cafe", roomId)).map((h) => h.messageId)).toEqual([b.message.id]);
    expect((await hits(alice, "quarterly rep", roomId)).map((h) => h.messageId)).toEqual([a.message.id]);
    expect(await hits(alice, "quarterly review", roomId)).toEqual([]);
  });

  it("across rooms: only rooms I am in, merged newest first; a room I left is no longer searched", async () => {
    const alice = await register();
    const bob = await register();
    const mine = await createRoom(alice);
    const shared = await createRoom(bob);
    const notMine = await createRoom(bob);
    await addMember(bob, shared.id, alice);
    const m1 = await sendText(mine.id, alice, "launch plan v1");
    const m2 = await sendText(shared.id, bob, "launch plan v2");
    await sendText(notMine.id, bob, "launch plan secret");
    expect((await hits(alice, "launch")).map((h) => [h.roomId, h.messageId])).toEqual([
      [shared.id, m2.message.id],
      [mine.id, m1.message.id],
    ]);
    expect((await hits(bob, "launch")).map((h) => h.roomId).sort()).toEqual([shared.id, notMine.id].sort());
    // One room of someone else's: 403, as for every route of a room.
    expect((await errorOf(await search(alice, "launch", notMine.id))).status).toBe(403);
    expect((await errorOf(await search(alice, "launch", "no-such-room"))).status).toBe(404);
    await call(`/api/rooms/${shared.id}/members/${alice.id}`, { method: "DELETE", cookie: alice.cookie });
    expect((await hits(alice, "launch")).map((h) => h.roomId)).toEqual([mine.id]);
  });

  it("edits re-index; a deleted message is never found again, nor its words", async () => {
    const { roomId, alice } = await roomWithTwo();
    // Edited while waiting for its batch (the batch reads the text as it is then)…
    const early = await sendText(roomId, alice, "echo foxtrot");
    await call(`/api/rooms/${roomId}/messages/${early.message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "golf hotel" } });
    expect((await hits(alice, "golf", roomId)).map((h) => h.messageId)).toEqual([early.message.id]);
    expect(await hits(alice, "echo", roomId)).toEqual([]);
    // …and edited once indexed (the search above indexed everything): its entry is replaced.
    const m = await sendText(roomId, alice, "alpha bravo");
    expect((await hits(alice, "alpha", roomId)).length).toBe(1);
    await call(`/api/rooms/${roomId}/messages/${m.message.id}`, { method: "PATCH", cookie: alice.cookie, json: { text: "charlie delta" } });
    expect(await hits(alice, "alpha", roomId)).toEqual([]);
    expect((await hits(alice, "charlie", roomId)).map((h) => h.snippet)).toEqual(["charlie delta"]);
    await call(`/api/rooms/${roomId}/messages/${m.message.id}`, { method: "DELETE", cookie: alice.cookie });
    expect(await hits(alice, "charlie", roomId)).toEqual([]);
    // The words left the index itself, not only the results.
    const indexed = await runInDurableObject(env.ROOM.getByName(roomId), (_r: Room, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages_fts WHERE messages_fts MATCH 'charlie OR delta OR alpha'").one().n,
    );
    expect(indexed).toBe(0);
  });

  it("a room made before the index (migration 5) has its old messages indexed, and the index survives a restart", async () => {
    const { roomId, alice } = await roomWithTwo();
    await sendText(roomId, alice, "persistent words");
    await sendText(roomId, alice, "older room");
    // Undo migration 5 as if the room predated it, then run it again (what an old room gets on wake).
    await runInDurableObject(env.ROOM.getByName(roomId), (_r: Room, state) => {
      state.storage.sql.exec("DROP TABLE messages_fts");
      state.storage.sql.exec("DELETE FROM meta WHERE key = 'indexed_upto'");
      state.storage.sql.exec(ROOM_MIGRATIONS[4]!);
    });
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect((await hits(alice, "persistent", roomId)).length).toBe(1);
    expect((await hits(alice, "older", roomId)).length).toBe(1);
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect((await hits(alice, "persistent words", roomId)).length).toBe(1);
  });

  it(`indexes in batches of ${INDEX_BATCH}: a message writes the rows it wrote before the index, every ${INDEX_BATCH}th the batch's rows and the mark too; a search sees every message at once`, async () => {
    const { roomId, alice } = await roomWithTwo();
    const stub = env.ROOM.getByName(roomId);
    await eventually(async () => !(await readMeters(roomId)).busy, "pushes to settle");
    // Straight into the room's log (no rate limit, no pushes): what one message's write costs there.
    const rowsOf = (text: string) =>
      runInDurableObject(stub, (r: Room) => {
        const before = r.meter.read().rowsWritten;
        r.log.addMessage({ id: alice.id, username: alice.username }, crypto.randomUUID(), text, Date.now());
        return r.meter.read().rowsWritten - before;
      });
    const rows: number[] = [];
    for (let i = 0; i < INDEX_BATCH * 2; i++) rows.push(await rowsOf(`batch message ${i}`));
    const base = Math.min(...rows);
    // The message row and its index entries on every message; the batch (one index row per message,
    // counted as Cloudflare counts a virtual table's rows) and the mark on every INDEX_BATCH-th.
    expect(rows.filter((n) => n !== base)).toEqual([base + INDEX_BATCH + 1, base + INDEX_BATCH + 1]);
    expect(rows.indexOf(base + INDEX_BATCH + 1)).toBe(INDEX_BATCH - 1);
    // One more waits for the next batch; a search finds it anyway (it catches up first).
    expect(await rowsOf("straggler after the batches")).toBe(base);
    expect((await hits(alice, "straggler", roomId)).length).toBe(1);
    expect((await hits(alice, `message ${INDEX_BATCH * 2 - 1}`, roomId)).length).toBe(1);
  });
});

describe("S13 hostile search strings", () => {
  it("S13 FTS operators, quotes, *, ^, column filters and parentheses are plain words: never a 500, never another room's text", async () => {
    const { roomId, alice } = await roomWithTwo();
    const other = await roomWithTwo();
    await sendText(other.roomId, other.alice, "secret NEAR stuff OR anything");
    await sendText(roomId, alice, "plain text OR words");
    const nasty = [
      '"', '""', '"unterminated', "*", "**", "a*", "^start", "text:secret", "{text}: secret", "secret OR x", "NOT words",
      "a AND", "OR", "NEAR(secret stuff)", "(((", ")", "secret -words", "-", "+", "'; DROP TABLE messages; --", "rowid:1",
      "messages_fts", "x' OR '1'='1", "\\", "%", "_", "\u{1F600}", "ﬁle", "\u200b", "a\tb\nc",
    ];
    for (const q of nasty) {
      const res = await search(alice, q);
      expect([200, 400], `${JSON.stringify(q)} → ${res.status}`).toContain(res.status);
      if (res.status === 200) {
        const body = await res.json<SearchReply>();
        expect(body.hits.every((h) => h.roomId === roomId), JSON.stringify(q)).toBe(true);
      } else {
        expect(await errorOf(res)).toMatchObject({ status: 400, code: "bad_request" });
      }
    }
    // "OR" is a word here, not an operator: only messages containing the word "or" and "words" match.
    expect((await hits(alice, "OR words")).map((h) => h.snippet)).toEqual(["plain text OR words"]);
  });

  it("S13 NUL, 10 KB, lone surrogates, nothing searchable and missing q: a typed 400", async () => {
    const alice = await register();
    for (const q of ["a\u0000b", "x".repeat(10 * 1024), "\ud800", "", "   ", "!!!", "…", ["w"].concat(Array(20).fill("w")).join(" ")]) {
      const err = await errorOf(await search(alice, q));
      expect(err, JSON.stringify(q).slice(0, 40)).toMatchObject({ status: 400, code: "bad_request" });
      expect(err.message.length).toBeGreaterThan(5);
    }
    expect((await errorOf(await call("/api/search", { cookie: alice.cookie }))).status).toBe(400);
    expect((await call("/api/search?q=x")).status).toBe(401);
  });

  it("S13 the query builder quotes every word and keeps operators out (unit)", () => {
    expect(toFtsQuery('say "hi" OR NEAR(x) a*')).toEqual({ ok: true, match: '"say" "hi" "OR" "NEAR" "x" "a"*', terms: ["say", "hi", "OR", "NEAR", "x", "a"] });
    expect(toFtsQuery("ﬁle").ok && toFtsQuery("ﬁle")).toMatchObject({ terms: ["file"] });
    expect(snippetParts("\uE000a\uE001 b \uE000c\uE001")).toEqual([
      { text: "a", hit: true },
      { text: " b ", hit: false },
      { text: "c", hit: true },
    ]);
  });
});
