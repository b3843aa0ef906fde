/**
 * The live-connection indicator in the top bar. Nothing drives it yet: the
 * WebSocket client will call {@link Connection.set} as it connects and drops.
 */

/** The states the indicator can show. */
export type ConnectionState = "connected" | "connecting" | "offline";

const LABELS: Record<ConnectionState, string> = {
  connected: "Connected",
  connecting: "Connecting…",
  offline: "Offline",
};

/** The state of the live connection to the server. */
export class Connection {
  #state = $state<ConnectionState>("connecting");

  /** The current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** A short human label for the current state. */
  readonly label: string = $derived(LABELS[this.#state]);

  /** Report a new connection state. */
  set(state: ConnectionState): void {
    this.#state = state;
  }
}

/** The app-wide connection indicator. */
export const connection = new Connection();
