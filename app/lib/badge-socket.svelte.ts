/**
 * The badge socket (`/api/me/ws`): one per tab, on every signed-in page. The
 * server pushes `notification_count_update` with the numbers themselves, so a
 * count change never makes this tab ask for anything, and my room list's
 * changes: `room_added` (I was added to a room), `room_removed` (removed, or
 * I left) and `room_updated` (renamed), applied to the shared {@link rooms}
 * list wherever it is shown. On every (re)connect the server's full counts
 * replace ours. While the socket is down we poll `GET /api/me/unread` (and
 * only then), and keep retrying the socket with full-jitter backoff (the first
 * retry 0–1 s, then doubling to 10 s), at once when the browser comes back
 * online or the tab becomes visible.
 */
import { HubFrame, HEARTBEAT, PING_FRAME } from "#protocol";
import { Backoff } from "./backoff.ts";
import { connection } from "./connection.svelte.ts";
import { desktopNotifications } from "./desktop-notifications.svelte.ts";
import { Poller } from "./poller.ts";
import { rooms } from "./rooms.svelte.ts";
import { session } from "./session.svelte.ts";

/** How often the badge is polled while its socket is down. */
export const BADGE_POLL_MS = 10_000;

/** Close codes after which reconnecting is pointless (signed out). */
const POLICY = 1008;
const TOO_MANY = 4029;

export class BadgeSocket {
  #ws: WebSocket | null = null;
  #stopped = true;
  /** First retry 0–1 s after a drop, then full jitter doubling to 10 s; reset by a connection's first frame. */
  #backoff = new Backoff(1_000, 10_000);
  #retry: ReturnType<typeof setTimeout> | undefined;
  #ping: ReturnType<typeof setInterval> | undefined;
  #pongDue: ReturnType<typeof setTimeout> | undefined;
  #poller = new Poller(async () => session.refreshUnread(), BADGE_POLL_MS);
  #onWake = () => {
    if (document.visibilityState === "visible" && navigator.onLine) this.#reconnectNow();
  };
  #onOffline = () => this.#dead("offline");

  /** Start (idempotent). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    window.addEventListener("online", this.#onWake);
    window.addEventListener("offline", this.#onOffline);
    document.addEventListener("visibilitychange", this.#onWake);
    this.#connect();
  }

  /** Stop for good (signed out, or the shell unmounted). */
  stop(): void {
    this.#stopped = true;
    window.removeEventListener("online", this.#onWake);
    window.removeEventListener("offline", this.#onOffline);
    document.removeEventListener("visibilitychange", this.#onWake);
    clearTimeout(this.#retry);
    this.#clearHeartbeat();
    this.#poller.stop();
    const ws = this.#ws;
    this.#ws = null;
    ws?.close(1000, "bye");
    connection.release("badge");
  }

  #connect(): void {
    if (this.#stopped || this.#ws) return;
    if (navigator.onLine === false) return this.#dead("offline");
    connection.set(this.#backoff.attempt > 0 ? "offline" : "connecting", "badge");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/me/ws`;
    const ws = new WebSocket(url);
    this.#ws = ws;
    let heardAny = false;
    ws.addEventListener("message", (e) => {
      if (this.#ws !== ws) return;
      this.#heard();
      // The server answered on this socket: a healthy connection, so the next drop starts the backoff over.
      if (!heardAny) {
        heardAny = true;
        this.#backoff.reset();
      }
      const parsed = HubFrame.safeParse(safeJson(e.data));
      if (!parsed.success) return console.warn("badge socket: ignored an invalid frame");
      const f = parsed.data;
      switch (f.type) {
        case "notification_count_update":
          return this.#counts(f);
        case "room_added":
          session.rememberRoom(f.room.id);
          return rooms.upsert(f.room);
        case "room_removed":
          rooms.remove(f.roomId);
          return session.forgetRoom(f.roomId);
        case "room_updated":
          return rooms.patch(f.room.id, { name: f.room.name });
        case "pong":
          return;
      }
    });
    ws.addEventListener("open", () => {
      if (this.#ws !== ws) return;
      this.#startHeartbeat(ws);
    });
    ws.addEventListener("close", (e) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#clearHeartbeat();
      if (e.code === POLICY) {
        // Signed out elsewhere: nothing to reconnect to.
        connection.set("offline", "badge");
        return;
      }
      if (e.code === TOO_MANY) this.#backoff.toMax();
      this.#scheduleRetry();
    });
  }

  #counts(f: Extract<HubFrame, { type: "notification_count_update" }>): void {
    if (f.full) {
      // The server's numbers replace ours.
      session.setUnread({ total: f.total, rooms: f.rooms });
      this.#poller.stop();
      connection.set("connected", "badge");
      return;
    }
    if (f.trigger === "new_message" || f.trigger === "file_upload") {
      for (const [roomId, n] of Object.entries(f.rooms)) desktopNotifications.roomActivity(roomId, n - session.unreadFor(roomId));
    }
    // Merge the rooms that changed; the frame's total is the server's (it covers every room).
    session.mergeUnread({ total: f.total, rooms: f.rooms });
  }

  /** Treat the socket as dead (offline event, missed pong): poll and retry. */
  #dead(state: "offline" | "connecting"): void {
    const ws = this.#ws;
    this.#ws = null;
    this.#clearHeartbeat();
    ws?.close(4000, "dead");
    connection.set(state, "badge");
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    connection.set("offline", "badge");
    this.#poller.start();
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#connect(), this.#backoff.next());
  }

  #reconnectNow(): void {
    if (this.#stopped || this.#ws) return;
    clearTimeout(this.#retry);
    this.#connect();
  }

  #startHeartbeat(ws: WebSocket): void {
    this.#clearHeartbeat();
    this.#ping = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(PING_FRAME);
      clearTimeout(this.#pongDue);
      this.#pongDue = setTimeout(() => this.#dead("connecting"), HEARTBEAT.pongTimeoutMs);
    }, HEARTBEAT.pingMs);
  }

  /** Any frame proves the socket is alive. */
  #heard(): void {
    clearTimeout(this.#pongDue);
    this.#pongDue = undefined;
  }

  #clearHeartbeat(): void {
    clearInterval(this.#ping);
    clearTimeout(this.#pongDue);
    this.#ping = undefined;
    this.#pongDue = undefined;
  }
}

function safeJson(data: unknown): unknown {
  try {
    return typeof data === "string" ? JSON.parse(data) : null;
  } catch {
    return null;
  }
}

/** The tab's badge socket. */
export const badgeSocket = new BadgeSocket();
