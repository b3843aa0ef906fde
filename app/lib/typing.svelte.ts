/**
 * Typing indicators, both ways: {@link TypingIndicator} tracks who else is
 * typing or uploading (from the room's `typing` frames) and phrases it;
 * {@link TypingNotifier} turns my keystrokes into throttled `typing` frames.
 */
import { SvelteMap } from "svelte/reactivity";
import type { Activity } from "#protocol";

/** "alice", "alice and bob", "alice, bob and carol" — or null for more (say "Several people"). */
function listNames(names: readonly string[]): string | null {
  if (names.length === 1) return names[0]!;
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return null;
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and carol are typing…", "Several people are typing…". */
export function describeTyping(names: readonly string[]): string {
  if (names.length === 0) return "";
  const who = listNames(names);
  if (!who) return "Several people are typing…";
  return `${who} ${names.length === 1 ? "is" : "are"} typing…`;
}

/** "alice is uploading a file…", "alice and bob are uploading files…", "Several people are uploading files…". */
export function describeUploading(names: readonly string[]): string {
  if (names.length === 0) return "";
  const who = listNames(names);
  if (!who) return "Several people are uploading files…";
  return names.length === 1 ? `${who} is uploading a file…` : `${who} are uploading files…`;
}

/**
 * Who else is typing (or uploading a file) in the room right now. The room
 * announces each start once and each stop (explicit, on send, on expiry, on
 * disconnect), so there is no local expiry; it is cleared when the socket drops.
 */
export class TypingIndicator {
  /** "activity:userId" → who, in the order they started. */
  readonly #active = new SvelteMap<string, { userId: string; username: string }>();

  /** Usernames of the people typing, in the order they started. */
  readonly names: string[] = $derived(this.#who("typing").map((p) => p.username));

  /** Usernames of the people uploading a file. */
  readonly uploaders: string[] = $derived(this.#who("uploading").map((p) => p.username));

  /** A sentence for the indicator ("" when nobody is busy), with usernames. */
  readonly text: string = $derived(this.describe());

  /**
   * The sentence, naming each person with `nameOf` (e.g. their display name
   * in the room); reactive wherever it is read.
   */
  describe(nameOf: (userId: string, username: string) => string = (_id, username) => username): string {
    const named = (activity: Activity) => this.#who(activity).map((p) => nameOf(p.userId, p.username));
    return [describeTyping(named("typing")), describeUploading(named("uploading"))].filter(Boolean).join(" · ");
  }

  /** Record a `typing` frame (`activity` defaults to "typing"). */
  set(userId: string, username: string, on: boolean, activity: Activity = "typing"): void {
    const key = `${activity}:${userId}`;
    if (!on) this.#active.delete(key);
    else if (this.#active.get(key)?.username !== username) this.#active.set(key, { userId, username });
  }

  /** Forget everyone (the socket dropped: we can no longer tell). */
  clear(): void {
    this.#active.clear();
  }

  #who(activity: Activity): { userId: string; username: string }[] {
    const prefix = `${activity}:`;
    return [...this.#active].filter(([key]) => key.startsWith(prefix)).map(([, who]) => who);
  }
}

/** Options for {@link TypingNotifier}. */
export interface TypingNotifierOptions {
  /** Send `typing: true` at most this often while typing. */
  throttleMs?: number;
  /** Send `typing: false` after this long without a keystroke. */
  idleMs?: number;
}

/** Sends my `typing` frames: `true` at most every 3 s while I type, `false` when I stop, clear or send. */
export class TypingNotifier {
  readonly #send: (typing: boolean) => boolean;
  readonly #throttleMs: number;
  readonly #idleMs: number;
  #typing = false;
  #lastTrue = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;

  /** @param send sends one frame; returns false when it could not (no live socket). */
  constructor(send: (typing: boolean) => boolean, { throttleMs = 3_000, idleMs = 4_000 }: TypingNotifierOptions = {}) {
    this.#send = send;
    this.#throttleMs = throttleMs;
    this.#idleMs = idleMs;
  }

  /** The composer's text changed. */
  input(text: string, now = Date.now()): void {
    if (text.trim() === "") return this.stop();
    if (!this.#typing || now - this.#lastTrue >= this.#throttleMs) this.#announce(now);
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.stop(), this.#idleMs);
  }

  /** I sent, cleared the box, or went idle: say so once. */
  stop(): void {
    clearTimeout(this.#idle);
    this.#idle = undefined;
    if (!this.#typing) return;
    this.#typing = false;
    this.#send(false);
  }

  /**
   * A new connection knows nothing of my typing: if I am typing right now (a
   * keystroke less than idleMs ago, also one made before the socket was live),
   * it hears so at once; otherwise the next keystroke announces it.
   */
  reset(now = Date.now()): void {
    this.#typing = false;
    this.#lastTrue = 0;
    if (this.#idle !== undefined) this.#announce(now);
  }

  #announce(now: number): void {
    if (!this.#send(true)) return;
    this.#typing = true;
    this.#lastTrue = now;
  }

  /** Stop timers (leaving the page). */
  dispose(): void {
    clearTimeout(this.#idle);
    this.#idle = undefined;
  }
}
