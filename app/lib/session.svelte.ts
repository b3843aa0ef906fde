/**
 * Who is signed in, and their unread counts (the top-bar badge and the
 * per-room counts). One shared instance, {@link session}.
 *
 * The counts come from the badge socket ({@link Session.setUnread} for its
 * full frame on connect, {@link Session.mergeUnread} for changes,
 * {@link Session.forgetRoom} on `room_removed`) and from `GET /api/me/unread`
 * while it is down.
 *
 * It also runs my account settings (display name, password, sign out
 * everywhere, deletion), and {@link Session.verify} finds out whether a
 * socket closed as "signed out" means this tab's session is gone.
 */
import { SvelteSet } from "svelte/reactivity";
import type { UnreadCounts, User } from "#protocol";
import { api, type CredentialsInput } from "./api.ts";
import { clearSavedOutboxes } from "./outbox-store.ts";
import { ApiError, notifyUnauthorized } from "./http.ts";

const NO_UNREAD: UnreadCounts = { total: 0, rooms: {} };

/** The signed-in user and their unread counts. */
export class Session {
  #me = $state.raw<User | null>(null);
  #unread = $state.raw<UnreadCounts>(NO_UNREAD);
  /** True once the server's complete counts arrived (then a room not listed has 0). */
  #complete = $state(false);
  /** Rooms I am no longer in (since the last complete counts): a late count for one is not shown again. */
  readonly #gone = new SvelteSet<string>();
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

  /** My mention counts (per room and in total), beside the unread ones. */
  #mentions = $state.raw<{ total: number; rooms: Record<string, number> }>({ total: 0, rooms: {} });

  /** Mentions of me not yet read in one room. */
  mentionsFor(roomId: string, fallback = 0): number {
    return this.#mentions.rooms[roomId] ?? (this.#complete ? 0 : fallback);
  }

  /** Mentions of me not yet read, in all rooms. */
  get mentionTotal(): number {
    return this.#mentions.total;
  }

  /** Replace all unread counts with the server's complete ones (`GET /api/me/unread`, or the badge socket on connect). */
  setUnread(counts: UnreadCounts): void {
    this.#mentions = { total: Math.max(0, counts.mentions?.total ?? 0), rooms: { ...counts.mentions?.rooms } };
    this.#unread = { total: Math.max(0, counts.total), rooms: { ...counts.rooms } };
    this.#complete = true;
    this.#gone.clear();
  }

  /**
   * Merge a badge frame's changed rooms; its `total` is the server's (it covers every room).
   * Counts for rooms I have left or been removed from are dropped.
   */
  mergeUnread(counts: UnreadCounts): void {
    if (counts.mentions) {
      const m = { ...this.#mentions.rooms };
      for (const [roomId, n] of Object.entries(counts.mentions.rooms)) if (!this.#gone.has(roomId)) m[roomId] = n;
      this.#mentions = { total: Math.max(0, counts.mentions.total), rooms: m };
    }
    const rooms = { ...this.#unread.rooms };
    for (const [roomId, n] of Object.entries(counts.rooms)) if (!this.#gone.has(roomId)) rooms[roomId] = n;
    this.#unread = { total: Math.max(0, counts.total), rooms };
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

  /**
   * Drop a room from the counts (after leaving it or being removed: `room_removed`).
   *
   * The server also sends a badge frame with the new total, before or after
   * this. If it came first, its total no longer includes the room, even
   * though the room's entry may still be here (when the frame did not list
   * it): then the remaining rooms already add up to the total and nothing more
   * is subtracted. Otherwise the room's count comes off the total here, and
   * the later frame's total agrees.
   */
  forgetRoom(roomId: string): void {
    this.#gone.add(roomId);
    if (!(roomId in this.#unread.rooms)) return;
    const { [roomId]: count = 0, ...rooms } = this.#unread.rooms;
    const { total } = this.#unread;
    const rest = Object.values(rooms).reduce((sum, n) => sum + n, 0);
    this.#unread = { total: Math.max(0, Math.min(total, Math.max(total - count, rest))), rooms };
  }

  /** I am in this room (again): its counts count. */
  rememberRoom(roomId: string): void {
    this.#gone.delete(roomId);
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
    const me = this.#me?.id;
    await api.logout();
    await this.#forget(me);
  }

  /** Set my display name (`null` clears it). @throws {ApiError} e.g. bad_request, rate_limited. */
  async setDisplayName(displayName: string | null): Promise<User> {
    const user = await api.updateMe(displayName);
    if (user.id === this.#me?.id) this.#me = user;
    return user;
  }

  /** Change my password: my other sessions are signed out, this one stays. @throws {ApiError} e.g. invalid_credentials, rate_limited. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.#guard(api.changePassword(currentPassword, newPassword));
  }

  /** End every session of mine (this one too), then forget it here. @throws {ApiError} */
  async signOutEverywhere(): Promise<void> {
    const me = this.#me?.id;
    await this.#guard(api.signOutEverywhere());
    await this.#forget(me);
  }

  /** Delete my account (its password again), then forget the session here. @throws {ApiError} e.g. invalid_credentials, rate_limited. */
  async deleteAccount(password: string): Promise<void> {
    const me = this.#me?.id;
    await this.#guard(api.deleteAccount(password));
    await this.#forget(me);
  }

  /**
   * A socket was closed as "signed out" (here or elsewhere: sign out
   * everywhere, a password change, a deleted account): ask the server. If
   * this session is gone, the app's 401 handler runs (it goes to sign-in);
   * if not, my details are refreshed.
   */
  async verify(): Promise<void> {
    if (!this.#me) return;
    const epoch = this.#epoch;
    try {
      const user = await api.me();
      if (epoch === this.#epoch && user.id === this.#me?.id) this.#me = user;
    } catch (err) {
      if (epoch === this.#epoch && this.#me && err instanceof ApiError && err.status === 401) notifyUnauthorized();
    }
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

  /** A settings call that opted out of the 401 handler (a wrong password is a 401 too): any other 401 means the session is gone. */
  async #guard<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && err.code !== "invalid_credentials") notifyUnauthorized();
      throw err;
    }
  }

  /** After the session ended on the server: unsent messages stay across a reload, not across a sign-out (a shared computer). */
  async #forget(userId: string | undefined): Promise<void> {
    if (userId) await clearSavedOutboxes(userId);
    this.clear();
  }

  #setUser(user: User | null): void {
    this.#epoch++;
    this.#resolved = true;
    this.#me = user;
    this.#unread = NO_UNREAD;
    this.#complete = false;
    this.#gone.clear();
  }
}

/** The app-wide session. */
export const session = new Session();
