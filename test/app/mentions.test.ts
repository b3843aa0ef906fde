/** @mentions in the composer (app/lib/mentions.ts): draft `@username` ↔ wire `<@id>`, and the autocomplete's lookup. */
import { describe, expect, it } from "vitest";
import { mentionAt, suggest, toDraft, toWire } from "#lib/mentions.ts";

const members = [
  { id: "id-ann", username: "ann", displayName: "Ann Lee" },
  { id: "id-bob", username: "bob.smith", displayName: null },
  { id: "id-me", username: "me", displayName: "Me Myself" },
];

describe("toWire / toDraft", () => {
  it("turns members' @usernames (any case) into <@id>, keeps other @words, emails and punctuation after a name", () => {
    expect(toWire("hi @ann and @BOB.SMITH.", members)).toBe("hi <@id-ann> and <@id-bob>.");
    expect(toWire("@nobody and mail ann@ann.test, (@ann)", members)).toBe("@nobody and mail ann@ann.test, (<@id-ann>)");
    expect(toWire("@ann-", members)).toBe("<@id-ann>-");
  });

  it("round-trips for editing", () => {
    const wire = toWire("ping @ann, @bob.smith", members);
    expect(toDraft(wire, members)).toBe("ping @ann, @bob.smith");
    expect(toDraft("<@gone> hi", members)).toBe("<@gone> hi");
  });
});

describe("mentionAt / suggest", () => {
  it("finds the @partial at the caret, only at a word start", () => {
    expect(mentionAt("hello @an", 9)).toEqual({ start: 6, query: "an" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionAt("mail ann@an", 11)).toBeNull();
    expect(mentionAt("hello @ann done", 15)).toBeNull();
  });

  it("suggests by username or display name prefix, never me, usernames first", () => {
    expect(suggest(members, "", "id-me").map((m) => m.username)).toEqual(["ann", "bob.smith"]);
    expect(suggest(members, "le", "id-me").map((m) => m.username)).toEqual(["ann"]);
    expect(suggest(members, "B", "id-me").map((m) => m.username)).toEqual(["bob.smith"]);
    expect(suggest(members, "me", "id-me")).toEqual([]);
  });
});
