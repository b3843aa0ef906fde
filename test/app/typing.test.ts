/** My typing frames (app/lib/typing.svelte.ts TypingNotifier): throttled while typing, `false` once, and announced again on a new connection. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TypingNotifier } from "#lib/typing.svelte.ts";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function notifier(live = { up: true }) {
  const sent: boolean[] = [];
  const n = new TypingNotifier((typing) => {
    if (!live.up) return false;
    sent.push(typing);
    return true;
  });
  return { n, sent, live };
}

describe("TypingNotifier", () => {
  it("sends true at most every 3 s while typing, false once after 4 s idle or when cleared", () => {
    const { n, sent } = notifier();
    n.input("h");
    vi.advanceTimersByTime(1_000);
    n.input("he");
    expect(sent).toEqual([true]);
    vi.advanceTimersByTime(2_500);
    n.input("hel");
    expect(sent).toEqual([true, true]);
    vi.advanceTimersByTime(4_000);
    expect(sent).toEqual([true, true, false]);
    n.input("again");
    n.input("");
    n.stop();
    expect(sent).toEqual([true, true, false, true, false]);
  });

  it("typing while the socket is not live is announced as soon as a new connection resets it", () => {
    const { n, sent, live } = notifier({ up: false });
    n.input("typed while connecting");
    expect(sent).toEqual([]);
    live.up = true;
    n.reset();
    expect(sent).toEqual([true]);
    vi.advanceTimersByTime(4_000);
    expect(sent).toEqual([true, false]);
  });

  it("a reset after I stopped typing announces nothing", () => {
    const { n, sent } = notifier();
    n.input("x");
    vi.advanceTimersByTime(4_000);
    n.reset();
    expect(sent).toEqual([true, false]);
  });
});
