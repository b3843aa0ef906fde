import "fake-indexeddb/auto";
import { createStore, set } from "idb-keyval";
import { describe, expect, it } from "vitest";
import { Outbox } from "../../app/lib/outbox.svelte.ts";
import { clearSavedOutboxes, savedOutbox } from "../../app/lib/outbox-store.ts";

let n = 0;
const ids = () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
/** A fresh IndexedDB store per test (fake-indexeddb, in memory). */
let dbs = 0;
const freshStore = () => createStore(`parley-test-${++dbs}`, "outbox");
/** Saves are fire-and-forget; a read through the same store is ordered after them. */
const outboxOf = async (store: ReturnType<typeof freshStore>, user: string, room: string) => {
  const box = new Outbox(() => {}, ids, savedOutbox(user, room, store));
  await box.restored;
  return box;
};

describe("R18 unsent messages survive a reload", () => {
  it("R18 a new outbox for the same user and room restores the entries, with their client ids and order", async () => {
    const store = freshStore();
    const before = new Outbox(() => {}, ids, savedOutbox("u1", "r1", store));
    const a = before.add("first");
    const b = before.add("second");
    before.update(b.clientId, { state: "failed", error: "Refused" });
    before.pause(a.clientId, 60_000);
    before.dispose();

    const after = await outboxOf(store, "u1", "r1");
    expect(after.entries.map((e) => [e.clientId, e.text, e.state, e.error])).toEqual([
      [a.clientId, "first", "pending", null],
      [b.clientId, "second", "failed", "Refused"],
    ]);
    // A rate-limit pause does not survive a reload: the pending one is sendable at once.
    expect(after.sendable().map((e) => e.clientId)).toEqual([a.clientId]);
    expect(after.unsent).toBe(true);
  });

  it("R18 a thread reply comes back with its thread (and a top-level message without one)", async () => {
    const store = freshStore();
    const before = new Outbox(() => {}, ids, savedOutbox("u1", "r1", store));
    const reply = before.add("in the thread", Date.now(), "m-5");
    const top = before.add("top level");
    const after = await outboxOf(store, "u1", "r1");
    expect(after.inThread("m-5").map((e) => e.clientId)).toEqual([reply.clientId]);
    expect(after.main.map((e) => e.clientId)).toEqual([top.clientId]);
    expect(after.get(top.clientId)?.threadOf).toBeUndefined();
  });

  it("R18 restored entries come before ones written meanwhile, and `restored` lists them", async () => {
    const store = freshStore();
    const first = new Outbox(() => {}, ids, savedOutbox("u1", "r1", store));
    const old = first.add("from the last page");
    await outboxOf(store, "u1", "r1"); // the save has landed
    const next = new Outbox(() => {}, ids, savedOutbox("u1", "r1", store));
    const fresh = next.add("typed at once");
    const back = await next.restored;
    expect(back.map((e) => e.clientId)).toEqual([old.clientId]);
    expect(next.entries.map((e) => e.text)).toEqual(["from the last page", "typed at once"]);
    expect(next.get(fresh.clientId)?.state).toBe("pending");
  });

  it("R18 entries leave storage when they settle or are discarded; other rooms and users are apart", async () => {
    const store = freshStore();
    const box = await outboxOf(store, "u1", "r1");
    (await outboxOf(store, "u2", "r1")).add("someone else's");
    const a = box.add("to be stored");
    const b = box.add("to be discarded");
    box.update(a.clientId, { ackedSeq: 7 });
    box.settle(7);
    box.remove(b.clientId);
    expect((await outboxOf(store, "u1", "r1")).entries).toEqual([]);
    expect((await outboxOf(store, "u1", "r2")).entries).toEqual([]);
    expect((await outboxOf(store, "u2", "r1")).entries.map((e) => e.text)).toEqual(["someone else's"]);
  });

  it("R18 junk in storage is ignored, not trusted; sign-out clears only that user's outboxes", async () => {
    const store = freshStore();
    await set("u1:r1", [{ clientId: "not-a-uuid", text: "x", createdAt: 1 }, { clientId: ids(), text: "", createdAt: 1 }, 42], store);
    await set("u1:r2", "not a list", store);
    expect((await outboxOf(store, "u1", "r1")).entries).toEqual([]);
    expect((await outboxOf(store, "u1", "r2")).entries).toEqual([]);
    (await outboxOf(store, "u1", "r3")).add("mine");
    (await outboxOf(store, "u2", "r3")).add("theirs");
    await clearSavedOutboxes("u1", store);
    expect((await outboxOf(store, "u1", "r3")).entries).toEqual([]);
    expect((await outboxOf(store, "u2", "r3")).entries.map((e) => e.text)).toEqual(["theirs"]);
  });
});
