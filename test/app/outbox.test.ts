import { describe, expect, it } from "vitest";
import { Outbox } from "../../app/lib/outbox.svelte.ts";

describe("Outbox", () => {
  it("smoke", () => {
    let n = 0;
    const box = new Outbox(() => {}, () => `id-${++n}`);
    expect(box.entries).toEqual([]);
  });
});
