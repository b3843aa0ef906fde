/**
 * The benchmark's clients: the clock, HTTP calls as a browser makes them,
 * WebSockets that ping like a Parley client, and small concurrency helpers.
 */
import { performance } from "node:perf_hooks";
import { HEARTBEAT, PING_FRAME } from "#protocol";
import WebSocket from "ws";

/** Milliseconds on the one clock every latency is measured with. */
export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The ping interval of a Parley client (docs/protocol.md: `{"type":"ping"}` every 15 s). */
export const PING_MS = HEARTBEAT.pingMs;

/** `http://host:port` + path → `ws://host:port` + path. */
export const wsUrl = (base: string, path: string): string => base.replace(/^http/, "ws") + path;

/** Counts every HTTP request the benchmark's clients make (the badge scenario must make none). */
export const httpCounter = { count: 0 };

export interface ApiOptions {
  method?: string;
  json?: unknown;
  cookie?: string;
  body?: BodyInit;
  headers?: Record<string, string>;
}

/** A call to Parley's API as a browser on `base` would make it (with its Origin). */
export async function api(base: string, path: string, { method, json, cookie, body, headers = {} }: ApiOptions = {}): Promise<Response> {
  httpCounter.count++;
  const h: Record<string, string> = { Origin: base, ...headers };
  if (cookie) h.Cookie = cookie;
  if (json !== undefined) h["Content-Type"] = "application/json";
  return fetch(base + path, { method: method ?? (json !== undefined || body ? "POST" : "GET"), headers: h, body: json !== undefined ? JSON.stringify(json) : body });
}

/** Run `fn` over `items` with at most `limit` at once; the answers in the items' order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

export interface SocketOptions {
  cookie?: string;
  origin?: string;
  /** Every frame as text, with its arrival time (`now()`) and its size in bytes. */
  onMessage?: (data: string, t: number, bytes: number) => void;
  onClose?: (code: number) => void;
  onOpen?: () => void;
  /** Send the protocol's ping frame this often while open, as a Parley client does. */
  pingMs?: number;
}

/** Open a WebSocket (no compression); resolves once it is open, rejects if it fails first. */
export function openSocket(url: string, { cookie, origin, onMessage, onClose, onOpen, pingMs }: SocketOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (cookie) headers.Cookie = cookie;
    if (origin) headers.Origin = origin;
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    let pinger: NodeJS.Timeout | undefined;
    // Text frames arrive as one Buffer (binaryType "nodebuffer").
    ws.on("message", (data: Buffer) => onMessage?.(data.toString(), now(), data.length));
    ws.on("close", (code) => {
      clearInterval(pinger);
      onClose?.(code);
    });
    ws.once("open", () => {
      onOpen?.();
      if (pingMs) {
        pinger = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(PING_FRAME);
        }, pingMs);
        pinger.unref();
      }
      resolve(ws);
    });
    ws.once("error", reject);
  });
}

/** Open many sockets in batches so the connect storm is not what gets measured. */
export async function openMany<T>(specs: ReadonlyArray<() => Promise<T>>, batch = 50): Promise<T[]> {
  const sockets: T[] = [];
  for (let i = 0; i < specs.length; i += batch) {
    sockets.push(...(await Promise.all(specs.slice(i, i + batch).map((s) => s()))));
  }
  return sockets;
}

/** Wait until `pred()` holds or `ms` pass; returns whether it held. */
export async function waitUntil(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = now() + ms;
  while (!pred()) {
    if (now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * Send on a schedule (open loop): item `i` goes out at `t0 + i * 1000 / rate`
 * with `t0` 300 ms from now, whether or not earlier ones were answered.
 * Returns the scheduled times, which latencies are measured from. `slackMs`:
 * do not sleep for waits shorter than this (at high rates a timer is coarser
 * than the gap).
 */
export async function sendOnSchedule(count: number, rate: number, send: (i: number) => void, slackMs = 0): Promise<number[]> {
  const scheduled: number[] = [];
  const t0 = now() + 300;
  for (let i = 0; i < count; i++) {
    const at = t0 + (i * 1000) / rate;
    scheduled[i] = at;
    const wait = at - now();
    if (wait > slackMs) await sleep(wait);
    send(i);
  }
  return scheduled;
}
