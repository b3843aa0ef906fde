/**
 * The signed-in user's rooms and DMs (the sidebar and the `/rooms` page).
 * One shared instance, {@link rooms}, so live updates can reach it from
 * anywhere: the badge socket's `room_added` / `room_removed` /
 * `room_updated` / `room_activity` frames (on every signed-in page), and the
 * open room's own events and actions. Newest activity first
 * (docs/protocol.md "The rooms list").
 */
import { z } from "zod";
import { type RoomEvent, type RoomPreview, RoomSummary } from "#protocol";
import { api } from "./api.ts";
import { errorMessage, request } from "./http.ts";
import { byActivity, type MessageLookup, withActivity, withEvent } from "./room-activity.ts";

/** Loading state of the list. */
export type RoomsStatus = "idle" | "loading" | "ready" | "error";

type Change = (list: RoomSummary[]) => RoomSummary[];

const DmReply = z.object({ room: RoomSummary });

/** My rooms and DMs, newest activity first. */
export class Rooms {
  #list = $state.raw<RoomSummary[]>([]);
  #status = $state<RoomsStatus>("idle");
  #error = $state<string | null>(null);
  #loadSeq = 0;
  /**
   * Live changes made while a load is in flight: its reply may predate them,
   * so they are applied again on top of it (each one is idempotent).
   */
  #sinceLoad: Change[] | null = null;

  /** Everything, newest activity first. */
  readonly list: RoomSummary[] = $derived([...this.#list].sort(byActivity));

  /** The group rooms, newest activity first. */
  readonly groups: RoomSummary[] = $derived(this.list.filter((r) => r.kind !== "dm"));

  /** The direct messages, newest activity first. */
  readonly dms: RoomSummary[] = $derived(this.list.filter((r) => r.kind === "dm"));

  /** "idle" before the first load, then "loading" / "ready" / "error". */
  get status(): RoomsStatus {
    return this.#status;
  }

  /** Why the last load failed, or null. */
  get error(): string | null {
    return this.#error;
  }

  /** The listed room with this id, if any. */
  find(roomId: string): RoomSummary | undefined {
    return this.#list.find((r) => r.id === roomId);
  }

  /** Fetch the list from the server. Keeps showing the old list while reloading. */
  async load(): Promise<void> {
    const seq = ++this.#loadSeq;
    if (this.#status !== "ready") this.#status = "loading";
    this.#error = null;
    const changes: Change[] = [];
    this.#sinceLoad = changes;
    try {
      const list = await api.rooms();
      if (seq !== this.#loadSeq) return;
      this.#list = changes.reduce((l, change) => change(l), list);
      this.#status = "ready";
    } catch (err) {
      if (seq !== this.#loadSeq) return;
      this.#error = errorMessage(err);
      this.#status = "error";
    } finally {
      if (this.#sinceLoad === changes) this.#sinceLoad = null;
    }
  }

  /** Create a room and add it to the list. @throws {ApiError} */
  async create(name: string): Promise<RoomSummary> {
    const room = await api.createRoom(name);
    this.upsert(room);
    return room;
  }

  /**
   * Open (or create) the DM with `username` (`POST /api/dm`) and list it.
   * The same pair always gets the same room. @throws {ApiError} (404 unknown user, 400 myself)
   */
  async openDm(username: string): Promise<RoomSummary> {
    const { room } = await request("POST", "/api/dm", DmReply, { username });
    this.upsert(room);
    return room;
  }

  /** Insert or replace a room (e.g. `room_added`: I was added to it). */
  upsert(room: RoomSummary): void {
    this.#change((list) => [...list.filter((r) => r.id !== room.id), room]);
  }

  /** Change fields of a listed room, e.g. `{ name }` after a rename or `{ memberCount }`. */
  patch(roomId: string, changes: Partial<Omit<RoomSummary, "id">>): void {
    this.#update(roomId, (r) => ({ ...r, ...changes }));
  }

  /** A `room_activity` frame: the room's latest activity and preview (it moves up). */
  activity(roomId: string, lastActivityAt: number, preview: RoomPreview | null): void {
    this.#update(roomId, (r) => withActivity(r, lastActivityAt, preview));
  }

  /**
   * An event of the open room (after the room applied it): a message or file
   * moves it up, the previewed message's edit or deletion changes the preview.
   */
  applyEvent(roomId: string, event: RoomEvent, displayNameOf: (userId: string) => string | null | undefined, messageById: MessageLookup): void {
    this.#update(roomId, (r) => withEvent(r, event, displayNameOf, messageById) ?? r);
  }

  /** Drop a room (left it, or was removed). */
  remove(roomId: string): void {
    this.#change((list) => (list.some((r) => r.id === roomId) ? list.filter((r) => r.id !== roomId) : list));
  }

  /** Change one listed room (a room not listed stays unlisted). */
  #update(roomId: string, change: (room: RoomSummary) => RoomSummary): void {
    this.#change((list) => (list.some((r) => r.id === roomId) ? list.map((r) => (r.id === roomId ? change(r) : r)) : list));
  }

  /** Apply a change now, and again to the reply of a load in flight. */
  #change(change: Change): void {
    this.#list = change(this.#list);
    this.#sinceLoad?.push(change);
  }

  /** Forget everything (on sign-out). */
  clear(): void {
    this.#loadSeq++;
    this.#sinceLoad = null;
    this.#list = [];
    this.#status = "idle";
    this.#error = null;
  }
}

/** The app-wide room list. */
export const rooms = new Rooms();
