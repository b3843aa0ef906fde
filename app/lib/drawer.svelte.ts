/**
 * The rooms drawer on narrow screens (below {@link WIDE_QUERY}, where the
 * sidebar is not shown beside the room): open or closed, and the button that
 * opened it, which gets the focus back when it closes. One shared instance,
 * {@link drawer}: the toggle lives in the room header, the drawer in the shell.
 */

/** At and above this width the rooms sidebar sits beside the page instead of in a drawer. */
export const WIDE_QUERY = "(min-width: 900px)";

/** Below this width the room's members and files are tabs beside the chat, not a side column. */
export const TABBED_QUERY = "(max-width: 1199.98px)";

/** The drawer's element id (for `aria-controls`). */
export const DRAWER_ID = "room-drawer";

/** Whether the drawer is open, and where the focus goes back to. */
export class Drawer {
  #open = $state(false);
  #opener: HTMLElement | null = null;

  /** Whether the drawer is open. */
  get open(): boolean {
    return this.#open;
  }

  /** Open it; `opener` gets the focus back when it closes. */
  show(opener: HTMLElement | null = null): void {
    this.#opener = opener;
    this.#open = true;
  }

  /** Close it; the focus goes back to the opener unless `restoreFocus` is false (e.g. after following a link). */
  hide(restoreFocus = true): void {
    if (!this.#open) return;
    this.#open = false;
    const opener = this.#opener;
    this.#opener = null;
    if (restoreFocus && opener?.isConnected) opener.focus();
  }
}

/** The app-wide drawer. */
export const drawer = new Drawer();
