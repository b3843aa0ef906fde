/**
 * Fakes for the SPA's live channels in Node: a WebSocket the test plays the
 * server of, the browser around the transport (online / offline / visible),
 * and a `fetch` answering by path. Everything is synchronous or microtask
 * based, so tests drive time with fake timers only.
 */
import { onTestFinished, vi } from "vitest";
import { PING_FRAME } from "#protocol";
import type { Surroundings } from "../../app/lib/transport.svelte.ts";

/** One fake socket: the transport's side is the WebSocket API, the test's side is open / receive / drop. */
export class FakeSocket {
  readyState = 0;
  readonly url: string;
  /** Every text frame the client sent, in order. */
  readonly sent: string[] = [];
  /** How the client closed it (null while it has not). */
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(url: string) {
    this.url = url;
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // ------------------------------------------------ the server's side

  /** The connection opened. */
  open(): this {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
    return this;
  }

  /** The server sent `frame` (an object is sent as JSON, a string as it is). */
  receive(frame: unknown): this {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) } as MessageEvent);
    return this;
  }

  /** The server (or the network) closed it. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }

  /** The `after` of the URL, or null without one. */
  get after(): string | null {
    return new URL(this.url).searchParams.get("after");
  }

  /** The JSON frames the client sent (pings left out). */
  get frames(): { type: string; [key: string]: unknown }[] {
    return this.sent.filter((s) => s !== PING_FRAME).map((s) => JSON.parse(s) as { type: string });
  }

  /** How many pings the client sent. */
  get pings(): number {
    return this.sent.filter((s) => s === PING_FRAME).length;
  }
}

/** A WebSocket constructor that records the sockets it made. */
export function fakeSockets() {
  const sockets: FakeSocket[] = [];
  class Recorded extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return {
    WebSocket: Recorded as unknown as new (url: string) => WebSocket,
    sockets,
    /** The newest socket. */
    get last(): FakeSocket {
      const s = sockets.at(-1);
      if (!s) throw new Error("no socket was opened");
      return s;
    },
  };
}

/** The browser around a transport, driven by the test. */
export class FakeBrowser implements Surroundings {
  onLine = true;
  #on: { online: () => void; offline: () => void; visible: () => void } | null = null;

  socketUrl(path: string): string {
    return `ws://parley.test${path}`;
  }

  listen(on: { online: () => void; offline: () => void; visible: () => void }): () => void {
    this.#on = on;
    return () => {
      if (this.#on === on) this.#on = null;
    };
  }

  /** Whether a transport is listening. */
  get listening(): boolean {
    return this.#on !== null;
  }

  goOffline(): void {
    this.onLine = false;
    this.#on?.offline();
  }

  goOnline(): void {
    this.onLine = true;
    this.#on?.online();
  }

  /** The tab became visible again. */
  becomeVisible(): void {
    this.#on?.visible();
  }
}

/** A reply `fetch` resolves with (only what app/lib/http.ts reads; no streams, so no timers). */
export function reply(body: unknown, status = 200): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: new Headers(),
    json: async () => body,
  } as Response;
}

/** An error reply in the protocol's shape. */
export const errorReply = (status: number, code: string, message = code): Response => reply({ error: { code, message } }, status);

/**
 * Stub `fetch` (restored after the test): `handler` answers each request by
 * method and path. Returns the requests made, as "GET /api/…".
 */
export function stubFetch(handler: (method: string, path: string) => Response | Promise<Response>): string[] {
  const calls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? "GET";
      const path = String(input);
      calls.push(`${method} ${path}`);
      return handler(method, path);
    }),
  );
  onTestFinished(() => {
    vi.unstubAllGlobals();
  });
  return calls;
}

/** Let pending promise callbacks run (fetch replies are microtasks here). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/** Fake timers (setTimeout / setInterval / Date) for this test, restored after it. */
export function useFakeTime(): void {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  onTestFinished(() => {
    vi.useRealTimers();
  });
}

/** A promise and the function that resolves it, for answers the test releases. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
