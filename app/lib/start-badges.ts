/**
 * The badge socket of a signed-in page (every page under /rooms, and the
 * settings): live counts, the rooms list's frames, desktop notifications.
 * BadgeSync asks `GET /api/me/unread` itself at start. Returns the stop.
 */
import { BadgeSync } from "./badge-sync.svelte.ts";
import { desktopNotifications } from "./desktop-notifications.svelte.ts";
import { rooms } from "./rooms.svelte.ts";
import { session } from "./session.svelte.ts";

export function startBadges(): () => void {
  const badges = new BadgeSync({
    session,
    rooms,
    onactivity: (roomId, added, mentioned) => desktopNotifications.roomActivity(roomId, added, mentioned),
  });
  badges.start();
  return () => badges.dispose();
}
