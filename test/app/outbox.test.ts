/**
 * The outbox of one room (app/lib/outbox.svelte.ts): my unsent messages, in
 * the order I wrote them, kept with their `clientId` until the room has them.
 * The actions the room socket takes are: add (send), ack (update `ackedSeq`
 * then settle), fail (update `state: "failed"`), retry (back to pending),
 * discard (remove), and pause on `rate_limited`.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { Outbox, type OutboxEntry } from "../../app/lib/outbox.svelte.ts";

/** An outbox with predictable ids (`id-1`, `id-2`, …) that records every resend; disposed after the test. */
function makeOutbox() {
  const resent: OutboxEntry[] = [];
  let n = 0;
  const box = new Outbox((entry) => resent.push(entry), () => `id-${++n}`);
  onTestFinished(() => box.dispose());
  return { box, resent };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Outbox: add", () => {
  it("queues a pending entry with a fresh client id, the text and the time, and it is sendable", () => {
    const { box } = makeOutbox();
    const entry = box.add("hello", 1_000);
    expect(entry).toEqual({
      clientId: "id-1",
      text: "hello",
      createdAt: 1_000,
      state: "pending",
      error: null,
      retryAt: null,
      ackedSeq: null,
    });
    expect(box.entries).toEqual([entry]);
    expect(box.get("id-1")).toEqual(entry);
    expect(box.sendable(1_000).map((e) => e.clientId)).toEqual(["id-1"]);
  });

  it("keeps entries in the order they were written, whatever happens to those in between", () => {
    const { box } = makeOutbox();
    for (const text of ["one", "two", "three", "four"]) box.add(text);
    box.update("id-2", { state: "failed", error: "nope" });
    box.update("id-3", { ackedSeq: 7 });
    box.update("id-2", { state: "pending", error: null });
    expect(box.entries.map((e) => e.text)).toEqual(["one", "two", "three", "four"]);
    expect(box.sendable().map((e) => e.text)).toEqual(["one", "two", "four"]);
  });

  it("uses crypto.randomUUID by default", () => {
    const box = new Outbox(() => {});
    onTestFinished(() => box.dispose());
    const a = box.add("a");
    const b = box.add("b");
    expect(a.clientId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.clientId).not.toBe(a.clientId);
  });
});

describe("Outbox: fail, retry, discard", () => {
  it("a failed entry carries its reason and is not resent until retried", () => {
    const { box } = makeOutbox();
    box.add("first");
    box.add("second");
    const failed = box.update("id-1", { state: "failed", error: "Message must not be empty" });
    expect(failed).toMatchObject({ clientId: "id-1", state: "failed", error: "Message must not be empty" });
    expect(box.get("id-1")?.state).toBe("failed");
    expect(box.sendable().map((e) => e.clientId)).toEqual(["id-2"]);
  });

  it("a retry keeps the same client id and text, so the server can recognise a resend", () => {
    const { box } = makeOutbox();
    const original = box.add("once only", 5);
    box.update(original.clientId, { state: "failed", error: "Network error" });
    const retried = box.update(original.clientId, { state: "pending", error: null, retryAt: null });
    expect(retried).toEqual({ ...original, state: "pending", error: null });
    expect(box.sendable()).toEqual([retried]);
    expect(box.entries).toHaveLength(1);
    // A second failure and retry: still the same entry, not a new one.
    box.update(original.clientId, { state: "failed", error: "again" });
    box.update(original.clientId, { state: "pending", error: null });
    expect(box.entries.map((e) => e.clientId)).toEqual(["id-1"]);
  });

  it("update of an unknown id changes nothing and returns undefined", () => {
    const { box } = makeOutbox();
    box.add("a");
    const before = box.entries;
    expect(box.update("nope", { state: "failed" })).toBeUndefined();
    expect(box.entries).toEqual(before);
  });

  it("discard drops only that entry and says whether it was there", () => {
    const { box } = makeOutbox();
    box.add("a");
    box.add("b");
    box.add("c");
    expect(box.remove("id-2")).toBe(true);
    expect(box.entries.map((e) => e.text)).toEqual(["a", "c"]);
    expect(box.get("id-2")).toBeUndefined();
    expect(box.remove("id-2")).toBe(false);
    expect(box.entries.map((e) => e.text)).toEqual(["a", "c"]);
  });
});

