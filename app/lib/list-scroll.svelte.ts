/**
 * Where the message list is scrolled, and keeping it there: at the bottom
 * (following new messages), or at the "New messages" divider where a room
 * with unread items opens — which stays where it was put while the layout
 * settles (fonts, thumbnails, the composer growing) until the reader scrolls.
 * Tells the reader's own scrolling from the list's (a scroll that ends
 * where this class did not put it is the reader's).
 *
 * Not reactive on purpose (it is read in event handlers), except
 * {@link ListScroll.unseen}, which the "New messages" pill shows.
 */

/** Within this many px of the bottom counts as "at the bottom". */
const BOTTOM_SLACK = 48;
/** Space left above the divider when the list is put there. */
const DIVIDER_GAP = 12;

export class ListScroll {
  /** Whether the reader is at the bottom. */
  atBottom = true;
  /** Something arrived below the fold. */
  unseen = $state(false);
  /** Put at the divider and not scrolled since. */
  #anchored = false;
  /** The scrollTop this class last set. */
  #ownTop = -1;
  readonly #el: () => HTMLElement | undefined;
  readonly #divider: () => HTMLElement | null | undefined;
  readonly #cover: () => number;

  /**
   * @param el the scrolling element, once there is one
   * @param divider the divider element, if it is showing
   * @param cover how many px at the top are covered (the unread bar)
   */
  constructor(el: () => HTMLElement | undefined, divider: () => HTMLElement | null | undefined, cover: () => number) {
    this.#el = el;
    this.#divider = divider;
    this.#cover = cover;
  }

  get el(): HTMLElement | undefined {
    return this.#el();
  }

  /** Scroll to `top` (ours, not the reader's). */
  setTop(top: number): void {
    if (!this.el) return;
    this.el.scrollTop = top;
    this.#ownTop = this.el.scrollTop;
  }

  #measure(): boolean {
    const el = this.el;
    return !el || el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;
  }

  /** Go to the bottom (smoothly, unless the reader prefers reduced motion). */
  toBottom(smooth = false): void {
    if (!this.el) return;
    this.#anchored = false;
    const reduce = matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (smooth && !reduce) this.el.scrollTo({ top: this.el.scrollHeight, behavior: "smooth" });
    else this.setTop(this.el.scrollHeight);
    this.atBottom = true;
    this.unseen = false;
  }

  /** Put the divider near the top of the view, below what covers it. @returns false when there is none. */
  toDivider(): boolean {
    const divider = this.#divider();
    if (!this.el || !divider) {
      this.#anchored = false;
      return false;
    }
    const offset = divider.getBoundingClientRect().top - this.el.getBoundingClientRect().top;
    this.setTop(this.el.scrollTop + offset - this.#cover() - DIVIDER_GAP);
    this.atBottom = this.#measure();
    this.#anchored = !this.atBottom;
    return true;
  }

  /** The content or the view changed size: keep the divider, or the bottom, in place. */
  keep(): void {
    if (this.#anchored) this.toDivider();
    else if (this.atBottom) this.toBottom();
  }

  /** A scroll event. @returns whether the reader scrolled (not this class). */
  scrolled(): boolean {
    if (!this.el) return false;
    this.atBottom = this.#measure();
    if (this.atBottom) this.unseen = false;
    if (Math.abs(this.el.scrollTop - this.#ownTop) <= 1) return false;
    this.#anchored = false;
    return true;
  }
}
