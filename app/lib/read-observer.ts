/**
 * The browser's side of reading marks read (see read-tracker.svelte.ts):
 * which rows are on screen, and whether I am looking at the tab.
 *
 * Rows are watched with an IntersectionObserver on the top-level viewport
 * (no explicit root), so every scrolling ancestor clips them — the message
 * list's own scroller, a sidebar, the page on a phone, a tab panel that is
 * hidden — whatever the layout around the list.
 */

/** Crossings reported by the observer (enough for the "mostly visible" test below). */
const THRESHOLDS = [0, 0.25, 0.5, 0.75, 1];

/** Counts as on screen: at least half of it shows, or, for a row taller than that, it fills a good part of the view. */
export function mostlyVisible(entry: IntersectionObserverEntry): boolean {
  if (!entry.isIntersecting) return false;
  if (entry.intersectionRatio >= 0.5) return true;
  const view = entry.rootBounds?.height ?? window.innerHeight;
  return entry.intersectionRect.height >= view * 0.4;
}

/** Where {@link observeRows} reports to. */
export interface RowSink {
  show(seq: number): void;
  hide(seq: number): void;
}

/**
 * Watch the children of `container` that match `selector` (now and as they
 * come and go) and report each one's seq when it comes on screen and leaves.
 * @param seqOf the row's seq, or null for a row that has none.
 * @returns stop watching (everything still on screen is reported gone).
 */
export function observeRows(container: Element, selector: string, seqOf: (row: Element) => number | null, sink: RowSink): () => void {
  /** Rows on screen now, with the seq they were reported with. */
  const shown = new Map<Element, number>();
  const watched = new Set<Element>();
  const gone = (row: Element) => {
    const seq = shown.get(row);
    if (seq === undefined) return;
    shown.delete(row);
    sink.hide(seq);
  };
  const io = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!watched.has(entry.target)) continue;
        if (!mostlyVisible(entry)) gone(entry.target);
        else if (!shown.has(entry.target)) {
          const seq = seqOf(entry.target);
          if (seq === null) continue;
          shown.set(entry.target, seq);
          sink.show(seq);
        }
      }
    },
    { threshold: THRESHOLDS },
  );
  const sync = () => {
    const now = new Set(container.querySelectorAll(selector));
    for (const row of watched) {
      if (now.has(row)) continue;
      watched.delete(row);
      io.unobserve(row);
      gone(row);
    }
    for (const row of now) {
      if (watched.has(row)) continue;
      watched.add(row);
      io.observe(row);
    }
  };
  const mo = new MutationObserver(sync);
  mo.observe(container, { childList: true });
  sync();
  return () => {
    mo.disconnect();
    io.disconnect();
    for (const row of [...shown.keys()]) gone(row);
    watched.clear();
  };
}

/** Whether I am looking at this tab: it is visible and has the focus. */
export const attentive = (): boolean => document.visibilityState === "visible" && document.hasFocus();

/**
 * Report {@link attentive} now and whenever it may have changed (the tab
 * hidden or shown, the window focused or not).
 * @returns stop listening.
 */
export function watchAttention(onchange: (attentive: boolean) => void): () => void {
  const check = () => onchange(attentive());
  document.addEventListener("visibilitychange", check);
  window.addEventListener("focus", check);
  window.addEventListener("blur", check);
  check();
  return () => {
    document.removeEventListener("visibilitychange", check);
    window.removeEventListener("focus", check);
    window.removeEventListener("blur", check);
  };
}