describe("Outbox: acknowledged entries", () => {
  it("an acknowledged entry stays on show but is not resent until its event is applied", () => {
    const { box } = makeOutbox();
    box.add("mine");
    box.add("next");
    box.update("id-1", { ackedSeq: 12 });
    // The room is still at 11: the message is stored but its event has not arrived.
    box.settle(11);
    expect(box.entries.map((e) => e.clientId)).toEqual(["id-1", "id-2"]);
    expect(box.get("id-1")?.ackedSeq).toBe(12);
    expect(box.sendable().map((e) => e.clientId)).toEqual(["id-2"]);
  });

  it("settle drops entries acknowledged at or below the room's seq, and keeps the rest in order", () => {
    const { box } = makeOutbox();
    box.add("a");
    box.add("b");
    box.add("c");
    box.add("d");
    box.update("id-1", { ackedSeq: 10 });
    box.update("id-2", { ackedSeq: 13 });
    box.update("id-3", { ackedSeq: 11 });
    box.settle(11);
    expect(box.entries.map((e) => e.clientId)).toEqual(["id-2", "id-4"]);
    box.settle(13);
    expect(box.entries.map((e) => e.clientId)).toEqual(["id-4"]);
  });

  it("settle also drops entries the room has by client id (a fresh snapshot), acknowledged or not", () => {
    const { box } = makeOutbox();
    box.add("a");
    box.add("b");
    box.add("c");
    const stored = new Set(["id-1", "id-3"]);
    box.settle(0, (clientId) => stored.has(clientId));
    expect(box.entries.map((e) => e.clientId)).toEqual(["id-2"]);
  });

  it("settle with nothing to drop leaves the list as it is (same array: no needless re-render)", () => {
    const { box } = makeOutbox();
    box.add("a");
    box.update("id-1", { ackedSeq: 5 });
    const before = box.entries;
    box.settle(4);
    expect(box.entries).toBe(before);
  });
});

describe("Outbox: rate-limit pause", () => {
  it("holds a paused entry back and resends it by itself once retryAt has passed", () => {
    vi.useFakeTimers({ now: 10_000 });
    const { box, resent } = makeOutbox();
    box.add("slow down");
    box.pause("id-1", 2_000);
    expect(box.get("id-1")?.retryAt).toBe(12_000);
    expect(box.sendable()).toEqual([]);

    vi.advanceTimersByTime(1_999);
    expect(resent).toEqual([]);
    expect(box.sendable()).toEqual([]);

    vi.advanceTimersByTime(1);
    expect(resent.map((e) => e.clientId)).toEqual(["id-1"]);
    expect(resent[0]).toMatchObject({ clientId: "id-1", text: "slow down", retryAt: null, state: "pending" });
    expect(box.get("id-1")?.retryAt).toBeNull();
    expect(box.sendable().map((e) => e.clientId)).toEqual(["id-1"]);
  });

  it("sendable(now) lets a paused entry through once its time has come", () => {
    const { box } = makeOutbox();
    box.add("x");
    box.pause("id-1", 1_000, 50_000);
    expect(box.sendable(50_999)).toEqual([]);
    expect(box.sendable(51_000).map((e) => e.clientId)).toEqual(["id-1"]);
  });

  it("several pauses end one after another, each resend at its own time, in order", () => {
    vi.useFakeTimers({ now: 0 });
    const { box, resent } = makeOutbox();
    box.add("a");
    box.add("b");
    box.add("c");
    box.pause("id-2", 3_000);
    box.pause("id-1", 1_000);
    box.pause("id-3", 3_000);

    vi.advanceTimersByTime(1_000);
    expect(resent.map((e) => e.clientId)).toEqual(["id-1"]);
    vi.advanceTimersByTime(1_999);
    expect(resent.map((e) => e.clientId)).toEqual(["id-1"]);
    vi.advanceTimersByTime(1);
    expect(resent.map((e) => e.clientId)).toEqual(["id-1", "id-2", "id-3"]);
    expect(box.entries.every((e) => e.retryAt === null)).toBe(true);
  });

  it("does not resend an entry that failed or was discarded during its pause", () => {
    vi.useFakeTimers({ now: 0 });
    const { box, resent } = makeOutbox();
    box.add("failed meanwhile");
    box.add("discarded meanwhile");
    box.add("still wanted");
    box.pause("id-1", 1_000);
    box.pause("id-2", 1_000);
    box.pause("id-3", 1_000);
    box.update("id-1", { state: "failed", error: "Not allowed" });
    box.remove("id-2");

    vi.advanceTimersByTime(1_000);
    expect(resent.map((e) => e.clientId)).toEqual(["id-3"]);
    // The failed one waits for the user, its pause over.
    expect(box.get("id-1")).toMatchObject({ state: "failed", retryAt: null });
  });

  it("pausing an unknown id schedules nothing", () => {
    vi.useFakeTimers({ now: 0 });
    const { box, resent } = makeOutbox();
    box.pause("missing", 1_000);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(resent).toEqual([]);
  });

  it("dispose stops the pause timer and leaves the entries as they are", () => {
    vi.useFakeTimers({ now: 0 });
    const { box, resent } = makeOutbox();
    box.add("x");
    box.pause("id-1", 1_000);
    expect(vi.getTimerCount()).toBe(1);
    box.dispose();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(resent).toEqual([]);
    expect(box.get("id-1")?.retryAt).toBe(1_000);
  });
});
