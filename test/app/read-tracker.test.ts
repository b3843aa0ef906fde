/**
 * Reading marks read (app/lib/read-tracker.svelte.ts): what is on screen while
 * I look moves the read mark, at most one read per 500 ms (the first at once,
 * the highest seen at the end of the interval), forward only, never below the
 * room's mark and never for nothing; held after "mark unread"; files beside
 * the timeline only extend the mark over unread items all seen. Fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../app/lib/http.ts";
import { READ_INTERVAL_MS, ReadTracker, type UnreadItems } from "../../app/lib/read-tracker.svelte.ts";

/**
 * A tracker over a fake room: `confirmed` is the room's read mark, `shown` my read not yet
 * answered (dropped when it fails, as ReadState.retract does); `unread` the unread seqs.
 */
function setup(opts: { mark?: number; unread?: number[]; knownFrom?: number; fail?: (seq: number) => unknown } = {}) {
  const room = {
    confirmed: opts.mark ?? 0,
    shown: 0,
    unread: opts.unread ?? [],
    knownFrom: opts.knownFrom ?? 0,
    get mark() {
      return Math.max(this.confirmed, this.shown);
    },
  };
  const sent: { seq: number; at: number }[] = [];
  const answers: ((readSeq: number) => void)[] = [];
  const failures: number[] = [];
  let answerAtOnce = true;
  const tracker = new ReadTracker({
    mark: () => room.mark,
    unread: (): UnreadItems => ({ seqs: room.unread.filter((s) => s > room.mark), knownFrom: room.knownFrom }),
    send: (seq) => {
      sent.push({ seq, at: Date.now() });
      const failure = opts.fail?.(seq);
      if (failure) return Promise.reject(failure);
      return new Promise<number>((resolve) => {
        const answer = (readSeq: number) => {
          room.confirmed = Math.max(room.confirmed, readSeq);
          resolve(room.confirmed);
        };
        if (answerAtOnce) answer(seq);
        else answers.push(answer);
      });
    },
    onsent: (seq) => {
      room.shown = seq;
    },
    onfailed: (seq) => {
      room.shown = 0;
      failures.push(seq);
    },
  });
  return {
    tracker,
    room,
    sent,
    failures,
    /** Hold answers until the test gives them. */
    slowAnswers() {
      answerAtOnce = false;
      return answers;
    },
    /** Enabled and looking. */
    start() {
      tracker.enable();
      tracker.setAttentive(true);
      return tracker;
    },
  };
}

