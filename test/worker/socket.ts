/** A WebSocket client for tests inside workerd, with timeouts on every wait. */
import { exports } from "cloudflare:workers";
import { isStoredEvent, type RoomEvent, type ServerFrame } from "#protocol";
import { ORIGIN, type TestUser } from "./helpers";

const WAIT_MS = 10_000;

/** Open an upgrade request; returns the raw response (for refusals). */
export function upgrade(path: string, opts: { cookie?: string; origin?: string | null } = {}): Promise<Response> {
  const headers = new Headers({ Upgrade: "websocket" });
  if (opts.origin !== null) headers.set("Origin", opts.origin ?? ORIGIN);
  if (opts.cookie) headers.set("Cookie", opts.cookie);
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers }));
}

export class TestSocket {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      this.frames.push(JSON.parse(e.data as string) as ServerFrame);
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  /** Connect `user` to a room's socket; waits for the `live` frame. */
  static async open(roomId: string, user: TestUser, after?: number): Promise<TestSocket> {
    const q = after === undefined ? "" : `?after=${after}`;
    const res = await upgrade(`/api/rooms/${roomId}/ws${q}`, { cookie: user.cookie });
    if (!res.webSocket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
    res.webSocket.accept();
    const s = new TestSocket(res.webSocket);
    await s.waitFor((f) => f.type === "live" || f.type === "resync_required");
    return s;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /**
   * Is the socket usable for sending? False as soon as either side started
   * closing (our own `close()` included), before the close event arrives.
   */
  get isOpen(): boolean {
    return this.closed === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send if the socket is still open (a client racing a close); returns whether it was sent. */
  trySend(frame: unknown): boolean {
    if (!this.isOpen) return false;
    try {
      this.send(frame);
      return true;
    } catch {
      // closed between the check and the send
      return false;
    }
  }

  /** Wait until `pred` holds over the frames received so far. */
  async until(pred: () => boolean, what = "condition", ms = WAIT_MS): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The first frame matching `pred` (waiting for it). */
  async waitFor<T extends ServerFrame>(pred: (f: ServerFrame) => f is T, ms?: number): Promise<T>;
  async waitFor(pred: (f: ServerFrame) => boolean, ms?: number): Promise<ServerFrame>;
  async waitFor(pred: (f: ServerFrame) => boolean, ms = WAIT_MS): Promise<ServerFrame> {
    let found: ServerFrame | undefined;
    await this.until(() => (found = this.frames.find(pred)) !== undefined, "a matching frame", ms);
    return found!;
  }

  async waitClosed(ms = WAIT_MS): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined, "close", ms);
    return this.closed!;
  }

  /** Stored-event frames (those with a seq), in arrival order. */
  events(): RoomEvent[] {
    return this.frames.filter(isStoredEvent);
  }

  messageTexts(): (string | null)[] {
    return this.events().flatMap((e) => (e.type === "message" ? [e.message.text] : []));
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }
}
