/**
 * Unit tests of the room's modules (room/log.ts, room/members.ts,
 * room/pushes.ts, room/activity.ts, lib/rate.ts, lib/sql-migrations.ts),
 * run inside a real Room object through `runInDurableObject`.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TokenBuckets } from "../../worker/lib/rate";
import { migrate } from "../../worker/lib/sql-migrations";
import { REPLAY_WINDOW } from "#protocol";
import type { Room } from "../../worker/room";
import { Activities } from "../../worker/room/activity";
import { ROOM_MIGRATIONS } from "../../worker/room/schema";
import { call, roomWithTwo } from "./helpers";

const stubOf = (roomId: string) => env.ROOM.getByName(roomId);
const send = (roomId: string, cookie: string, text: string) =>
  call(`/api/rooms/${roomId}/messages`, { cookie, json: { clientId: crypto.randomUUID(), text } }).then((r) => r.json<{ seq: number; message: { id: string } }>());

describe("EventLog", () => {
  it("replays messages (from their rows) and other events (from the log) as one contiguous sequence", async () => {
    const { roomId, alice } = await roomWithTwo();
    const m = await send(roomId, alice.cookie, "one");
    await call(`/api/rooms/${roomId}/messages/${m.message.id}`, { cookie: alice.cookie, method: "PATCH", json: { text: "one, edited" } });
    await send(roomId, alice.cookie, "two");
    const replay = await runInDurableObject(stubOf(roomId), (r: Room) => r.log.eventsAfter(0));
    expect(replay.ok).toBe(true);
    if (!replay.ok) return;
    expect(replay.events.map((e) => e.seq)).toEqual(replay.events.map((_, i) => i + 1));
    expect(replay.events.map((e) => e.type)).toEqual(["member_joined", "member_joined", "message", "message_edited", "message"]);
    // A replayed message is its current row: the edit is already in it.
    const first = replay.events[2]!;
    expect(first.type === "message" && first.message.text).toBe("one, edited");
  });

  it("answers resync_required beyond the window or ahead of head, and prunes old non-message events", async () => {
    const { roomId } = await roomWithTwo();
    const res = await runInDurableObject(stubOf(roomId), (r: Room, s) => {
      s.storage.transactionSync(() => {
        for (let i = 0; i < REPLAY_WINDOW + 10; i++) r.log.append({ type: "room_renamed", name: `n${i}` }, Date.now());
      });
      const head = r.log.head();
      const kept = Number(s.storage.sql.exec("SELECT COUNT(*) AS n FROM events").one().n);
      return { head, kept, old: r.log.eventsAfter(1), edge: r.log.eventsAfter(head - REPLAY_WINDOW), ahead: r.log.eventsAfter(head + 1) };
    });
    expect(res.kept).toBeLessThanOrEqual(REPLAY_WINDOW);
    expect(res.old).toMatchObject({ ok: false, code: "resync_required" });
    expect(res.ahead).toMatchObject({ ok: false, code: "resync_required" });
    expect(res.edge.ok && res.edge.events.length).toBe(REPLAY_WINDOW);
  });
});

describe("Members", () => {
  it("counts rebuilt from storage after a wake equal the counts kept in memory", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const seqs: number[] = [];
    for (const t of ["a", "b", "c", "d"]) seqs.push((await send(roomId, alice.cookie, t)).seq);
    await call(`/api/rooms/${roomId}/read`, { cookie: bob.cookie, json: { seq: seqs[1] } });
    await send(roomId, bob.cookie, "reply");
    const live = await runInDurableObject(stubOf(roomId), (r: Room) => r.membersList());
    await evictDurableObject(stubOf(roomId));
    const rebuilt = await runInDurableObject(stubOf(roomId), (r: Room) => r.membersList());
    expect(rebuilt).toEqual(live);
    expect(live.find((m) => m.userId === alice.id)?.unread).toBe(1);
    expect(live.find((m) => m.userId === bob.id)?.unread).toBe(0);
  });

  it("a cursor moves forward only, unless explicitly back; versions only grow", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = (await send(roomId, alice.cookie, "a")).seq;
    const b = (await send(roomId, alice.cookie, "b")).seq;
    const res = await runInDurableObject(stubOf(roomId), (r: Room) => {
      const v0 = r.members.version(r.members.get(bob.id)!);
      const forward = r.members.moveCursor(bob.id, b, false);
      const v1 = r.members.version(r.members.get(bob.id)!);
      const backwardRefused = r.members.moveCursor(bob.id, a, false);
      const back = r.members.moveCursor(bob.id, a - 1, true);
      const v2 = r.members.version(r.members.get(bob.id)!);
      return { forward, backwardRefused, back, unread: r.members.get(bob.id)!.unread, grows: v0 < v1 && v1 < v2 };
    });
    expect(res).toEqual({ forward: true, backwardRefused: false, back: true, unread: 2, grows: true });
  });
});

describe("Pushes", () => {
  it("a fresh instance whose pushed version lags the room's pushes every member again", async () => {
    const { roomId, alice } = await roomWithTwo();
    await send(roomId, alice.cookie, "x");
    await expect.poll(() => runInDurableObject(stubOf(roomId), (r: Room) => r.pushes.busy)).toBe(false);
    // As if the instance had crashed between a commit and its push.
    await runInDurableObject(stubOf(roomId), (_r, s) => s.storage.sql.exec("UPDATE meta SET value = 0 WHERE key = 'pushed_version'"));
    await evictDurableObject(stubOf(roomId));
    const calls = await runInDurableObject(stubOf(roomId), (r: Room) => {
      r.membersList(); // first use after the wake
      return r.pushes.busy;
    });
    expect(calls).toBe(true);
    await expect.poll(() => runInDurableObject(stubOf(roomId), (r: Room) => r.pushes.busy)).toBe(false);
    const pushed = await runInDurableObject(stubOf(roomId), (r: Room, s) => ({
      stored: Number(s.storage.sql.exec("SELECT value FROM meta WHERE key = 'pushed_version'").one().value),
      want: r.members.maxVersion(),
    }));
    expect(pushed.stored).toBe(pushed.want);
  });
});

describe("Activities", () => {
  it("marks a member busy until an expiry, reports only the first set, clears one kind or all, and expires", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const res = await runInDurableObject(stubOf(roomId), (_r: Room, s) => {
      const a = new Activities(s.storage.sql);
      const t = 1_000;
      const first = a.set({ id: alice.id, username: alice.username }, "typing", t + 100);
      const again = a.set({ id: alice.id, username: alice.username }, "typing", t + 200);
      a.set({ id: alice.id, username: alice.username }, "uploading", t + 500);
      a.set({ id: bob.id, username: bob.username }, "typing", t + 50);
      const next = a.nextExpiry();
      const expired = a.expire(t + 60).map((x) => x.id);
      const clearedTyping = a.clear(alice.id, "typing").map((x) => x.activity);
      const left = a.current(t).map((x) => `${x.id === alice.id ? "alice" : "bob"}:${x.activity}`);
      const clearedAll = a.clear(alice.id).length;
      return { first, again, next, expired, clearedTyping, left, clearedAll, none: a.current(t).length };
    });
    expect(res).toEqual({ first: true, again: false, next: 1_050, expired: [bob.id], clearedTyping: ["typing"], left: ["alice:uploading"], clearedAll: 1, none: 0 });
  });
});

describe("TokenBuckets", () => {
  it("allows a burst, then refuses with the seconds to wait, then refills", () => {
    const b = new TokenBuckets({ burst: 3, perSecond: 1 });
    const t = 1_000_000;
    expect([b.take("u", t), b.take("u", t), b.take("u", t)]).toEqual([0, 0, 0]);
    expect(b.take("u", t)).toBe(1);
    expect(b.take("other", t)).toBe(0);
    expect(b.take("u", t + 1000)).toBe(0);
  });
});

describe("schema migrations", () => {
  it("are applied once each and recorded; running them again changes nothing", async () => {
    const { roomId } = await roomWithTwo();
    const res = await runInDurableObject(stubOf(roomId), (_r, s) => {
      const again = migrate(s.storage, s.storage.sql, ROOM_MIGRATIONS);
      const rows = s.storage.sql.exec<{ version: number }>("SELECT version FROM _migrations ORDER BY version").toArray().map((r) => r.version);
      const cols = s.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('members')").toArray().map((r) => r.name);
      return { again, rows, cols };
    });
    expect(res.again).toBe(ROOM_MIGRATIONS.length);
    expect(res.rows).toEqual(ROOM_MIGRATIONS.map((_, i) => i + 1));
    expect(res.cols).not.toContain("unread"); // counts are derived, not stored
  });
});
