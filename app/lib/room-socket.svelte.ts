/**
 * The live connection of one open room page to `/api/rooms/:id/ws`
 * (docs/protocol.md, "The room socket").
 *
 * It feeds the room's events into a {@link RoomState} (idempotently, by
 * `seq`, resuming with `after=` and reloading the snapshot on
 * `resync_required`) and its read receipts (`message_read` and, on every
 * (re)connect, `receipts` — ephemeral frames without a `seq`), keeps my
 * unsent messages in an {@link Outbox} until they are acknowledged, relays
 * typing and presence, and survives drops: heartbeat, full-jitter backoff
 * (the first retry 0–1 s, then doubling to 10 s), reconnect at once when the
 * browser comes back online or the tab becomes visible, and HTTP polling of
 * `/events?after=` while the socket is down. It drives the top bar's
 * {@link connection} indicator.
 *
 * Usage: `const socket = new RoomSocket({ room, userId })`, then
 * `socket.start()` once the room's snapshot is loaded, and `socket.dispose()`
 * when the page goes away.
 */
import { SvelteSet } from "svelte/reactivity";
import {
  type ClientFrame,
  CLOSE,
  HEARTBEAT,
  MessageText,
  PING_FRAME,
  type Receipt,
  RoomEvent,
  ServerFrame,
} from "#protocol";
import { api } from "./api.ts";
import { Backoff } from "./backoff.ts";
import { connection } from "./connection.svelte.ts";
import { ApiError } from "./http.ts";
import { Outbox, type OutboxEntry } from "./outbox.svelte.ts";
import { PendingRequests } from "./pending-requests.ts";
import { Poller } from "./poller.ts";
import type { RoomState } from "./room.svelte.ts";
import { TypingIndicator, TypingNotifier } from "./typing.svelte.ts";

/** "idle" before start; "connecting" during an attempt; "live" after `live`; "down" between attempts; "ended" for good. */
export type SocketStatus = "idle" | "connecting" | "live" | "down" | "ended";

/** Why the socket ended for good (close code 1008). */
export type EndReason = "removed" | "signed_out";

/** What {@link RoomSocket.send} did. */
export type SendResult = { ok: true; clientId: string } | { ok: false; error: string };

/** Options for {@link RoomSocket}. */
export interface RoomSocketOptions {
  /** The open room; must be loaded (status "ready") before {@link RoomSocket.start}. */
  room: RoomState;
  /** My user id (to recognise my own messages and typing). */
  userId: string;
  /** Called once if the room closes the socket for good (removed from the room, or signed out). */
  onend?: (reason: EndReason) => void;
  /**
   * Called for every event once the room has applied it — exactly once each,
   * in `seq` order, from the socket or the polling fallback (e.g. to feed a
   * files list, or the rooms list on a rename). Not called for events a
   * snapshot covered, nor for read receipts (they are not events).
   */
  onevent?: (event: RoomEvent) => void;
  /** The WebSocket constructor (injectable for tests). */
  WebSocket?: new (url: string) => WebSocket;
  /** Random numbers in [0, 1) for the backoff jitter (injectable for tests). */
  random?: () => number;
}

/** Poll `/events` this often while the socket is down. */
const POLL_MS = 5_000;
/** Give up on an edit/delete answer after this long. */
const OP_TIMEOUT_MS = 15_000;
const OPEN = 1;
/**
 * The `type`s of stored events (frames with `seq` and `ts`, applied in `seq` order), whatever the
 * protocol adds later. Read receipts (`message_read`, `receipts`) are not among them: they carry no
 * `seq`, so they never move the room's `seq` and can never look like a gap.
 */
const EVENT_TYPES: ReadonlySet<string> = new Set(RoomEvent.options.map((o) => o.shape.type.value));

const isEvent = (frame: ServerFrame): frame is RoomEvent => EVENT_TYPES.has(frame.type);

/** What arrived while a snapshot was loading, in arrival order: events, and receipts (which have no seq). */
type Buffered = { event: RoomEvent } | { receipts: readonly Receipt[] };

/** One room page's live connection. See the module comment. */
export class RoomSocket {
  #status = $state<SocketStatus>("idle");
  #ended = $state<EndReason | null>(null);
  readonly #online = new SvelteSet<string>();

