/**
 * The live-connection indicator in the top bar. Several sockets report to it
 * (the badge socket on every page, the room socket on a room page); it shows
 * the worst of them, so "connected" means every live channel is up.
 */

/** The states the indicator can show. */
export type ConnectionState = "connected" | "connecting" | "offline";

/** Who reports: the room page's socket, or the app-wide badge socket. */
export type ConnectionSource = "room" | "badge";

const LABELS: Record<ConnectionState, string> = {
  connected: "Connected",
  connecting: "Connecting…",
  offline: "Offline",
};

const RANK: Record<ConnectionState, number> = { connected: 0, connecting: 1, offline: 2 };

/** The state of the live connections to the server. */
export class Connection {
  #sources = $state<Partial<Record<ConnectionSource, ConnectionState>>>({});

  /** The current (worst) state; "connecting" before any socket reported. */
  readonly state: ConnectionState = $derived.by(() => {
    const states = Object.values(this.#sources);
    if (states.length === 0) return "connecting";
    return states.reduce((worst, s) => (RANK[s] > RANK[worst] ? s : worst), "connected" as ConnectionState);
  });

  /** A short human label for the current state. */
  readonly label: string = $derived(LABELS[this.state]);

  /** Report a socket's state. */
  set(state: ConnectionState, source: ConnectionSource = "room"): void {
    this.#sources[source] = state;
  }

  /** A socket went away for good (its page closed): stop counting it. */
  release(source: ConnectionSource = "room"): void {
    delete this.#sources[source];
  }
}

/** The app-wide connection indicator. */
export const connection = new Connection();
