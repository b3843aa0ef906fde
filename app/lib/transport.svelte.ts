/**
 * One reconnecting WebSocket, the transport under both of the SPA's live
 * channels (the room socket and the badge socket; docs/protocol.md,
 * "Heartbeat and close codes"). It knows nothing of what the frames mean:
 *
 * - connects to the path its owner gives for each attempt (so a resume can
 *   carry `after=`), parses every frame with the owner's schema and hands it
 *   over;
 * - heartbeat: `{"type":"ping"}` every {@link HEARTBEAT}.pingMs once open;
 *   no frame within `pongTimeoutMs` of a ping (or of the attempt, before the
 *   first frame) means the socket is dead: close it and reconnect;
 * - full-jitter backoff between attempts (the first 0–1 s, then doubling to
 *   10 s), the longest step after 4029, none at all after 1008 (the channel
 *   has ended: the owner's `onend` says why);
 * - reconnects at once when the browser comes back `online` or the tab becomes
 *   visible (a visible tab with a working socket checks it with a ping); never
 *   trusts a socket once the browser says it is offline;
 * - runs the owner's `poll` job while it is not up, and only then;
 * - reports to the top bar's {@link connection} indicator.
 *
 * The owner (a protocol layer) calls {@link Transport.up} once the
 * connection is working in its terms (the room's `live`, the badge's first
 * counts): that stops polling and resets the backoff.
 */
import type { z } from "zod";
import { CLOSE, HEARTBEAT, PING_FRAME, PONG_FRAME } from "#protocol";
import { Backoff } from "./backoff.ts";
import { connection as appConnection, type Connection, type ConnectionSource } from "./connection.svelte.ts";
import { Poller } from "./poller.ts";

/** "idle" before start; "connecting" during an attempt; "up" once the owner said so; "down" between attempts; "ended" for good. */
export type TransportStatus = "idle" | "connecting" | "up" | "down" | "ended";

/** What the transport needs of the browser around it (injectable for tests). */
export interface Surroundings {
  /** False when the browser knows it is offline. */
  readonly onLine: boolean;
  /** The `ws:` / `wss:` URL of a path on this origin. */
  socketUrl(path: string): string;
  /** Listen for the browser going online / offline and the tab becoming visible; returns the unsubscribe. */
  listen(on: { online: () => void; offline: () => void; visible: () => void }): () => void;
}

/** The real browser. */
export const browserSurroundings: Surroundings = {
  get onLine() {
    return navigator.onLine !== false;
  },
  socketUrl: (path) => `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`,
  listen(on) {
    const visibility = () => {
      if (document.visibilityState === "visible") on.visible();
    };
    window.addEventListener("online", on.online);
    window.addEventListener("offline", on.offline);
    document.addEventListener("visibilitychange", visibility);
    return () => {
      window.removeEventListener("online", on.online);
      window.removeEventListener("offline", on.offline);
      document.removeEventListener("visibilitychange", visibility);
    };
  },
};

/** The parts of a transport that tests replace. */
export interface TransportSeams {
  /** The WebSocket constructor. */
  WebSocket?: new (url: string) => WebSocket;
  /** Random numbers in [0, 1) for the backoff jitter. */
  random?: () => number;
  /** The browser (online state, events, origin). */
  surroundings?: Surroundings;
  /** The indicator to report to (the app-wide one by default). */
  connection?: Connection;
}

/** Options for {@link Transport}. */
export interface TransportOptions<F> extends TransportSeams {
  /** Which channel this is, for the connection indicator. */
  source: ConnectionSource;
  /** The path to connect to, asked before every attempt (e.g. `/api/rooms/x/ws?after=12`). */
  path: () => string;
  /** The schema every frame is parsed with; frames that do not parse are dropped. */
  frames: z.ZodType<F>;
  /** Called with each parsed frame of the current socket (pongs are the transport's own). */
  onframe: (frame: F) => void;
  /** Called whenever the channel is not connected any more (a drop, a failed attempt, offline); `wasUp` if it was up. */
  ondown?: (wasUp: boolean) => void;
  /** Called once when the server closed the channel for good (1008), with its close reason. */
  onend?: (reason: string) => void;
  /** One round of polling over HTTP; runs every `pollMs` while the channel is not up. */
  poll?: (signal: AbortSignal) => Promise<void>;
  /** How often to poll while not up. */
  pollMs?: number;
}