/** Let the answers' promise callbacks run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("ReadTracker: throttle", () => {
  it("sends the first read at once, then at most one per 500 ms with the highest seen", async () => {
    const t = setup({ unread: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    const tracker = t.start();
    tracker.show(3, "timeline");
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([3]);
    for (const seq of [4, 5, 6, 7]) {
      await vi.advanceTimersByTimeAsync(50);
      tracker.show(seq, "timeline");
    }
    expect(t.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(READ_INTERVAL_MS);
    expect(t.sent.map((s) => s.seq)).toEqual([3, 7]);
    expect(t.sent[1]!.at - t.sent[0]!.at).toBe(READ_INTERVAL_MS);
    // Nothing new seen: nothing more goes out.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.sent).toHaveLength(2);
  });

  it("however fast items come, reads stay 500 ms apart, strictly increasing, ending at the last one", async () => {
    const t = setup({ unread: Array.from({ length: 60 }, (_, i) => i + 1) });
    const tracker = t.start();
    for (let seq = 1; seq <= 60; seq++) {
      tracker.show(seq, "timeline");
      await vi.advanceTimersByTimeAsync(16);
      tracker.hide(seq, "timeline");
    }
    await vi.advanceTimersByTimeAsync(2_000);
    const seqs = t.sent.map((s) => s.seq);
    expect(seqs.at(-1)).toBe(60);
    for (let i = 1; i < t.sent.length; i++) {
      expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
      expect(t.sent[i]!.at - t.sent[i - 1]!.at).toBeGreaterThanOrEqual(READ_INTERVAL_MS);
    }
    // 60 items over ~1 s: a handful of reads, not 60.
    expect(t.sent.length).toBeLessThanOrEqual(4);
  });

  it("rows that come on screen together (one observer callback) make one read, of the highest", async () => {
    const t = setup({ unread: [1, 2, 3, 4, 5] });
    const tracker = t.start();
    for (const seq of [1, 2, 3, 4]) tracker.show(seq, "timeline");
    expect(tracker.busy).toBe(true);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(t.sent.map((s) => s.seq)).toEqual([4]);
    expect(tracker.busy).toBe(false);
  });

  it("keeps one read in flight: the next waits for the answer, then goes with the highest seen", async () => {
    const t = setup({ unread: [1, 2, 3, 4, 5] });
    const answers = t.slowAnswers();
    const tracker = t.start();
    tracker.show(2, "timeline");
    await settle();
    tracker.show(4, "timeline");
    await vi.advanceTimersByTimeAsync(3_000);
    expect(t.sent.map((s) => s.seq)).toEqual([2]);
    answers.shift()!(2);
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([2, 4]);
  });
});

describe("ReadTracker: forward only", () => {
  it("never sends at or below the room's mark, nor the same read twice", async () => {
    const t = setup({ mark: 10, unread: [11, 12] });
    const tracker = t.start();
    tracker.show(8, "timeline");
    tracker.show(10, "timeline");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent).toEqual([]);
    tracker.show(12, "timeline");
    await vi.advanceTimersByTimeAsync(1_000);
    // A stale lower mark (say an older receipt) must not make it send again.
    t.room.confirmed = 10;
    t.room.shown = 0;
    tracker.hide(12, "timeline");
    tracker.show(12, "timeline");
    tracker.show(11, "timeline");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent.map((s) => s.seq)).toEqual([12]);
  });

  it("sends nothing for items that are not unread (my own messages): no write for nothing", async () => {
    const t = setup({ mark: 5, unread: [] });
    const tracker = t.start();
    tracker.show(6, "timeline");
    tracker.show(7, "timeline");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent).toEqual([]);
  });

  it("moves over items it cannot see the state of (older than the loaded page)", async () => {
    const t = setup({ mark: 5, unread: [], knownFrom: 40 });
    t.start().show(41, "timeline");
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([41]);
  });
});

describe("ReadTracker: looking, placing, holding", () => {
  it("reads nothing while away; looking again reads what is on screen then", async () => {
    const t = setup({ unread: [1, 2, 3] });
    t.tracker.enable();
    t.tracker.setAttentive(false);
    expect(t.tracker.state).toBe("away");
    t.tracker.show(1, "timeline");
    t.tracker.show(2, "timeline");
    t.tracker.hide(1, "timeline");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent).toEqual([]);
    t.tracker.setAttentive(true);
    expect(t.tracker.state).toBe("on");
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([2]);
  });

  it("reads nothing until the list is placed", async () => {
    const t = setup({ unread: [1, 2] });
    t.tracker.setAttentive(true);
    t.tracker.show(2, "timeline");
    expect(t.tracker.state).toBe("off");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent).toEqual([]);
    t.tracker.enable();
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([2]);
  });

  it("held after mark unread: a waiting read is dropped, nothing on screen is read until released", async () => {
    const t = setup({ unread: [1, 2, 3, 4, 5] });
    const tracker = t.start();
    tracker.show(1, "timeline");
    await settle();
    tracker.show(3, "timeline");
    expect(t.sent.map((s) => s.seq)).toEqual([1]);
    expect(tracker.busy).toBe(true);
    // The read of 3 waits for its turn; marking unread from 2 drops it.
    tracker.hold();
    expect(tracker.state).toBe("held");
    tracker.show(4, "timeline");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.sent.map((s) => s.seq)).toEqual([1]);
    // Scrolling releases it: what is on screen now counts.
    expect(tracker.busy).toBe(false);
    tracker.release();
    expect(tracker.state).toBe("on");
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([1, 4]);
  });

  it("idle() waits for a read in flight (a mark unread must not be overtaken by it)", async () => {
    const t = setup({ unread: [1, 2] });
    const answers = t.slowAnswers();
    const tracker = t.start();
    tracker.show(2, "timeline");
    await settle();
    let idle = false;
    void tracker.idle().then(() => (idle = true));
    await settle();
    expect(idle).toBe(false);
    answers.shift()!(2);
    await settle();
    expect(idle).toBe(true);
  });

  it("reset (another room) forgets everything, and an answer for the old room changes nothing", async () => {
    const t = setup({ unread: [1, 2, 3] });
    const answers = t.slowAnswers();
    const tracker = t.start();
    tracker.show(2, "timeline");
    await settle();
    tracker.reset();
    expect(tracker.state).toBe("off");
    answers.shift()!(2);
    await vi.advanceTimersByTimeAsync(1_000);
    tracker.enable();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent.map((s) => s.seq)).toEqual([2]);
  });
});

describe("ReadTracker: failures", () => {
  it("a rate-limited read is sent again after Retry-After", async () => {
    let refuse = true;
    const t = setup({
      unread: [1, 2, 3],
      fail: () => (refuse ? ((refuse = false), new ApiError(429, "rate_limited", "Slow down", 2)) : undefined),
    });
    const tracker = t.start();
    tracker.show(3, "timeline");
    await settle();
    expect(t.failures).toEqual([3]);
    await vi.advanceTimersByTimeAsync(1_900);
    expect(t.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.sent.map((s) => s.seq)).toEqual([3, 3]);
    expect(t.sent[1]!.at - t.sent[0]!.at).toBeGreaterThanOrEqual(2_000);
  });

  it("a network failure is retried with a growing pause; a room that is gone is not", async () => {
    const t = setup({ unread: [1, 2], fail: (seq) => new ApiError(seq === 1 ? 0 : 403, "x", "x") });
    const tracker = t.start();
    tracker.show(1, "timeline");
    await settle();
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(t.sent.map((s) => s.seq)).toEqual([1, 1, 1]);
    expect(t.sent[2]!.at - t.sent[1]!.at).toBe(2_000);

    const gone = setup({ unread: [1, 2], fail: () => new ApiError(403, "forbidden", "no") });
    gone.start().show(2, "timeline");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(gone.sent).toHaveLength(1);
  });
});

describe("ReadTracker: the Files panel (beside the timeline)", () => {
  it("a file seen there is read when it is the next unread item", async () => {
    const t = setup({ mark: 10, unread: [12] });
    t.start().show(12, "aside");
    await settle();
    expect(t.sent.map((s) => s.seq)).toEqual([12]);
  });

  it("a file seen there is not read over an unread message nobody saw; it is once that message is seen", async () => {
    const t = setup({ mark: 10, unread: [11, 12] });
    const tracker = t.start();
    tracker.show(12, "aside");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent).toEqual([]);
    tracker.show(11, "timeline");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent.map((s) => s.seq)).toEqual([12]);
  });

  it("does not extend the mark where older items may not be loaded", async () => {
    const t = setup({ mark: 10, unread: [50], knownFrom: 40 });
    t.start().show(50, "aside");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent).toEqual([]);
  });
});