  /** My messages that are not stored yet (render them after the room's messages). */
  readonly outbox = new Outbox((entry) => this.#sendEntry(entry));
  /** Who else is typing. */
  readonly typing = new TypingIndicator();

  readonly #room: RoomState;
  readonly #onend: ((reason: EndReason) => void) | undefined;
  readonly #onevent: ((event: RoomEvent) => void) | undefined;
  readonly #WebSocket: new (url: string) => WebSocket;
  readonly #backoff: Backoff;
  readonly #notifier: TypingNotifier;
  #me: string;

  #ws: WebSocket | null = null;
  /** The current socket said `hello` (it is a working connection, not a failed attempt). */
  #hello = false;
  /** Attempts in a row that never got a `hello`. */
  #failures = 0;
  #started = false;
  #disposed = false;
  /** Disposed or ending: nothing may reconnect or poll. */
  #stopped = false;
  #resyncing = false;
  /** Events and receipts that arrived while a snapshot was loading. */
  #buffer: Buffered[] = [];
  /**
   * The room `seq` up to which the receipts shown are known to be current: the
   * snapshot's, then the `seq` reached while the socket was last live. Polling
   * while down moves the room's `seq` on but brings no receipts, so a
   * reconnect asks from here (the replayed events we already have are
   * ignored) and its `receipts` frame covers every cursor that moved since.
   */
  #receiptsAt = 0;
  /** My edits and deletes, waiting for `done` / `error`. */
  readonly #ops = new PendingRequests<ClientFrame>(OP_TIMEOUT_MS);
  readonly #poller = new Poller((signal) => this.#pollOnce(signal), POLL_MS);
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param options see {@link RoomSocketOptions}. */
  constructor(options: RoomSocketOptions) {
    this.#room = options.room;
    this.#me = options.userId;
    this.#onend = options.onend;
    this.#onevent = options.onevent;
    this.#WebSocket = options.WebSocket ?? WebSocket;
    // After a drop the first retry waits 0–1 s (jittered, so a room's clients do not return together),
    // then full jitter with the step doubling up to 10 s; reset once a connection reaches `live`.
    this.#backoff = new Backoff(1_000, 10_000, options.random);
    this.#notifier = new TypingNotifier((typing) => this.#sendFrame({ type: "typing", typing }));
  }

  /** Where the connection is (see {@link SocketStatus}). */
  get status(): SocketStatus {
    return this.#status;
  }

  /** Why the socket ended for good, or null while it may still (re)connect. */
  get ended(): EndReason | null {
    return this.#ended;
  }

  /** Ids of the users who have the room open now (from `presence`; empty while disconnected). */
  get online(): ReadonlySet<string> {
    return this.#online;
  }

  /** My unsent messages, oldest first. */
  get pending(): readonly OutboxEntry[] {
    return this.outbox.entries;
  }

  // ------------------------------------------------------------ lifecycle

  /** Connect (once). Call after the room's snapshot has loaded. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#receiptsAt = this.#room.seq;
    window.addEventListener("online", this.#onOnline);
    window.addEventListener("offline", this.#onOffline);
    document.addEventListener("visibilitychange", this.#onVisibility);
    if (navigator.onLine === false) this.#onOffline();
    else this.#connect();
  }

  /** Leave: close the socket (1000), remove listeners, stop every timer. */
  dispose(): void {
    this.#disposed = true;
    this.#shutDown();
    connection.release("room");
  }

  // ------------------------------------------------------------ my actions

  /**
   * Send a message: it shows at once in {@link RoomSocket.pending} and goes out
   * now or as soon as the socket is live, until acknowledged.
   * @returns `{ ok: false, error }` when the text is not acceptable (empty, too long…).
   */
  send(text: string): SendResult {
    const checked = MessageText.safeParse(text);
    if (!checked.success) return { ok: false, error: checked.error.issues[0]?.message ?? "This message cannot be sent." };
    if (this.#stopped) return { ok: false, error: "This room is no longer connected." };
    this.#notifier.stop();
    const entry = this.outbox.add(checked.data);
    this.#sendEntry(entry);
    return { ok: true, clientId: entry.clientId };
  }

  /** Try a failed message again, with the same client id. */
  retry(clientId: string): void {
    const entry = this.outbox.update(clientId, { state: "pending", error: null, retryAt: null });
    if (entry) this.#sendEntry(entry);
  }

  /** Drop an unsent message. */
  discard(clientId: string): void {
    this.outbox.remove(clientId);
  }

  /**
   * Edit one of my messages. Resolves once the room applied it.
   * @throws {Error} with a sentence for the user when refused or unanswered.
   */
  edit(messageId: string, text: string): Promise<void> {
    const checked = MessageText.safeParse(text);
    if (!checked.success) return Promise.reject(new Error(checked.error.issues[0]?.message ?? "Invalid message."));
    const body = checked.data;
    return this.#op({ type: "edit", ref: crypto.randomUUID(), messageId, text: body }, () =>
      api.editMessage(this.#room.id, messageId, body),
    );
  }

  /**
   * Delete a message (mine, or anyone's as the room's owner). Resolves once applied.
   * @throws {Error} with a sentence for the user when refused or unanswered.
   */
  delete(messageId: string): Promise<void> {
    return this.#op({ type: "delete", ref: crypto.randomUUID(), messageId }, () =>
      api.deleteMessage(this.#room.id, messageId),
    );
  }

  /**
   * Mark read up to `seq` (a message's seq; the latest for "mark all read").
   * Shown at once here; the room answers with a receipt, and the new count
   * reaches every tab's badge through the badge socket. Over HTTP while the
   * socket is down.
   */
  markRead(seq: number): void {
    const me = this.#room.reads.receipts.find((r) => r.userId === this.#me);
    this.#room.reads.advance(this.#me, me?.username ?? "", seq);
    if (!this.#sendFrame({ type: "read", seq })) void api.markRead(this.#room.id, seq).catch(() => undefined);
  }

  /** Mark unread from `seq` on (the explicit move back); the room's `message_read` frame updates the view. */
  markUnread(seq: number): void {
    if (!this.#sendFrame({ type: "mark_unread", seq })) void api.markUnread(this.#room.id, seq).catch(() => undefined);
  }

  /** The composer's text changed: announce typing (throttled), or stop when it was cleared. */
  composing(text: string): void {
    this.#notifier.input(text);
  }

  /** I stopped typing (sent, or left the composer empty). */
  stopComposing(): void {
    this.#notifier.stop();
  }

  // ------------------------------------------------------------ connection

  #connect(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (this.#stopped) return;
    this.#abandon();
    if (navigator.onLine === false) return this.#goDown(false);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // Resume events from our seq — or from earlier, if polling moved it on without receipts (see #receiptsAt).
    const after = Math.min(this.#room.seq, this.#receiptsAt);
    const url = `${scheme}//${location.host}/api/rooms/${encodeURIComponent(this.#room.id)}/ws?after=${after}`;
    this.#status = "connecting";
    connection.set("connecting");
    let ws: WebSocket;
    try {
      ws = new this.#WebSocket(url);
    } catch (err) {
      console.warn("Could not open the room socket:", err);
      return this.#goDown(true);
    }
    this.#ws = ws;
    this.#hello = false;
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      this.#pingTimer = setInterval(() => this.#ping(), HEARTBEAT.pingMs);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws === this.#ws) this.#onMessage(event.data);
    };
    ws.onclose = (event: CloseEvent) => {
      if (ws === this.#ws) this.#onClose(event.code, event.reason);
    };
    // A connection that never says hello is as good as dead.
    this.#connectTimer = setTimeout(() => {
      if (ws === this.#ws && !this.#hello) this.#lost();
    }, HEARTBEAT.pongTimeoutMs);
    this.#poller.start();
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

  /** The current socket cannot be trusted (no pong, no hello, a gap): drop it and reconnect. */
  #lost(): void {
    const failed = !this.#hello;
    this.#abandon(4000, "unresponsive");
    this.#goDown(failed);
  }

  #onClose(code: number, reason: string): void {
    const failed = !this.#hello;
    this.#abandon();
    if (code === CLOSE.policy) return void this.#end(reason);
    if (code === CLOSE.tooManyConnections) this.#backoff.toMax();
    this.#goDown(failed);
  }

  /** Not connected: poll, and schedule the next attempt (unless the browser is offline: `online` will). */
  #goDown(failed: boolean): void {
    if (this.#stopped) return;
    // Receipts were live until now; from here only polling (which carries none) moves the seq on.
    if (this.#status === "live") this.#receiptsAt = this.#room.seq;
    if (failed) this.#failures++;
    this.#status = "down";
    this.typing.clear();
    this.#online.clear();
    this.#poller.start();
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (navigator.onLine === false) return connection.set("offline");
    connection.set(this.#failures > 0 ? "offline" : "connecting");
    this.#reconnectTimer = setTimeout(() => this.#connect(), this.#backoff.next());
  }

  #goLive(): void {
    this.#status = "live";
    this.#failures = 0;
    this.#backoff.reset();
    connection.set("connected");
    this.#poller.stop();
    this.#notifier.reset();
    for (const entry of this.outbox.sendable()) this.#sendFrame({ type: "send", clientId: entry.clientId, text: entry.text });
    for (const frame of this.#ops.frames()) this.#sendFrame(frame);
  }

  #ping(): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return;
    ws.send(PING_FRAME);
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

  readonly #onVisibility = (): void => {
    if (document.visibilityState === "visible") this.#wake();
  };

  /** Reconnect now (skipping the backoff wait), or check a live socket with a ping. */
  #wake(): void {
    if (this.#stopped) return;
    if (this.#status === "live") this.#ping();
    // An attempt in flight has its own timeout; otherwise connect without waiting.
    else if (this.#status !== "connecting") this.#connect();
  }

  /** The room closed us with 1008: removed from the room, or signed out. Work out which, then stop. */
  async #end(reason: string): Promise<void> {
    this.#stopped = true;
    let why: EndReason = /signed out/i.test(reason) ? "signed_out" : "removed";
    if (why === "removed") {
      try {
        await api.me();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) why = "signed_out";
      }
    }
    this.#finish(why);
  }

  #finish(why: EndReason): void {
    if (this.#ended || this.#disposed) return;
    this.#shutDown();
    this.#ended = why;
    this.#status = "ended";
    connection.set("offline");
    this.#onend?.(why);
  }

  #shutDown(): void {
    this.#stopped = true;
    window.removeEventListener("online", this.#onOnline);
    window.removeEventListener("offline", this.#onOffline);
    document.removeEventListener("visibilitychange", this.#onVisibility);
    clearTimeout(this.#reconnectTimer);
    this.#poller.stop();
    this.#abandon(1000, "left the room");
    this.#notifier.dispose();
    this.typing.clear();
    this.#online.clear();
    this.outbox.dispose();
    this.#ops.rejectAll(new Error("The room is no longer connected."));
    if (this.#status !== "ended") this.#status = "idle";
  }

  // ------------------------------------------------------------ frames in

  #onMessage(data: unknown): void {
    clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
    let json: unknown;
    try {
      json = typeof data === "string" ? JSON.parse(data) : undefined;
    } catch {
      json = undefined;
    }
    const parsed = ServerFrame.safeParse(json);
    if (!parsed.success) {
      console.warn("Ignoring an invalid frame from the room:", data);
      return;
    }
    const frame = parsed.data;
    if (isEvent(frame)) {
      if (this.#apply(frame) === "gap") this.#lost();
      return;
    }
    switch (frame.type) {
      case "hello":
        this.#hello = true;
        this.#me = frame.userId;
        this.#failures = 0;
        clearTimeout(this.#connectTimer);
        connection.set("connected");
        return;
      case "live":
        return this.#goLive();
      case "resync_required":
        return void this.#resync();
      case "ack":
        return this.#ack(frame.clientId, frame.messageId, frame.seq);
      case "done":
        return this.#ops.settle(frame.ref);
      case "error":
        return this.#error(frame.code, frame.message, frame.clientId, frame.ref, frame.retryAfter);
      case "typing":
        if (frame.userId !== this.#me) this.typing.set(frame.userId, frame.username, frame.typing, frame.activity);
        return;
      case "presence":
        this.#online.clear();
        for (const user of frame.users) this.#online.add(user.userId);
        return;
      case "presence_changed":
        for (const user of frame.online) this.#online.add(user.userId);
        for (const id of frame.offline) this.#online.delete(id);
        return;
      case "message_read":
        return this.#receipts([frame.receipt]);
      case "receipts":
        return this.#receipts(frame.receipts);
      case "pong":
        return;
    }
  }

  /** Apply read receipts (or hold them, in order with events, while a snapshot loads). Never touches `seq`. */
  #receipts(receipts: readonly Receipt[]): void {
    if (this.#resyncing) this.#buffer.push({ receipts });
    else this.#room.applyReceipts(receipts);
  }

  /** Apply one event (or hold it while a snapshot loads); settle my outbox against it. */
  #apply(event: RoomEvent): "applied" | "stale" | "gap" {
    if (this.#resyncing) {
      this.#buffer.push({ event });
      return "stale";
    }
    const result = this.#room.applyEvent(event);
    if (result === "applied") {
      if (event.type === "message" && event.message.userId === this.#me) this.discard(event.message.clientId);
      this.outbox.settle(this.#room.seq);
      this.#onevent?.(event);
    }
    return result;
  }

  #ack(clientId: string, messageId: string, seq: number): void {
    if (!this.outbox.get(clientId)) return;
    if (this.#room.message(messageId) || seq <= this.#room.seq) this.discard(clientId);
    // Stored, but its event is still on the way: keep showing the copy until it lands.
    else this.outbox.update(clientId, { ackedSeq: seq, state: "pending", error: null });
  }

  #error(code: string, message: string, clientId?: string, ref?: string, retryAfter?: number): void {
    if (clientId && this.outbox.get(clientId)) {
      // Rate-limited: resend by itself once the pause is over.
      if (code === "rate_limited") return this.outbox.pause(clientId, (retryAfter ?? 1) * 1000);
      this.outbox.update(clientId, { state: "failed", error: message, retryAt: null });
      return;
    }
    if (ref && this.#ops.has(ref)) return this.#ops.settle(ref, new Error(message));
    console.warn(`The room refused a frame (${code}): ${message}`);
  }

  /** `resync_required`, or `/events` said 409: reload the snapshot, then apply what arrived meanwhile. */
  async #resync(): Promise<void> {
    if (this.#resyncing || this.#stopped) return;
    this.#resyncing = true;
    let ok: boolean;
    try {
      ok = await this.#room.load();
    } finally {
      this.#resyncing = false;
    }
    const buffered = this.#buffer;
    this.#buffer = [];
    if (this.#stopped) return;
    if (!ok) {
      // The events come again with the next connection's replay; receipts are current as they are.
      for (const item of buffered) if ("receipts" in item) this.#receipts(item.receipts);
      const status = this.#room.status;
      if (status === "forbidden" || status === "not_found") return this.#finish("removed");
      // Try again through a fresh connection (it will ask for a resync again).
      if (this.#status === "live") this.#lost();
      return;
    }
    // The snapshot's receipts are current at its seq.
    this.#receiptsAt = this.#room.seq;
    const messages = this.#room.messages;
    this.outbox.settle(this.#room.seq, (clientId) => messages.some((m) => m.clientId === clientId && m.userId === this.#me));
    let gap = false;
    for (const item of buffered) {
      if ("receipts" in item) this.#receipts(item.receipts);
      // After a gap no later event fits; the reconnect replays them. Receipts still apply.
      else if (!gap && this.#apply(item.event) === "gap") gap = true;
    }
    if (gap) this.#lost();
  }

  // ------------------------------------------------------------ polling while down

  /** One round of the fallback: fetch and apply what happened since `seq`. */
  async #pollOnce(signal?: AbortSignal): Promise<void> {
    if (this.#stopped || this.#resyncing || navigator.onLine === false) return;
    try {
      const page = await api.events(this.#room.id, this.#room.seq, { signal });
      for (const event of page.events) if (this.#apply(event) !== "applied") break;
    } catch (err) {
      if (signal?.aborted || !(err instanceof ApiError)) return;
      if (err.code === "resync_required") await this.#resync();
      else if (err.status === 403 || err.status === 404) this.#finish("removed");
      // Anything else (network, 5xx): the next round tries again. A 401 signs out app-wide.
    }
  }

  // ------------------------------------------------------------ frames out

  #sendFrame(frame: ClientFrame): boolean {
    const ws = this.#ws;
    if (this.#status !== "live" || !ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  #sendEntry(entry: OutboxEntry): void {
    if (entry.state === "pending" && entry.retryAt === null) {
      this.#sendFrame({ type: "send", clientId: entry.clientId, text: entry.text });
    }
  }

  /** Edit/delete: over the socket when live (answered by `done` / `error` with its ref), else over HTTP. */
  async #op(frame: ClientFrame & { ref: string }, overHttp: () => Promise<unknown>): Promise<void> {
    if (this.#stopped) throw new Error("This room is no longer connected.");
    if (this.#status !== "live") {
      await overHttp();
      // The change comes back as an event: fetch it now rather than at the next poll.
      void this.#poller.runNow();
      return;
    }
    const answered = this.#ops.add(frame.ref, frame);
    this.#sendFrame(frame);
    return answered;
  }
}
