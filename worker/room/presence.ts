/**
 * Who has the room open. Kept up to date on connect and close, so a
 * reconnect storm of n sockets costs O(n), not O(n²) attachment reads; rebuilt
 * from the sockets' attachments after a wake. Changes go out in batches of
 * PRESENCE_BATCH_MS as one small `presence_changed` frame. Ephemeral: a
 * batch lost to an eviction is repaired by the full list every socket gets
 * when it (re)connects.
 */
import type { ServerFrame } from "#protocol";

/** Presence changes are sent in batches this long apart. */
export const PRESENCE_BATCH_MS = 250;

export class Presence {
  #online: Map<string, string> | undefined;
  readonly #queue = new Map<string, { username: string; online: boolean }>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The open sockets' identities (to rebuild after a wake). */
    private readonly current: () => Iterable<{ userId: string; username: string }>,
    private readonly broadcast: (frame: ServerFrame) => void,
  ) {}

  /** Distinct users with an open socket. */
  list(): { userId: string; username: string }[] {
    return [...this.#users()].map(([userId, username]) => ({ userId, username }));
  }

  /** A socket of `userId` opened; tells the others if it is their first. */
  joined(userId: string, username: string): void {
    const users = this.#users();
    const first = !users.has(userId);
    users.set(userId, username);
    if (first) this.#changed(userId, username, true);
  }

  /** `userId`'s last socket closed (or they were removed). */
  left(userId: string, username: string): void {
    if (this.#users().delete(userId)) this.#changed(userId, username, false);
  }

  #users(): Map<string, string> {
    this.#online ??= new Map([...this.current()].map((u) => [u.userId, u.username]));
    return this.#online;
  }

  #changed(userId: string, username: string, online: boolean): void {
    this.#queue.set(userId, { username, online });
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const changes = [...this.#queue];
      this.#queue.clear();
      this.broadcast({
        type: "presence_changed",
        online: changes.filter(([, c]) => c.online).map(([id, c]) => ({ userId: id, username: c.username })),
        offline: changes.filter(([, c]) => !c.online).map(([id]) => id),
      });
    }, PRESENCE_BATCH_MS);
  }
}
