/**
 * The room protocol of one open room page, on a {@link Transport} to
 * `/api/rooms/:id/ws` (docs/protocol.md, "The room socket"): the room's
 * events into a {@link RoomState} in `seq` order, once each (resuming with
 * `after=`; on `resync_required` the snapshot is reloaded and what arrives
 * meanwhile is held back, then applied); read receipts (`message_read`, and
 * `receipts` on every connect); my unsent messages in an {@link Outbox}
 * until acknowledged (resent with the same `clientId` after a reconnect);
 * edits and deletes (over HTTP while down); typing and presence; and polling
 * of `/events?after=` while the socket is down. The transport does the rest.
 *
 * Usage: `new RoomSync({ room, userId, onend, onevent })`, `start()` once the
 * room's snapshot is loaded, `dispose()` when the page goes away.
 */
import { type ClientFrame, isStoredEvent, MessageText, type Receipt, type RoomEvent, ServerFrame } from "#protocol";
import { api } from "./api.ts";
import { ApiError } from "./http.ts";
import { Outbox, type OutboxEntry, sendFrameOf } from "./outbox.svelte.ts";
import { savedOutbox } from "./outbox-store.ts";
import { PendingRequests } from "./pending-requests.ts";
import { RoomPresence } from "./room-presence.svelte.ts";
import type { RoomState } from "./room.svelte.ts";
import { Transport, type TransportSeams } from "./transport.svelte.ts";
import { TypingNotifier } from "./typing.svelte.ts";

/** Why the room ended for good (close code 1008, or the room answered 403 / 404). */
export type EndReason = "removed" | "signed_out";

/** What {@link RoomSync.send} did. */
export type SendResult = { ok: true; clientId: string } | { ok: false; error: string };

/** Options for {@link RoomSync}. */
export interface RoomSyncOptions extends TransportSeams {
  /** The open room; must be loaded (status "ready") before {@link RoomSync.start}. */
  room: RoomState;
  /** My user id (to recognise my own messages and typing). */
  userId: string;
  /** Called once if the room ends for good (removed from the room, or signed out). */
  onend?: (reason: EndReason) => void;
  /**
   * Called for every event once the room has applied it — exactly once each,
   * in `seq` order, from the socket or the polling fallback (e.g. to keep the
   * rooms list in step with a rename). Not called for events a snapshot
   * covered, nor for read receipts (they are not events).
   */
  onevent?: (event: RoomEvent) => void;
}

/** Poll `/events` this often while the socket is down. */
const POLL_MS = 5_000;
/** Give up on an edit/delete answer after this long. */
const OP_TIMEOUT_MS = 15_000;
const GONE = "This room is no longer connected.";

/** What arrived while a snapshot was loading, in arrival order: events, and receipts (which have no seq). */
type Buffered = { event: RoomEvent } | { receipts: readonly Receipt[] };

/** One room page's live sync. See the module comment. */
export class RoomSync {
  #ended = $state<EndReason | null>(null);
  /** My messages that are not stored yet, oldest first (render them after the room's messages). */
  readonly outbox: Outbox;
  /** Who has the room open, and who else is typing. */
  readonly presence = new RoomPresence();

  readonly #room: RoomState;
  readonly #onend: ((reason: EndReason) => void) | undefined;
  readonly #onevent: ((event: RoomEvent) => void) | undefined;
  readonly #transport: Transport<ServerFrame>;
  readonly #notifier = new TypingNotifier((typing) => this.#sendFrame({ type: "typing", typing }));
  /** My edits and deletes, waiting for `done` / `error`. */
  readonly #ops = new PendingRequests<ClientFrame>(OP_TIMEOUT_MS);
  #me: string;
  /** Disposed or ending: nothing may reconnect, poll or send. */
  #stopped = false;
  #disposed = false;
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

  /** @param options see {@link RoomSyncOptions}. */
  constructor(options: RoomSyncOptions) {
    const { room, userId, onend, onevent, ...seams } = options;
    this.#room = room;
    this.#me = userId;
    this.#onend = onend;
    this.#onevent = onevent;
    // Unsent messages survive a reload (R18): restored, settled against what is loaded, sent once live.
    this.outbox = new Outbox((entry) => this.#sendEntry(entry), undefined, savedOutbox(userId, room.id));
    void this.outbox.restored.then((back) => {
      if (room.status === "ready") this.outbox.settle(room.seq, (id) => room.messages.some((m) => m.clientId === id && m.userId === userId));
      if (!this.#stopped && this.#live) for (const e of back) if (this.outbox.get(e.clientId)) this.#sendEntry(e);
    });
    this.#transport = new Transport({
      ...seams,
      source: "room",
      // Resume from our seq — or from earlier, if polling moved it on without receipts (see #receiptsAt).
      path: () => `/api/rooms/${encodeURIComponent(room.id)}/ws?after=${Math.min(room.seq, this.#receiptsAt)}`,
      frames: ServerFrame,
      onframe: (frame) => this.#onFrame(frame),
      ondown: (wasUp) => {
        // Receipts were live until now; from here only polling (which carries none) moves the seq on.
        if (wasUp) this.#receiptsAt = room.seq;
        this.presence.clear();
      },
      onend: (reason) => void this.#end(reason),
      poll: (signal) => this.#pollOnce(signal),
      pollMs: POLL_MS,
    });
  }

