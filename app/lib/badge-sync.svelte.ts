/**
 * The badge protocol (`/api/me/ws`, docs/protocol.md "The badge socket"), on
 * a {@link Transport}: one per tab, on every signed-in page. The server
 * pushes `notification_count_update` with the numbers themselves, so a count
 * change never makes this tab ask for anything: on every (re)connect its
 * full counts replace ours, later frames are merged. It also carries my room
 * list's changes: `room_added` (I was added to a room), `room_removed`
 * (removed, or I left), `room_updated` (renamed; a DM's other person renamed
 * themself) and `room_activity` (a new message or file: the room moves up,
 * with its new preview), applied to the shared {@link Rooms} list wherever
 * it is shown. Those frames are not replayed, so after a reconnect (not the
 * first connect) the list is fetched once again. While the socket is down the
 * counts are polled from `GET /api/me/unread` (and only then); the transport
 * retries the socket, and gives up for good on 1008 (signed out), when it
 * asks the session whether it still exists (signed out elsewhere → sign-in).
 */
import { HubFrame, type NotificationCountUpdate } from "#protocol";
import { api } from "./api.ts";
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
  onactivity?: (roomId: string, added: number, mentioned: boolean) => void;
}

/** The tab's badge socket. See the module comment. */
export class BadgeSync {
  readonly #session: Session;
  readonly #rooms: Rooms;
  readonly #onactivity: ((roomId: string, added: number, mentioned: boolean) => void) | undefined;
  readonly #transport: Transport<HubFrame>;
  /** Whether a socket of this tab has delivered full counts before (then a new one is a reconnect). */
  #connectedBefore = false;
  /** Full count frames received so far: an HTTP answer asked for before the latest one is older than it. */
  #fullFrames = 0;

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
      poll: (signal) => this.#askUnread(signal),
      pollMs: BADGE_POLL_MS,
      onend: () => void session.verify(),
    });
  }

  /** Connect (once), and ask for the counts once meanwhile: the socket's first frame may take a moment. */
  start(): void {
    this.#transport.start();
    void this.#askUnread();
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
      case "room_updated": {
        const { id, name, dmWith } = frame.room;
        return this.#rooms.patch(id, dmWith ? { name, dmWith, peer: dmWith } : { name });
      }
      case "room_activity":
        return this.#rooms.activity(frame.roomId, frame.lastActivityAt, frame.preview);
      case "room_muted":
        return this.#rooms.patch(frame.roomId, { muted: frame.muted });
    }
  }

  /**
   * `GET /api/me/unread` (at start, and the poll while the socket is down).
   * A full frame that arrives while it is on its way is newer than its
   * answer, which is then dropped (the hub may answer a request that raced
   * a tab's connect before that tab's badge is built).
   */
  async #askUnread(signal?: AbortSignal): Promise<void> {
    const frames = this.#fullFrames;
    const me = this.#session.me;
    if (!me) return;
    try {
      const counts = await api.unread({ signal });
      if (frames === this.#fullFrames && this.#session.me === me) this.#session.setUnread(counts);
    } catch (err) {
      // Best-effort: the badge keeps its numbers; the socket (or the next poll) brings new ones.
      if (!(err instanceof DOMException && err.name === "AbortError")) console.warn("Could not load unread counts:", err);
    }
  }

  #counts(frame: NotificationCountUpdate): void {
    if (frame.full) {
      this.#fullFrames++;
      // The server's numbers replace ours; the badge is current, so the socket counts as up.
      this.#session.setUnread({ total: frame.total, rooms: frame.rooms, mentions: frame.mentions });
      this.#transport.up();
      // Rooms-list frames sent while this tab was away are lost: catch up once (a loaded list only).
      if (frame.trigger === "connect" && this.#connectedBefore && this.#rooms.status === "ready") void this.#rooms.load();
      this.#connectedBefore = true;
      return;
    }
    if (frame.trigger === "new_message" || frame.trigger === "file_upload") {
      for (const [roomId, n] of Object.entries(frame.rooms)) {
        const mentioned = (frame.mentions?.rooms[roomId] ?? 0) - this.#session.mentionsFor(roomId);
        this.#onactivity?.(roomId, n - this.#session.unreadFor(roomId), mentioned > 0);
      }
    }
    // Merge the rooms that changed; the frame's total is the server's (it covers every room).
    this.#session.mergeUnread({ total: frame.total, rooms: frame.rooms, mentions: frame.mentions });
  }
}