const OPEN = 1;

/** Parse a frame's text with `schema`; undefined for anything else. */
function parseFrame<F>(schema: z.ZodType<F>, data: unknown): F | undefined {
  let json: unknown;
  try {
    json = typeof data === "string" ? JSON.parse(data) : undefined;
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** A reconnecting WebSocket. See the module comment. */
export class Transport<F> {
  #status = $state<TransportStatus>("idle");
  readonly #o: TransportOptions<F>;
  readonly #WebSocket: new (url: string) => WebSocket;
  readonly #env: Surroundings;
  readonly #connection: Connection;
  readonly #backoff: Backoff;
  readonly #poller: Poller | null;

  #ws: WebSocket | null = null;
  /** The current socket sent a frame (it is a working connection, not a failed attempt). */
  #heard = false;
  /** Attempts in a row that never heard a frame: the indicator says "offline" rather than "connecting". */
  #failures = 0;
  #unlisten: (() => void) | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param options see {@link TransportOptions}. */
  constructor(options: TransportOptions<F>) {
    this.#o = options;
    this.#WebSocket = options.WebSocket ?? WebSocket;
    this.#env = options.surroundings ?? browserSurroundings;
    this.#connection = options.connection ?? appConnection;
    this.#backoff = new Backoff(1_000, 10_000, options.random);
    const poll = options.poll;
    this.#poller = poll
      ? new Poller(async (signal) => {
          if (this.#env.onLine) await poll(signal);
        }, options.pollMs ?? 5_000)
      : null;
  }

  /** Where the channel is (see {@link TransportStatus}). */
  get status(): TransportStatus {
    return this.#status;
  }

  /** Connect (once; a disposed or ended transport stays so). */
  start(): void {
    if (this.#status !== "idle") return;
    this.#status = "down";
    this.#unlisten = this.#env.listen({ online: this.#onOnline, offline: this.#onOffline, visible: this.#wake });
    if (this.#env.onLine) this.#connect();
    else this.#goDown(false);
  }

  /** The connection works (in the owner's terms): stop polling, reset the backoff, show "connected". */
  up(): void {
    if (this.#status !== "connecting") return;
    this.#status = "up";
    this.#failures = 0;
    this.#backoff.reset();
    this.#poller?.stop();
    this.#connection.set("connected", this.#o.source);
  }

  /** Send a text frame on the open socket. @returns false when there is none. */
  send(data: string): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(data);
    return true;
  }

  /** The current socket cannot be trusted (e.g. a gap in the events): drop it and reconnect after the backoff. */
  reconnect(): void {
    if (this.#ws) this.#lost();
  }

  /** Run one poll round now (e.g. to fetch the result of a change made over HTTP while down). */
  pollNow(): void {
    void this.#poller?.runNow();
  }

  /** Stop for good, showing "offline" (the channel cannot continue). */
  end(): void {
    if (this.#status === "ended") return;
    this.#shutDown();
    this.#connection.set("offline", this.#o.source);
  }

  /** Leave: close the socket (1000), stop every timer and listener, and stop counting in the indicator. */
  dispose(): void {
    this.#shutDown();
    this.#connection.release(this.#o.source);
  }

  #shutDown(): void {
    this.#status = "ended";
    this.#unlisten?.();
    this.#unlisten = null;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#poller?.stop();
    this.#abandon(1000, "bye");
  }

  #report(state: "connecting" | "offline"): void {
    this.#connection.set(state, this.#o.source);
  }

  #connect(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (this.#status === "ended") return;
    this.#abandon();
    if (!this.#env.onLine) return this.#goDown(false);
    this.#status = "connecting";
    this.#report(this.#failures > 0 ? "offline" : "connecting");
    let ws: WebSocket;
    try {
      ws = new this.#WebSocket(this.#env.socketUrl(this.#o.path()));
    } catch (err) {
      console.warn(`Could not open the ${this.#o.source} socket:`, err);
      return this.#goDown(true);
    }
    this.#ws = ws;
    this.#heard = false;
    ws.onopen = () => {
      if (ws === this.#ws) this.#pingTimer = setInterval(() => this.#ping(), HEARTBEAT.pingMs);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws === this.#ws) this.#onMessage(event.data);
    };
    ws.onclose = (event: CloseEvent) => {
      if (ws === this.#ws) this.#onClose(event.code, event.reason);
    };
    // A connection that never says anything is as good as dead.
    this.#connectTimer = setTimeout(() => {
      if (ws === this.#ws && !this.#heard) this.#lost();
    }, HEARTBEAT.pongTimeoutMs);
    this.#poller?.start();
  }

  /** Forget the current socket (closing it if needed) and its timers. Its late events are ignored. */
  #abandon(code = 1000, reason = ""): void {
    clearTimeout(this.#connectTimer);
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    this.#connectTimer = this.#pingTimer = this.#pongTimer = undefined;
    const ws = this.#ws;
    if (!ws) return;
    this.#ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      if (ws.readyState <= OPEN) ws.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  #onMessage(data: unknown): void {
    // Any frame proves the socket is alive.
    clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
    if (!this.#heard) {
      this.#heard = true;
      this.#failures = 0;
      clearTimeout(this.#connectTimer);
    }
    if (data === PONG_FRAME) return;
    const frame = parseFrame(this.#o.frames, data);
    if (frame === undefined) return console.warn(`Ignoring an invalid frame on the ${this.#o.source} socket:`, data);
    this.#o.onframe(frame);
  }

  #onClose(code: number, reason: string): void {
    const failed = !this.#heard;
    this.#abandon();
    if (code === CLOSE.policy) {
      // Removed, or signed out: reconnecting is pointless.
      this.end();
      this.#o.onend?.(reason);
      return;
    }
    if (code === CLOSE.tooManyConnections) this.#backoff.toMax();
    this.#goDown(failed);
  }

  /** The current socket is unresponsive (no pong, no first frame) or untrusted: drop it and go down. */
  #lost(): void {
    const failed = !this.#heard;
    this.#abandon(CLOSE.idle, "unresponsive");
    this.#goDown(failed);
  }

  /** Not connected: poll, and schedule the next attempt (unless the browser is offline: `online` will). */
  #goDown(failed: boolean): void {
    if (this.#status === "ended") return;
    const wasUp = this.#status === "up";
    if (failed) this.#failures++;
    this.#status = "down";
    this.#o.ondown?.(wasUp);
    this.#poller?.start();
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (!this.#env.onLine) return this.#report("offline");
    this.#report(this.#failures > 0 ? "offline" : "connecting");
    this.#reconnectTimer = setTimeout(() => this.#connect(), this.#backoff.next());
  }

  #ping(): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return;
    ws.send(PING_FRAME);
    // Counted from the first unanswered ping, not the latest.
    this.#pongTimer ??= setTimeout(() => {
      if (ws === this.#ws) this.#lost();
    }, HEARTBEAT.pongTimeoutMs);
  }

  readonly #onOffline = (): void => {
    // Chromium keeps a socket "open" while offline and silently holds its frames: never trust it.
    this.#abandon();
    this.#goDown(false);
  };

  readonly #onOnline = (): void => {
    this.#backoff.reset();
    this.#failures = 0;
    this.#wake();
  };

  /** Reconnect now (skipping the backoff wait), or check a working socket with a ping. */
  readonly #wake = (): void => {
    if (this.#status === "ended") return;
    if (this.#status === "up") this.#ping();
    // An attempt in flight has its own timeout; otherwise connect without waiting.
    else if (this.#status !== "connecting") this.#connect();
  };
}
