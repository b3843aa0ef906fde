/**
 * Who is signed in, and their unread counts (the top-bar badge and the
 * per-room counts). One shared instance, {@link session}.
 *
 * The badge is loaded over HTTP for now; a live source (the WebSocket) can
 * push fresh counts with {@link Session.setUnread} / {@link Session.setRoomUnread}.
 */
import type { UnreadCounts, User } from "../../worker/protocol.ts";
import { api, type CredentialsInput } from "./api.ts";
import { ApiError } from "./http.ts";

const NO_UNREAD: UnreadCounts = { total: 0, rooms: {} };

/** The signed-in user and their unread counts. */
export class Session {
  #me = $state.raw<User | null>(null);
  #unread = $state.raw<UnreadCounts>(NO_UNREAD);
  /** True once the server's complete counts arrived (then a room not listed has 0). */
  #complete = $state(false);
  /** True once we know whether someone is signed in (asked the server, or signed in/out here). */
  #resolved = false;
  /** Bumped on every sign-in/out so a slow unread fetch cannot overwrite a newer session. */
  #epoch = 0;

  /** The signed-in user, or null. */
  get me(): User | null {
    return this.#me;
  }

  /** Whether someone is signed in. */
  get signedIn(): boolean {
    return this.#me !== null;
  }

  /** The latest unread counts: `total` plus a `rooms` map of roomId → count. */
  get unread(): UnreadCounts {
    return this.#unread;
  }

  /** Total unread messages across all rooms. */
  readonly total: number = $derived(this.#unread.total);

  /** The document title: "(3) Parley" when there is something unread, else "Parley". */
  readonly title: string = $derived(this.#unread.total > 0 ? `(${this.#unread.total}) Parley` : "Parley");

  /**
   * Unread count for one room. Once the server's complete counts are known a
   * room without an entry has 0; before that, `fallback` (e.g. the room
   * list's own count).
   */
  unreadFor(roomId: string, fallback = 0): number {
    return this.#unread.rooms[roomId] ?? (this.#complete ? 0 : fallback);
  }

  /** Replace all unread counts with the server's complete ones (`GET /api/me/unread`, or the badge socket on connect). */
  setUnread(counts: UnreadCounts): void {
    this.#unread = { total: Math.max(0, counts.total), rooms: { ...counts.rooms } };
    this.#complete = true;
  }

  /** Set one room's unread count and adjust the total to match. */
  setRoomUnread(roomId: string, count: number): void {
    const before = this.#unread.rooms[roomId] ?? 0;
    const next = Math.max(0, count);
    if (before === next && roomId in this.#unread.rooms) return;
    this.#unread = {
      total: Math.max(0, this.#unread.total - before + next),
      rooms: { ...this.#unread.rooms, [roomId]: next },
    };
  }

  /** Drop a room from the counts (after leaving it or being removed). */
  forgetRoom(roomId: string): void {
    if (!(roomId in this.#unread.rooms)) return;
    const { [roomId]: gone = 0, ...rooms } = this.#unread.rooms;
    this.#unread = { total: Math.max(0, this.#unread.total - gone), rooms };
  }

  /**
   * Find out who is signed in, asking the server only the first time.
   * @returns the user, or null when signed out.
   * @throws {ApiError} when the server cannot be reached or fails.
   */
  async restore(): Promise<User | null> {
    if (this.#resolved) return this.#me;
    try {
      this.#setUser(await api.me());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.#setUser(null);
      else throw err;
    }
    return this.#me;
  }

  /** Sign in. @throws {ApiError} e.g. invalid_credentials, rate_limited. */
  async signIn(credentials: CredentialsInput): Promise<User> {
    const user = await api.login(credentials);
    this.#setUser(user);
    return user;
  }

  /** Create an account and sign in. @throws {ApiError} e.g. bad_request, username_taken. */
  async register(credentials: CredentialsInput): Promise<User> {
    const user = await api.register(credentials);
    this.#setUser(user);
    return user;
  }

  /** Sign out on the server, then forget the session here. @throws {ApiError} */
  async signOut(): Promise<void> {
    await api.logout();
    this.clear();
  }

  /** Forget the session locally (after sign-out, or when the server answered 401). */
  clear(): void {
    this.#setUser(null);
  }

  /** Reload the unread counts from the server. Failures are swallowed: the badge is best-effort. */
  async refreshUnread(): Promise<void> {
    if (!this.#me) return;
    const epoch = this.#epoch;
    try {
      const counts = await api.unread();
      if (epoch === this.#epoch) this.setUnread(counts);
    } catch (err) {
      console.warn("Could not load unread counts:", err);
    }
  }

  #setUser(user: User | null): void {
    this.#epoch++;
    this.#resolved = true;
    this.#me = user;
    this.#unread = NO_UNREAD;
    this.#complete = false;
  }
}

/** The app-wide session. */
export const session = new Session();
