// Shared pieces of the benchmark: servers, HTTP and WebSocket clients, histograms.
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";

export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const node = process.execPath;
const wrangler = "node_modules/wrangler/bin/wrangler.js";

/** Start `wrangler dev` for a config on a port with a fresh state folder; resolves when it answers. */
export async function startWrangler({ root, config, port, state, vars = {}, migrate = false, healthPath = "/" }) {
  rmSync(state, { recursive: true, force: true });
  if (migrate) {
    const r = spawnSync(node, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "-c", config], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, CI: "true" },
    });
    if (r.status !== 0) throw new Error(`migrations failed for ${config}`);
  }
  const args = [wrangler, "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(node, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" }, detached: true });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(url + healthPath);
      if (res.status < 500 || res.status === 426) break;
    } catch {
      // not yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`wrangler dev (${config}) did not start:\n${log}`);
    await sleep(250);
  }
  return {
    url,
    stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
    },
  };
}

/** Counts every HTTP request the benchmark's clients make (the badge scenario must make none). */
export const httpCounter = { count: 0 };

/** A JSON call to Parley's API as a browser on `base` would make it. */
export async function api(base, path, { method, json, cookie, body, headers = {} } = {}) {
  httpCounter.count++;
  const h = { Origin: base, ...headers };
  if (cookie) h.Cookie = cookie;
  if (json !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(base + path, { method: method ?? (json !== undefined || body ? "POST" : "GET"), headers: h, body: json !== undefined ? JSON.stringify(json) : body });
  return res;
}

export async function register(base, username) {
  const res = await api(base, "/api/auth/register", { json: { username, password: "bench password 1" } });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  const { user } = await res.json();
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-parley_session=")).split(";")[0];
  return { ...user, cookie };
}

/** Run `fn` over `items` with at most `limit` at once. */
export async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** The heartbeat a Parley client sends (docs/protocol.md: `{"type":"ping"}` every 15 s). */
export const PING_FRAME = '{"type":"ping"}';
export const PING_MS = 15_000;

/**
 * Open a WebSocket; resolves once open. `onMessage(data, t)` gets every frame with its arrival time.
 * With `pingMs`, it sends the ping frame that often while open, as a Parley client does.
 */
export function openSocket(url, { cookie, origin, onMessage, onClose, onOpen, pingMs } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (cookie) headers.Cookie = cookie;
    if (origin) headers.Origin = origin;
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    let pinger;
    ws.on("message", (data) => onMessage?.(data.toString(), now(), data.length ?? Buffer.byteLength(data)));
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
        pinger.unref?.();
      }
      resolve(ws);
    });
    ws.once("error", reject);
  });
}

/**
 * Reconnect delays as the SPA makes them (app/lib/backoff.ts): full jitter, each wait random in
 * [0, step), the step starting at `baseMs` and doubling up to `maxMs`; `reset()` after a healthy
 * connection. With the defaults the first retry after a drop waits 0–1 s, then 0–2 s, 0–4 s, …, 0–10 s.
 */
export function backoff(baseMs = 1000, maxMs = 10_000, random = Math.random) {
  let attempt = 0;
  const step = () => Math.min(maxMs, baseMs * 2 ** attempt);
  return {
    next() {
      const wait = random() * step();
      if (step() < maxMs) attempt++;
      return wait;
    },
    reset() {
      attempt = 0;
    },
  };
}

/** Open many sockets in batches so the connect storm is not what gets measured. */
export async function openMany(specs, batch = 50) {
  const sockets = [];
  for (let i = 0; i < specs.length; i += batch) {
    sockets.push(...(await Promise.all(specs.slice(i, i + batch).map((s) => s()))));
  }
  return sockets;
}

export function histogram() {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  return {
    /** Record milliseconds (kept in microseconds). */
    record(ms) {
      h.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    get count() {
      return h.totalCount;
    },
    summary() {
      const q = (p) => Math.round(h.getValueAtPercentile(p) / 10) / 100;
      return { p50: q(50), p99: q(99), max: Math.round(h.maxValue / 10) / 100, n: h.totalCount };
    },
  };
}

/** Wait until `pred()` or `ms` pass; returns whether it held. */
export async function waitUntil(pred, ms) {
  const deadline = now() + ms;
  while (!pred()) {
    if (now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * Track one receiver's view of a numbered stream: arrival time per id, and
 * lost / duplicated / out-of-order counts.
 */
export function tracker() {
  const seen = new Map();
  let dups = 0;
  let outOfOrder = 0;
  let last = -1;
  return {
    seen,
    add(id, t) {
      if (seen.has(id)) {
        dups++;
        return;
      }
      if (id < last) outOfOrder++;
      last = Math.max(last, id);
      seen.set(id, t);
    },
    result(expected) {
      let lost = 0;
      for (const id of expected) if (!seen.has(id)) lost++;
      return { lost, dups, outOfOrder };
    },
  };
}
