/**
 * The signed-in user's room list (the `/rooms` page). One shared instance,
 * {@link rooms}, so live updates can reach it from anywhere.
 */
import type { RoomSummary } from "../../worker/protocol.ts";
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
    try {
      const list = await api.rooms();
      if (seq !== this.#loadSeq) return;
      this.#list = list;
      this.#status = "ready";
    } catch (err) {
      if (seq !== this.#loadSeq) return;
      this.#error = errorMessage(err);
      this.#status = "error";
    }
  }

  /** Create a room and add it to the list. @throws {ApiError} */
  async create(name: string): Promise<RoomSummary> {
    const room = await api.createRoom(name);
    this.upsert(room);
    return room;
  }

  /** Insert or replace a room (e.g. from a live "added to room" event). */
  upsert(room: RoomSummary): void {
    this.#list = [...this.#list.filter((r) => r.id !== room.id), room];
  }

  /** Change fields of a listed room, e.g. `{ name }` after a rename or `{ memberCount }`. */
  patch(roomId: string, changes: Partial<Omit<RoomSummary, "id">>): void {
    this.#list = this.#list.map((r) => (r.id === roomId ? { ...r, ...changes } : r));
  }

  /** Drop a room (left it, or was removed). */
  remove(roomId: string): void {
    this.#list = this.#list.filter((r) => r.id !== roomId);
  }

  /** Forget everything (on sign-out). */
  clear(): void {
    this.#loadSeq++;
    this.#list = [];
    this.#status = "idle";
    this.#error = null;
  }
}

/** The app-wide room list. */
export const rooms = new Rooms();
