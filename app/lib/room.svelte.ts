/**
 * One open room: its name, my role, members, messages and files, as loaded
 * from `GET /api/rooms/:id` (the snapshot at `seq`) and changed by my actions.
 * The room page makes one instance and calls {@link RoomState.open} with the
 * id in the URL. Live events can be applied with the public mutators
 * (`applySnapshot`, `setName`, `upsertMember`, `dropMember`).
 */
import type { Member, Role, RoomSnapshot } from "../../worker/protocol.ts";
import { api, type RoomInfo } from "./api.ts";
import { ApiError, errorMessage } from "./http.ts";

/** Where the page is: loading, showing the room, or one of the failure pages. */
export type RoomStatus = "loading" | "ready" | "forbidden" | "not_found" | "error";

const memberOrder = (a: Member, b: Member) =>
  (a.role === b.role ? 0 : a.role === "owner" ? -1 : 1) ||
  a.username.localeCompare(b.username, undefined, { sensitivity: "base" });

/** State of the room page. */
export class RoomState {
  #id = $state("");
  #status = $state<RoomStatus>("loading");
  #error = $state<string | null>(null);
  #room = $state.raw<RoomInfo | null>(null);
  #role = $state<Role>("member");
  #members = $state.raw<Member[]>([]);
  #messages = $state.raw<unknown[]>([]);
  #files = $state.raw<unknown[]>([]);
  #seq = $state(0);
  /** Bumped whenever a newer load starts or another room opens; stale replies are dropped. */
  #generation = 0;

  /** The room id from the URL. */
  get id(): string {
    return this.#id;
  }

  /** "loading", "ready", or why the room cannot be shown. */
  get status(): RoomStatus {
    return this.#status;
  }

  /** The load failure message when `status` is "error". */
  get error(): string | null {
    return this.#error;
  }

  /** `{ id, name, ownerId, createdAt }`, once loaded. */
  get room(): RoomInfo | null {
    return this.#room;
  }

  /** The room's name ("" until loaded). */
  readonly name: string = $derived(this.#room?.name ?? "");

  /** My role in this room. */
  get role(): Role {
    return this.#role;
  }

  /** Whether I own this room (may rename it and manage members). */
  readonly isOwner: boolean = $derived(this.#role === "owner");

  /** Members, owner first, then by username. */
  readonly members: Member[] = $derived([...this.#members].sort(memberOrder));

  /** Messages from the snapshot (not rendered yet). */
  get messages(): unknown[] {
    return this.#messages;
  }

  /** Files from the snapshot (not rendered yet). */
  get files(): unknown[] {
    return this.#files;
  }

  /** The room's event sequence number the current state is at. */
  get seq(): number {
    return this.#seq;
  }

  /** Switch to room `id` (clearing what was shown) and load it. */
  async open(id: string): Promise<void> {
    this.#generation++;
    this.#id = id;
    this.#room = null;
    this.#role = "member";
    this.#members = [];
    this.#messages = [];
    this.#files = [];
    this.#seq = 0;
    await this.load();
  }

  /** (Re)load the snapshot of the current room, e.g. after a `resync_required`. */
  async load(): Promise<void> {
    const generation = ++this.#generation;
    if (!this.#room) this.#status = "loading";
    this.#error = null;
    try {
      const snapshot = await api.room(this.#id);
      if (generation === this.#generation) this.applySnapshot(snapshot);
    } catch (err) {
      if (generation !== this.#generation) return;
      if (err instanceof ApiError && err.status === 403) this.#status = "forbidden";
      else if (err instanceof ApiError && err.status === 404) this.#status = "not_found";
      else {
        this.#error = errorMessage(err);
        this.#status = "error";
      }
    }
  }

  /** Replace everything with a server snapshot. */
  applySnapshot(snapshot: RoomSnapshot): void {
    this.#room = snapshot.room;
    this.#role = snapshot.role;
    this.#members = snapshot.members;
    this.#messages = snapshot.messages;
    this.#files = snapshot.files;
    this.#seq = snapshot.seq;
    this.#status = "ready";
    this.#error = null;
  }

  /** Rename the room (owner only). @throws {ApiError} */
  async rename(name: string): Promise<void> {
    const room = await api.renameRoom(this.#id, name);
    if (room.id === this.#id) this.#room = room;
  }

  /** Add a member by username (owner only). @throws {ApiError} */
  async addMember(username: string): Promise<Member> {
    const id = this.#id;
    const member = await api.addMember(id, username);
    if (id === this.#id) this.upsertMember(member);
    return member;
  }

  /** Remove a member (owner only), or leave when `userId` is me. @throws {ApiError} */
  async removeMember(userId: string): Promise<void> {
    const id = this.#id;
    await api.removeMember(id, userId);
    if (id === this.#id) this.dropMember(userId);
  }

  /** Set the room's name (e.g. from a live "renamed" event). */
  setName(name: string): void {
    if (this.#room) this.#room = { ...this.#room, name };
  }

  /** Insert or replace a member. */
  upsertMember(member: Member): void {
    this.#members = [...this.#members.filter((m) => m.id !== member.id), member];
  }

  /** Remove a member from the list. */
  dropMember(userId: string): void {
    this.#members = this.#members.filter((m) => m.id !== userId);
  }

  /** Move the state forward to `seq` (for live events). */
  setSeq(seq: number): void {
    this.#seq = seq;
  }
}
