/**
 * Optional desktop notifications for activity in rooms you are not looking
 * at. Asked for only by a button (never on load); driven by the badge socket's
 * pushed counts, so they cost no request either.
 */
import { rooms } from "./rooms.svelte.ts";

const supported = () => typeof window !== "undefined" && "Notification" in window;

export class DesktopNotifications {
  #permission = $state<NotificationPermission | "unsupported">(supported() ? Notification.permission : "unsupported");

  /** "default" (not asked yet), "granted", "denied" or "unsupported". */
  get permission(): NotificationPermission | "unsupported" {
    return this.#permission;
  }

  /** Ask the browser (call from a click). */
  async request(): Promise<void> {
    if (!supported()) return;
    this.#permission = await Notification.requestPermission();
  }

  /**
   * A room's count went up by `added` (`mentioned`: and I was mentioned):
   * notify unless that room is open in a visible tab. A muted room gives no
   * notification — except for a mention of me.
   */
  roomActivity(roomId: string, added: number, mentioned = false): void {
    if (this.#permission !== "granted" || added <= 0) return;
    const viewing = document.visibilityState === "visible" && location.pathname === `/rooms/${roomId}`;
    if (viewing) return;
    const room = rooms.list.find((r) => r.id === roomId);
    if (room?.muted && !mentioned) return;
    const name = room?.name;
    const what = mentioned ? "You were mentioned" : added === 1 ? "1 new message" : `${added} new messages`;
    try {
      const n = new Notification(name ? `#${name}` : "Parley", { body: `${what} in ${name ? `#${name}` : "a room"}`, tag: `parley-${roomId}` });
      n.onclick = () => {
        window.focus();
        location.assign(`/rooms/${roomId}`);
      };
    } catch {
      // Some browsers only allow notifications from a service worker; nothing else to do.
    }
  }
}

export const desktopNotifications = new DesktopNotifications();
