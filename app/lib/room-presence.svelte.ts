/**
 * Who else is in the room right now, from the room socket's ephemeral frames:
 * who has it open (`presence` on connect, then `presence_changed`) and who is
 * typing or uploading (`typing`). Nothing of it survives a drop: the room
 * sync clears it when the socket goes down, and the next connection's
 * `presence` frame starts it over.
 */
import { SvelteSet } from "svelte/reactivity";
import type { ServerFrame } from "#protocol";
import { TypingIndicator } from "./typing.svelte.ts";

/** The frames {@link RoomPresence.apply} takes. */
export type PresenceFrame = Extract<ServerFrame, { type: "presence" | "presence_changed" | "typing" }>;

/** Presence and typing of one open room. */
export class RoomPresence {
  readonly #online = new SvelteSet<string>();
  /** Who else is typing or uploading. */
  readonly typing = new TypingIndicator();

  /** Ids of the users who have the room open now (empty while disconnected). */
  get online(): ReadonlySet<string> {
    return this.#online;
  }

  /** Apply a presence or typing frame; my own typing (`me`) is not shown. */
  apply(frame: PresenceFrame, me: string): void {
    switch (frame.type) {
      case "typing":
        if (frame.userId !== me) this.typing.set(frame.userId, frame.username, frame.typing, frame.activity);
        return;
      case "presence":
        this.#online.clear();
        for (const user of frame.users) this.#online.add(user.userId);
        return;
      case "presence_changed":
        for (const user of frame.online) this.#online.add(user.userId);
        for (const id of frame.offline) this.#online.delete(id);
        return;
    }
  }

  /** Forget everything (the socket dropped: we can no longer tell). */
  clear(): void {
    this.typing.clear();
    this.#online.clear();
  }
}
