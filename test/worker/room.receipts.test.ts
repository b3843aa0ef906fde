/**
 * R16 — receipts keep the replay window. Read and mark-unread are cursor
 * moves, not log events: toggling them in a loop is rate-limited and never
 * pushes real messages out of the window; a resuming socket gets the
 * receipts that moved since its `after` in one `receipts` frame.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { REPLAY_WINDOW } from "#protocol";
import type { Room } from "../../worker/room";
import { call, roomWithTwo } from "./helpers";
import { TestSocket } from "./socket";
import { roomRates } from "../../worker/lib/limits";

/** The read limit this build runs with ([vars] RATE_READ). */
const RATE = roomRates(env).read;

const head = (roomId: string) => runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => r.log.head());

describe("R16 read / mark-unread in a loop", () => {
  it("is rate-limited, writes no log event, and real messages stay replayable", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const first = await (await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "real 1" } })).json<{ seq: number }>();
    const second = await (await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "real 2" } })).json<{ seq: number }>();
    const before = await head(roomId);
    const b = await TestSocket.open(roomId, bob);
    const toggles = 1200;
    for (let i = 0; i < toggles; i++) b.send(i % 2 === 0 ? { type: "read", seq: second.seq } : { type: "mark_unread", seq: second.seq });
    await b.until(() => b.frames.filter((f) => f.type === "error").length >= toggles - RATE.count * 4, "the refusals", 20_000);
    const refused = b.frames.filter((f) => f.type === "error");
    expect(refused.every((f) => f.type === "error" && f.code === "rate_limited" && (f.retryAfter ?? 0) >= 1)).toBe(true);
    // Not one of them became a log event.
    expect(await head(roomId)).toBe(before);
    expect(toggles).toBeGreaterThan(REPLAY_WINDOW);
    // A client that resumes from just before the last message still gets it replayed, not a resync.
    const late = await TestSocket.open(roomId, alice, first.seq);
    expect(late.frames.some((f) => f.type === "resync_required")).toBe(false);
    expect(late.messageTexts()).toEqual(["real 2"]);
    late.close();
    b.close();
  });

  it("over HTTP the same limit answers 429 with Retry-After, and nothing changes", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { seq } = await (await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "m" } })).json<{ seq: number }>();
    const answers: Response[] = [];
    for (let i = 0; i < RATE.count + 5; i++) answers.push(await call(`/api/rooms/${roomId}/${i % 2 ? "unread" : "read"}`, { cookie: bob.cookie, json: { seq } }));
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect((await limited[0]!.json<{ error: { code: string } }>()).error.code).toBe("rate_limited");
  });

  it("a resuming socket gets the receipts that moved since its position, before live", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { seq } = await (await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "seen?" } })).json<{ seq: number }>();
    const a = await TestSocket.open(roomId, alice);
    const all = a.frames.find((f) => f.type === "receipts");
    expect(all?.type === "receipts" && all.receipts.map((r) => r.userId).sort()).toEqual([alice.id, bob.id].sort());
    a.close();
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq } });
    const resumed = await TestSocket.open(roomId, alice, seq);
    const types = resumed.frames.map((f) => f.type);
    expect(types.indexOf("receipts")).toBeLessThan(types.indexOf("live"));
    const moved = resumed.frames.find((f) => f.type === "receipts");
    expect(moved?.type === "receipts" && moved.receipts).toEqual([{ userId: bob.id, username: bob.username, upTo: seq }]);
    resumed.close();
  });

  it("a recount reads only what lies after the cursor", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const seqs: number[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: `m${i}` } });
      seqs.push((await r.json<{ seq: number }>()).seq);
    }
    await runInDurableObject(env.ROOM.getByName(roomId), (r: Room) => {
      r.meterReset();
      // Mark read near the head: counting what lies after it must not scan the 15 messages before.
      r.members.moveCursor(bob.id, seqs[13]!, false);
      return r.meterReading();
    }).then((m) => expect(m.rowsRead).toBeLessThan(8));
  });
});
