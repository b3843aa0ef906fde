/** Latency histograms and per-receiver stream tracking. */
import * as hdr from "hdr-histogram-js";

/** p50 / p99 / max in milliseconds (two decimals) and the sample count. */
export interface Summary {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export interface Histogram {
  /** Record milliseconds (kept in microseconds). */
  record(ms: number): void;
  readonly count: number;
  summary(): Summary;
}

/** An HDR histogram from 1 µs to 1 h at 3 significant digits. */
export function histogram(): Histogram {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  return {
    record(ms) {
      h.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    get count() {
      return h.totalCount;
    },
    summary() {
      const q = (p: number) => Math.round(h.getValueAtPercentile(p) / 10) / 100;
      return { p50: q(50), p99: q(99), max: Math.round(h.maxValue / 10) / 100, n: h.totalCount };
    },
  };
}

export interface Tracker {
  /** Arrival time per id. */
  readonly seen: Map<number, number>;
  add(id: number, t: number): void;
  result(expected: Iterable<number>): { lost: number; dups: number; outOfOrder: number };
}

/**
 * One receiver's view of a numbered stream: arrival time per id, and
 * lost / duplicated / out-of-order counts.
 */
export function tracker(): Tracker {
  const seen = new Map<number, number>();
  let dups = 0;
  let outOfOrder = 0;
  let last = -1;
  return {
    seen,
    add(id, t) {
      if (seen.has(id)) {
        dups++;
        return;
      }
      if (id < last) outOfOrder++;
      last = Math.max(last, id);
      seen.set(id, t);
    },
    result(expected) {
      let lost = 0;
      for (const id of expected) if (!seen.has(id)) lost++;
      return { lost, dups, outOfOrder };
    },
  };
}
