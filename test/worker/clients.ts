/** Test clients that behave like the SPA's: resume by seq, outbox with client ids. */
import { isStoredEvent, type RoomEvent } from "#protocol";
import type { TestUser } from "./helpers";
import { TestSocket } from "./socket";

/**
 * A client that behaves like the SPA's: remembers the last seq, keeps an
 * outbox of unacknowledged sends, reconnects with after=<last seq> and
 * resends its outbox with the same client ids.
 */
export class ResilientClient {
  timeline = new Map<number, RoomEvent>();
  lastSeq = 0;
  outbox = new Map<string, string>();
  acked = new Set<string>();
  socket: TestSocket | undefined;
  reconnects = 0;
  private seen = 0;

  constructor(
    readonly roomId: string,
    readonly user: TestUser,
  ) {}

  async connect(): Promise<void> {
    this.socket = await TestSocket.open(this.roomId, this.user, this.lastSeq);
    this.seen = 0;
    this.drain();
    // Unsent ones (the socket closed meanwhile) stay in the outbox for the next connection.
    for (const [clientId, text] of this.outbox) this.socket.trySend({ type: "send", clientId, text });
  }

  /** Apply frames idempotently by seq; reconnect when the socket closed (or is closing). */
  async pump(): Promise<void> {
    if (!this.socket) return;
    this.drain();
    if (!this.socket.isOpen) {
      this.reconnects++;
      await this.connect();
    }
  }

  private drain(): void {
    const frames = this.socket!.frames;
    for (; this.seen < frames.length; this.seen++) {
      const f = frames[this.seen]!;
      if (f.type === "ack") {
        this.outbox.delete(f.clientId);
        this.acked.add(f.clientId);
      } else if (isStoredEvent(f)) {
        if (f.seq !== this.lastSeq + 1 && !this.timeline.has(f.seq)) throw new Error(`gap: ${this.lastSeq} → ${f.seq}`);
        this.timeline.set(f.seq, f);
        this.lastSeq = Math.max(this.lastSeq, f.seq);
      }
    }
  }

  send(text: string): void {
    const clientId = crypto.randomUUID();
    this.outbox.set(clientId, text);
    // A closed (or closing) socket keeps it in the outbox: the next connect resends it.
    this.socket?.trySend({ type: "send", clientId, text });
  }
}

