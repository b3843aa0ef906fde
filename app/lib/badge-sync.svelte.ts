/**
 * The badge protocol (`/api/me/ws`, docs/protocol.md "The badge socket"), on
 * a {@link Transport}: one per tab, on every signed-in page. The server
 * pushes `notification_count_update` with the numbers themselves, so a count
 * change never makes this tab ask for anything: on every (re)connect its
 * full counts replace ours, later frames are merged. It also carries my room
 * list's changes: `room_added` (I was added to a room), `room_removed`
 * (removed, or I left) and `room_updated` (renamed), applied to the shared
 * {@link Rooms} list wherever it is shown. While the socket is down the
 * counts are polled from `GET /api/me/unread` (and only then); the transport
 * retries the socket, and gives up for good on 1008 (signed out), when it
 * asks the session whether it still exists (signed out elsewhere → sign-in).
 */
import { HubFrame, type NotificationCountUpdate } from "#protocol";
import type { Rooms } from "./rooms.svelte.ts";
import type { Session } from "./session.svelte.ts";
import { Transport, type TransportSeams } from "./transport.svelte.ts";

/** How often the badge is polled while its socket is down. */
export const BADGE_POLL_MS = 10_000;

/** Options for {@link BadgeSync}. */
export interface BadgeSyncOptions extends TransportSeams {
  /** Where the counts go (and come from, when polling). */
  session: Session;
  /** The rooms list to keep in step. */
  rooms: Rooms;
  /** Called when new items arrived in a room (`added` of them), e.g. for a desktop notification. */
  onactivity?: (roomId: string, added: number) => void;
}

/** The tab's badge socket. See the module comment. */
export class BadgeSync {
  readonly #session: Session;
  readonly #rooms: Rooms;
  readonly #onactivity: ((roomId: string, added: number) => void) | undefined;
  readonly #transport: Transport<HubFrame>;

  /** @param options see {@link BadgeSyncOptions}. */
  constructor(options: BadgeSyncOptions) {
    const { session, rooms, onactivity, ...seams } = options;
    this.#session = session;
    this.#rooms = rooms;
    this.#onactivity = onactivity;
    this.#transport = new Transport({
      ...seams,
      source: "badge",
      path: () => "/api/me/ws",
      frames: HubFrame,
      onframe: (frame) => this.#onFrame(frame),
      poll: () => session.refreshUnread(),
      pollMs: BADGE_POLL_MS,
      onend: () => void session.verify(),
    });
  }

  /** Connect (once). */
  start(): void {
    this.#transport.start();
  }

  /** Stop for good (signed out, or the shell unmounted). */
  dispose(): void {
    this.#transport.dispose();
  }

  #onFrame(frame: HubFrame): void {
    switch (frame.type) {
      case "notification_count_update":
        return this.#counts(frame);
      case "room_added":
        this.#session.rememberRoom(frame.room.id);
        return this.#rooms.upsert(frame.room);
      case "room_removed":
        this.#rooms.remove(frame.roomId);
        return this.#session.forgetRoom(frame.roomId);
      case "room_updated":
        return this.#rooms.patch(frame.room.id, { name: frame.room.name });
    }
  }

  #counts(frame: NotificationCountUpdate): void {
    if (frame.full) {
      // The server's numbers replace ours; the badge is current, so the socket counts as up.
      this.#session.setUnread({ total: frame.total, rooms: frame.rooms });
      this.#transport.up();
      return;
    }
    if (frame.trigger === "new_message" || frame.trigger === "file_upload") {
      for (const [roomId, n] of Object.entries(frame.rooms)) this.#onactivity?.(roomId, n - this.#session.unreadFor(roomId));
    }
    // Merge the rooms that changed; the frame's total is the server's (it covers every room).
    this.#session.mergeUnread({ total: frame.total, rooms: frame.rooms });
  }
}
