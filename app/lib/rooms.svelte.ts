/**
 * The signed-in user's room list (the `/rooms` page). One shared instance,
 * {@link rooms}, so live updates can reach it from anywhere: the badge
 * socket's `room_added` / `room_removed` / `room_updated` frames (on every
 * signed-in page), and the open room's own events and actions.
 */
import type { RoomSummary } from "#protocol";
import { api } from "./api.ts";
import { errorMessage } from "./http.ts";

/** Loading state of the list. */
export type RoomsStatus = "idle" | "loading" | "ready" | "error";

const byName = (a: RoomSummary, b: RoomSummary) =>
  a.name.localeCompare(b.name, undefined, { sensitivity: "base" }) || a.createdAt - b.createdAt;

/** My rooms, sorted by name. */
export class Rooms {
  #list = $state.raw<RoomSummary[]>([]);
  #status = $state<RoomsStatus>("idle");
  #error = $state<string | null>(null);
  #loadSeq = 0;
  /**
   * Live changes made while a load is in flight: its reply may predate them,
   * so they are applied again on top of it (each one is idempotent).
   */
  #sinceLoad: ((list: RoomSummary[]) => RoomSummary[])[] | null = null;

  /** The rooms, sorted by name. */
  readonly list: RoomSummary[] = $derived([...this.#list].sort(byName));

  /** "idle" before the first load, then "loading" / "ready" / "error". */
  get status(): RoomsStatus {
    return this.#status;
  }

  /** Why the last load failed, or null. */
  get error(): string | null {
    return this.#error;
  }

  /** Fetch the list from the server. Keeps showing the old list while reloading. */
  async load(): Promise<void> {
    const seq = ++this.#loadSeq;
    if (this.#status !== "ready") this.#status = "loading";
    this.#error = null;
    const changes: ((list: RoomSummary[]) => RoomSummary[])[] = [];
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

  /** Insert or replace a room (e.g. `room_added`: I was added to it). */
  upsert(room: RoomSummary): void {
    this.#change((list) => [...list.filter((r) => r.id !== room.id), room]);
  }

  /** Change fields of a listed room, e.g. `{ name }` after a rename or `{ memberCount }`. */
  patch(roomId: string, changes: Partial<Omit<RoomSummary, "id">>): void {
    this.#change((list) => (list.some((r) => r.id === roomId) ? list.map((r) => (r.id === roomId ? { ...r, ...changes } : r)) : list));
  }

  /** Drop a room (left it, or was removed). */
  remove(roomId: string): void {
    this.#change((list) => (list.some((r) => r.id === roomId) ? list.filter((r) => r.id !== roomId) : list));
  }

  /** Apply a change now, and again to the reply of a load in flight. */
  #change(change: (list: RoomSummary[]) => RoomSummary[]): void {
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