  /** Why the room ended for good, or null while it may still (re)connect. */
  get ended(): EndReason | null {
    return this.#ended;
  }

  /** Whether the socket is live (frames go out on it, not over HTTP). */
  get #live(): boolean {
    return this.#transport.status === "up";
  }

  // ------------------------------------------------------------ lifecycle

  /** Connect (once). Call after the room's snapshot has loaded. */
  start(): void {
    if (this.#stopped || this.#transport.status !== "idle") return;
    this.#receiptsAt = this.#room.seq;
    this.#transport.start();
  }

  /** Leave: close the socket, stop every timer. */
  dispose(): void {
    this.#disposed = true;
    this.#shutDown();
    this.#transport.dispose();
  }

  #shutDown(): void {
    this.#stopped = true;
    this.#notifier.dispose();
    this.presence.clear();
    this.outbox.dispose();
    this.#ops.rejectAll(new Error(GONE));
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
    this.#transport.end();
    this.#ended = why;
    this.#onend?.(why);
  }

  // ------------------------------------------------------------ my actions

  /**
   * Send a message — with `threadOf`, a reply in that message's (or file's)
   * thread: it shows at once in {@link RoomSync.outbox} and goes out
   * now or as soon as the socket is live, until acknowledged (also after a reload).
   * @returns `{ ok: false, error }` when the text is not acceptable (empty, too long…).
   */
  send(text: string, threadOf: string | null = null): SendResult {
    const checked = MessageText.safeParse(text);
    if (!checked.success) return { ok: false, error: checked.error.issues[0]?.message ?? "This message cannot be sent." };
    if (this.#stopped) return { ok: false, error: GONE };
    this.#notifier.stop();
    const entry = this.outbox.add(checked.data, Date.now(), threadOf);
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
    return this.#op({ type: "delete", ref: crypto.randomUUID(), messageId }, () => api.deleteMessage(this.#room.id, messageId));
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

  // ------------------------------------------------------------ frames in

  #onFrame(frame: ServerFrame): void {
    if (isStoredEvent(frame)) {
      if (this.#apply(frame) === "gap") this.#transport.reconnect();
      return;
    }
    switch (frame.type) {
      case "hello":
        this.#me = frame.userId;
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
      case "message_read":
        return this.#receipts([frame.receipt]);
      case "receipts":
        return this.#receipts(frame.receipts);
      case "typing":
      case "presence":
      case "presence_changed":
        return this.presence.apply(frame, this.#me);
    }
  }

  /** Replay is over: the socket is live. Resend what is still unacknowledged, with the same ids. */
  #goLive(): void {
    this.#transport.up();
    this.#notifier.reset();
    for (const entry of this.outbox.sendable()) this.#sendFrame(sendFrameOf(entry));
    for (const frame of this.#ops.frames()) this.#sendFrame(frame);
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
      if (this.#live) this.#transport.reconnect();
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
    if (gap) this.#transport.reconnect();
  }

  /** One round of the fallback while the socket is down: fetch and apply what happened since `seq`. */
  async #pollOnce(signal: AbortSignal): Promise<void> {
    if (this.#stopped || this.#resyncing) return;
    try {
      const page = await api.events(this.#room.id, this.#room.seq, { signal });
      for (const event of page.events) if (this.#apply(event) !== "applied") break;
    } catch (err) {
      if (signal.aborted || !(err instanceof ApiError)) return;
      if (err.code === "resync_required") await this.#resync();
      else if (err.status === 403 || err.status === 404) this.#finish("removed");
      // Anything else (network, 5xx): the next round tries again. A 401 signs out app-wide.
    }
  }

  // ------------------------------------------------------------ frames out

  #sendFrame(frame: ClientFrame): boolean {
    return this.#live && this.#transport.send(JSON.stringify(frame));
  }

  #sendEntry(entry: OutboxEntry): void {
    if (entry.state === "pending" && entry.retryAt === null) this.#sendFrame(sendFrameOf(entry));
  }

  /** Edit/delete: over the socket when live (answered by `done` / `error` with its ref), else over HTTP. */
  async #op(frame: ClientFrame & { ref: string }, overHttp: () => Promise<unknown>): Promise<void> {
    if (this.#stopped) throw new Error(GONE);
    if (!this.#live) {
      await overHttp();
      // The change comes back as an event: fetch it now rather than at the next poll.
      this.#transport.pollNow();
      return;
    }
    const answered = this.#ops.add(frame.ref, frame);
    this.#sendFrame(frame);
    return answered;
  }
}

