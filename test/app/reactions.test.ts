/** Reaction chips on the client (app/lib/reactions.ts): set semantics, so replays change nothing twice. */
import { describe, expect, it, vi } from "vitest";
import { applyReaction, react, reactorsLabel } from "#lib/reactions.ts";

const add = (emoji: string, userId: string) => ({ type: "reaction_added" as const, emoji, userId });
const remove = (emoji: string, userId: string) => ({ type: "reaction_removed" as const, emoji, userId });

describe("applyReaction", () => {
  it("adds a chip, joins it, and is idempotent", () => {
    let r = applyReaction(undefined, add("👍", "a"));
    r = applyReaction(r, add("👍", "b"));
    r = applyReaction(r, add("👍", "b"));
    r = applyReaction(r, add("🎉", "a"));
    expect(r).toEqual([
      { emoji: "👍", count: 2, userIds: ["a", "b"] },
      { emoji: "🎉", count: 1, userIds: ["a"] },
    ]);
  });

  it("removes a user, drops an empty chip, ignores a removal of what is not there, never mutates its input", () => {
    const start = [{ emoji: "👍", count: 2, userIds: ["a", "b"] }];
    const r1 = applyReaction(start, remove("👍", "a"));
    expect(r1).toEqual([{ emoji: "👍", count: 1, userIds: ["b"] }]);
    expect(start).toEqual([{ emoji: "👍", count: 2, userIds: ["a", "b"] }]);
    expect(applyReaction(r1, remove("👍", "zz"))).toEqual(r1);
    expect(applyReaction(r1, remove("👍", "b"))).toEqual([]);
  });

  it("a replayed message that already carries a reaction, then its event: still once", () => {
    const carried = [{ emoji: "✅", count: 1, userIds: ["b"] }];
    expect(applyReaction(carried, add("✅", "b"))).toEqual(carried);
  });
});

describe("reactorsLabel", () => {
  const names: Record<string, string> = { a: "Ann", b: "Bob", c: "Cy", d: "Di", e: "Ed" };
  it("names up to three, me as You, then a count", () => {
    expect(reactorsLabel({ emoji: "👍", count: 1, userIds: ["a"] }, (id) => names[id]!, "z")).toBe("Ann reacted with 👍");
    expect(reactorsLabel({ emoji: "👍", count: 2, userIds: ["a", "z"] }, (id) => names[id]!, "z")).toBe("Ann and You reacted with 👍");
    expect(reactorsLabel({ emoji: "👍", count: 5, userIds: ["a", "b", "c", "d", "e"] }, (id) => names[id]!, "z")).toBe("Ann, Bob, Cy and 2 others reacted with 👍");
  });
});

describe("react (optimistic)", () => {
  it("shows my reaction at once, keeps it when stored, and undoes it when the server refuses", async () => {
    const shown: [string, boolean][] = [];
    const room = { id: "r1", reactLocally: (_m: string, emoji: string, _u: string, on: boolean) => void shown.push([emoji, on]) };
    let status = 201;
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify(status === 201 ? { reactions: [] } : { error: { code: "rate_limited", message: "Slow down" } }), { status, headers: { "Content-Type": "application/json" } }));
    try {
      await react(room, "m1", "👍", "u1", true);
      expect(shown).toEqual([["👍", true]]);
      status = 429;
      await expect(react(room, "m1", "🎉", "u1", true)).rejects.toThrow();
      expect(shown).toEqual([["👍", true], ["🎉", true], ["🎉", false]]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
