// `npm run bench [-- --quick]`: Parley against the platform's floor, side by side, in one run.
//
// Starts Parley as `npm start` does (built SPA, migrated local D1, wrangler dev) on :8788 with
// BENCH_HOOKS=1, and the floor (bench/floor: a bare SQLite Durable Object that stores a row and
// broadcasts) on :8789, each with fresh state. Seeds users and rooms through the public API, then
// drives both with WebSocket clients from this process. Open loop: sends go out on a fixed
// schedule and latency is measured from the scheduled time with performance.now() in this one
// process. Prints a markdown table and writes bench/results/latest.json.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { api, backoff, histogram, httpCounter, now, openMany, openSocket, PING_MS, pool, register, sleep, startWrangler, tracker, waitUntil } from "./lib/harness.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const quick = process.argv.includes("--quick");
// `--only=storm,cost` runs just those scenarios (fanout, badge, throughput, storm, files, payload, cost).
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const want = (name) => !only || only.includes(name);
const P = quick
  ? { fanout: [50], fanCount: 10, badgeN: 50, badgeCount: 10, tputListeners: 20, tputRates: [100, 200], tputSeconds: 2, stormN: 100, fileMB: 1, fileWatchers: 20, costSizes: [10, 100], costMessages: 20, costBadgeN: 100, costBadgeK: 10, idleSockets: 10, idleSeconds: 35 }
  : { fanout: [100, 1000], fanCount: 100, badgeN: 200, badgeCount: 100, tputListeners: 100, tputRates: [250, 500, 750, 1000], tputSeconds: 3, stormN: 1000, fileMB: 10, fileWatchers: 100, costSizes: [10, 100, 1000], costMessages: 20, costBadgeN: 100, costBadgeK: 10, idleSockets: 10, idleSeconds: 65 };
const SEND_RATE = 5; // messages per second from one sender (under the per-user limit of 10/s)
const results = { mode: (quick ? "quick" : "full") + (only ? ` (only ${only.join(", ")})` : ""), startedAt: new Date().toISOString(), machine: machine(), scenarios: {} };
const rows = [];
const tag = Math.random().toString(36).slice(2, 7);

function machine() {
  let wrangler = "?";
  try {
    wrangler = execFileSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "--version"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    // leave unknown
  }
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?", memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, wrangler };
}

function row(scenario, metric, parley, floor, target, ok) {
  const ratio = typeof parley === "number" && typeof floor === "number" && floor > 0 ? Math.round((parley / floor) * 100) / 100 : "";
  rows.push({ scenario, metric, parley, floor: floor ?? "", ratio, target: target ?? "", ok: ok === undefined ? "" : ok ? "yes" : "NO" });
}

/**
 * Source files of the Worker changed after `since` (ms). `wrangler dev` reloads the Worker when its
 * sources change, which drops every socket: a run during which that happened is not a clean run.
 */
function changedSources(since) {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (statSync(path).mtimeMs > since) out.push(path.slice(root.length));
    }
  };
  walk(`${root}worker`);
  return out;
}
const startedAtMs = Date.now();

const wsUrl = (base, path) => base.replace(/^http/, "ws") + path;
const textRe = /"text":"b:(\w+):(\d+)"/;

// ---------------------------------------------------------------- setup

if (!existsSync(`${root}/dist/app/index.html`)) {
  console.log("building the SPA…");
  execFileSync(process.execPath, ["node_modules/vite/bin/vite.js", "build"], { cwd: root, stdio: "ignore" });
}
console.log("starting Parley and the floor…");
const parley = await startWrangler({ root, config: "wrangler.toml", port: 8788, state: `${root}/.wrangler/bench-parley`, vars: { BENCH_HOOKS: "1" }, migrate: true, healthPath: "/api/health" });
const floor = await startWrangler({ root, config: "bench/floor/wrangler.toml", port: 8789, state: `${root}/.wrangler/bench-floor` });
const base = parley.url;
process.on("exit", () => {
  parley.stop();
  floor.stop();
});

const nUsers = Math.max(...P.fanout, P.badgeN + 1, P.tputListeners, P.stormN, P.fileWatchers, ...P.costSizes, P.costBadgeN, P.idleSockets);
console.log(`seeding ${nUsers} users…`);
const users = await pool(
  Array.from({ length: nUsers }, (_, i) => `b${tag}_${i}`),
  6,
  (name) => register(base, name),
);
const owner = users[0];

async function roomWith(members, name) {
  const res = await api(base, "/api/rooms", { cookie: owner.cookie, json: { name } });
  const { room } = await res.json();
  await pool(members.slice(1), 6, async (u) => {
    const r = await api(base, `/api/rooms/${room.id}/members`, { cookie: owner.cookie, json: { username: u.username } });
    // 201 for a new member, 200 when already one (adding is idempotent).
    if (r.status !== 201 && r.status !== 200) throw new Error(`add member: ${r.status} ${await r.text()}`);
  });
  return room.id;
}

/**
 * A Parley room socket for `user`, calling `onFrame(text, t, bytes)` for each frame; resolves at
 * `live` (after hello, any replay and the `receipts` frame). It pings every 15 s like a client.
 * Rejects if the socket closes, or `live` does not come within `liveTimeoutMs`; `onClose(code)` is
 * called for a close after `live`.
 */
async function parleySocket(roomId, user, onFrame, after, { onClose, liveTimeoutMs = 30_000, timings } = {}) {
  let isLive = false;
  let live;
  let fail;
  const ready = new Promise((resolve, reject) => {
    live = resolve;
    fail = reject;
  });
  ready.catch(() => {}); // it may fail before anyone awaits it
  const ws = await openSocket(wsUrl(base, `/api/rooms/${roomId}/ws${after === undefined ? "" : `?after=${after}`}`), {
    cookie: user.cookie,
    origin: base,
    pingMs: PING_MS,
    onOpen: () => timings && (timings.open = now()),
    onMessage: (data, t, bytes) => {
      if (!isLive && data.startsWith('{"type":"live"')) {
        isLive = true;
        if (timings) timings.live = t;
        live();
      }
      onFrame(data, t, bytes);
    },
    onClose: (code) => {
      if (isLive) onClose?.(code);
      else fail(new Error(`room socket closed (${code}) before live`));
    },
  });
  const timer = setTimeout(() => {
    if (isLive) return;
    fail(new Error("no live frame in time"));
    ws.terminate();
  }, liveTimeoutMs);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  return ws;
}

/** The badge socket `/api/me/ws` for `user`, pinging like a client. */
const badgeSocket = (user, onMessage) => openSocket(wsUrl(base, "/api/me/ws"), { cookie: user.cookie, origin: base, pingMs: PING_MS, onMessage });

// ---------------------------------------------------------------- 1. fan-out

let fanCalls = 0;
async function fanout(n, system) {
  // A fresh label (and so a fresh floor object) per call.
  const label = `${system}${n}x${tag}${++fanCalls}`;
  const trackers = [];
  let sample;
  let closedEarly = 0;
  let measuring = true;
  const onClose = () => {
    if (measuring) closedEarly++;
  };
  const specs = Array.from({ length: n }, (_, i) => async () => {
    const tr = tracker();
    trackers.push(tr);
    const onFrame = (data, t, bytes) => {
      const m = textRe.exec(data);
      if (m && m[1] === label) {
        tr.add(Number(m[2]), t);
        sample ??= { bytes, textLength: `b:${label}:${m[2]}`.length };
      }
    };
    if (system === "parley") return parleySocket(fanRoom, users[i], onFrame, undefined, { onClose });
    return openSocket(wsUrl(floor.url, `/ws?room=${label}`), { onMessage: onFrame, onClose });
  });
  const sockets = await openMany(specs);
  const sender = sockets[0];
  // Warm up (unmeasured) so a cold object or isolate is not what the first sample measures.
  for (let w = 0; w < 2; w++) {
    const text = `warm:${label}:${w}`;
    sender.send(system === "parley" ? JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text }) : JSON.stringify({ text }));
    await sleep(200);
  }
  const count = P.fanCount;
  const scheduled = [];
  const t0 = now() + 300;
  for (let i = 0; i < count; i++) {
    scheduled[i] = t0 + (i * 1000) / SEND_RATE;
    const wait = scheduled[i] - now();
    if (wait > 0) await sleep(wait);
    const text = `b:${label}:${i}`;
    sender.send(system === "parley" ? JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text }) : JSON.stringify({ text }));
  }
  await waitUntil(() => trackers.every((t) => t.seen.size >= count), 15_000);
  const last = histogram();
  const per = histogram();
  let lost = 0;
  let dups = 0;
  let ooo = 0;
  const ids = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    let max = 0;
    for (const t of trackers) {
      const at = t.seen.get(i);
      if (at === undefined) continue;
      per.record(at - scheduled[i]);
      max = Math.max(max, at - scheduled[i]);
    }
    last.record(max);
  }
  for (const t of trackers) {
    const r = t.result(ids);
    lost += r.lost;
    dups += r.dups;
    ooo += r.outOfOrder;
  }
  measuring = false;
  for (const s of sockets) s.close();
  await sleep(300);
  return { n, messages: count, lastMember: last.summary(), perRecipient: per.summary(), lost, duplicated: dups, outOfOrder: ooo, socketsClosedDuringRun: closedEarly, sampleFrame: sample };
}

let fanRoom;
const fanRoomOnce = async () => (fanRoom ??= await roomWith(users.slice(0, Math.max(...P.fanout)), "fanout"));
if (want("fanout")) results.scenarios.fanout = [];
for (const n of want("fanout") ? P.fanout : []) {
  await fanRoomOnce();
  console.log(`fan-out to ${n}…`);
  const p = await fanout(n, "parley");
  const f = await fanout(n, "floor");
  results.scenarios.fanout.push({ n, parley: p, floor: f });
  const ok = p.lastMember.p99 <= 1.2 * f.lastMember.p99 && p.lost + p.duplicated + p.outOfOrder === 0;
  row(`fan-out ${n}`, "last member p50 (ms)", p.lastMember.p50, f.lastMember.p50);
  row(`fan-out ${n}`, "last member p99 (ms)", p.lastMember.p99, f.lastMember.p99, n >= 1000 ? "≤ 1.2× floor" : "", n >= 1000 ? ok : undefined);
  row(`fan-out ${n}`, "last member max (ms)", p.lastMember.max, f.lastMember.max);
  row(`fan-out ${n}`, "per-recipient p99 (ms)", p.perRecipient.p99, f.perRecipient.p99);
  row(`fan-out ${n}`, "lost / dup / out-of-order", `${p.lost} / ${p.duplicated} / ${p.outOfOrder}`, `${f.lost} / ${f.duplicated} / ${f.outOfOrder}`, "0 / 0 / 0", p.lost + p.duplicated + p.outOfOrder === 0);
}

// ---------------------------------------------------------------- 2. badge

if (want("badge")) {
  const n = P.badgeN;
  console.log(`badges to ${n}…`);
  const members = users.slice(0, n + 1);
  const roomId = await roomWith(members, "badges");
  const watchers = members.slice(1);
  const state = watchers.map(() => ({ base: null, got: new Map() }));
  let badgeBytes = 0;
  const requestsBefore = httpCounter.count;
  const sockets = await openMany(
    watchers.map((u, i) => () =>
      badgeSocket(u, (data, t, bytes) => {
        const f = JSON.parse(data);
        if (f.type !== "notification_count_update") return; // anything else would make a client go and ask
        const s = state[i];
        const v = f.rooms[roomId] ?? (f.full ? 0 : undefined);
        if (v === undefined) return;
        if (s.base === null) {
          s.base = v;
          return;
        }
        if (!f.full) badgeBytes = bytes;
        for (let k = 1; k <= v - s.base; k++) if (!s.got.has(k)) s.got.set(k, t);
      }),
    ),
  );
  await waitUntil(() => state.every((s) => s.base !== null), 10_000);
  const sender = await parleySocket(roomId, owner, () => {});
  // One unmeasured warm-up message (wakes the room and the hub shards); the baseline follows it.
  sender.send(JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text: "warm-up" }));
  await waitUntil(() => state.every((s) => s.got.size >= 1), 10_000);
  for (const s of state) {
    s.base = (s.base ?? 0) + 1;
    s.got.clear();
  }
  const count = P.badgeCount;
  const scheduled = [];
  const t0 = now() + 300;
  for (let i = 0; i < count; i++) {
    scheduled[i + 1] = t0 + (i * 1000) / SEND_RATE;
    const wait = scheduled[i + 1] - now();
    if (wait > 0) await sleep(wait);
    sender.send(JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text: `badge ${i}` }));
  }
  await waitUntil(() => state.every((s) => s.got.size >= count), 15_000);
  const each = histogram();
  const last = histogram();
  let missing = 0;
  for (let k = 1; k <= count; k++) {
    let max = 0;
    for (const s of state) {
      const t = s.got.get(k);
      if (t === undefined) {
        missing++;
        continue;
      }
      each.record(t - scheduled[k]);
      max = Math.max(max, t - scheduled[k]);
    }
    last.record(max);
  }
  const requests = httpCounter.count - requestsBefore;
  for (const s of sockets) s.close();
  sender.close();
  const floorFan = await fanout(n, "floor");
  results.scenarios.badge = { n, messages: count, perMember: each.summary(), lastBadge: last.summary(), missing, httpRequestsPerEvent: requests / count, badgeFrameBytes: badgeBytes, floorFanout: floorFan.lastMember };
  row(`badge ${n}`, "per-member p50 (ms)", each.summary().p50, null, "≤ 40", each.summary().p50 <= 40);
  row(`badge ${n}`, "per-member p99 (ms)", each.summary().p99, null, "≤ 200", each.summary().p99 <= 200);
  row(`badge ${n}`, "last badge p99 vs floor fan-out p99 (ms)", last.summary().p99, floorFan.lastMember.p99, "≤ 2× floor", last.summary().p99 <= 2 * floorFan.lastMember.p99);
  row(`badge ${n}`, "missing badge updates", missing, null, "0", missing === 0);
  row(`badge ${n}`, "HTTP requests by clients per event", requests / count, null, "0", requests === 0);
}

// ---------------------------------------------------------------- 3. throughput

/** The floor at the same rate: n sockets on one floor room, sends spread over them. */
async function floorThroughput(n, rate) {
  const label = `ft${rate}x${tag}`;
  const trackers = [];
  const sockets = await openMany(
    Array.from({ length: n }, () => async () => {
      const tr = tracker();
      trackers.push(tr);
      return openSocket(wsUrl(floor.url, `/ws?room=${label}`), {
        onMessage: (data, t) => {
          const m = textRe.exec(data);
          if (m && m[1] === label) tr.add(Number(m[2]), t);
        },
      });
    }),
  );
  const count = rate * P.tputSeconds;
  const scheduled = [];
  const t0 = now() + 300;
  for (let i = 0; i < count; i++) {
    scheduled[i] = t0 + (i * 1000) / rate;
    const wait = scheduled[i] - now();
    if (wait > 1) await sleep(wait);
    sockets[i % sockets.length].send(JSON.stringify({ text: `b:${label}:${i}` }));
  }
  await waitUntil(() => trackers.every((t) => t.seen.size >= count), 20_000);
  const per = histogram();
  for (const t of trackers) for (const [i, at] of t.seen) per.record(at - scheduled[i]);
  for (const so of sockets) so.close();
  await sleep(500);
  return { delivered: trackers.reduce((a, t) => a + t.seen.size, 0), perRecipient: per.summary() };
}

if (want("throughput")) {
  const n = P.tputListeners;
  console.log(`throughput with ${n} listeners…`);
  const members = users.slice(0, n);
  const roomId = await roomWith(members, "throughput");
  results.scenarios.throughput = { listeners: n, steps: [] };
  let best = 0;
  for (const rate of P.tputRates) {
    const label = `t${rate}x${tag}`;
    const trackers = [];
    let acks = 0;
    let errors = 0;
    const errorCodes = {};
    const closes = [];
    const sockets = await openMany(
      members.map((u) => async () => {
        const tr = tracker();
        trackers.push(tr);
        return parleySocket(
          roomId,
          u,
          (data, t) => {
            if (data.startsWith('{"type":"ack"')) acks++;
            else if (data.startsWith('{"type":"error"')) {
              errors++;
              const code = JSON.parse(data).code;
              errorCodes[code] = (errorCodes[code] ?? 0) + 1;
            } else {
              const m = textRe.exec(data);
              if (m && m[1] === label) tr.add(Number(m[2]), t);
            }
          },
          undefined,
          { onClose: (code) => closes.push(code) },
        );
      }),
    );
    const count = rate * P.tputSeconds;
    const scheduled = [];
    const t0 = now() + 300;
    for (let i = 0; i < count; i++) {
      scheduled[i] = t0 + (i * 1000) / rate;
      const wait = scheduled[i] - now();
      if (wait > 1) await sleep(wait);
      sockets[i % sockets.length].send(JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text: `b:${label}:${i}` }));
    }
    await waitUntil(() => acks + errors >= count && trackers.every((t) => t.seen.size >= acks), 20_000);
    const per = histogram();
    for (const t of trackers) for (const [i, at] of t.seen) per.record(at - scheduled[i]);
    const s = per.summary();
    const delivered = trackers.reduce((a, t) => a + t.seen.size, 0);
    // Sends with neither an ack nor an error (by the end of the wait), and sockets that closed during the step.
    const step = { rate, sent: count, stored: acks, refused: errors, errorCodes, unanswered: count - acks - errors, socketCloses: [...closes], delivered, expectedDeliveries: acks * n, perRecipient: s, seconds: P.tputSeconds };
    results.scenarios.throughput.steps.push(step);
    const ok = s.p99 < 200 && errors === 0 && delivered === acks * n;
    if (ok) best = rate;
    for (const so of sockets) so.close();
    await sleep(500);
    const fl = await floorThroughput(n, rate);
    step.floor = fl;
    row(`throughput ${n} listeners`, `${rate} msg/s: stored, p99 (ms)`, `${acks}/${count}${errors ? ` (${errors} refused)` : ""}${count - acks - errors ? ` (${count - acks - errors} unanswered)` : ""}, ${s.p99}`, `${fl.delivered / n}/${count}, ${fl.perRecipient.p99}`, "p99 < 200", ok);
  }
  results.scenarios.throughput.maxSustainedRate = best;
  row(`throughput ${n} listeners`, "highest rate with p99 < 200 ms (msg/s)", best, null, "≥ 500", best >= 500);
}

// ---------------------------------------------------------------- 4. reconnect storm

/**
 * The floor's side of the storm: `n` clients lose their sockets at the same moment and come back
 * with the same backoff (first wait 0–1 s, …) to a floor object; time from the drop to `open`.
 * The floor has no auth, no replay and no `live`, so this is the least a reconnect can take here.
 */
async function floorReconnect(n) {
  const label = `fs${tag}`;
  const t0 = now();
  const h = histogram();
  let attempts = 0;
  const sockets = await Promise.all(
    Array.from({ length: n }, async () => {
      const b = backoff(1000, 10_000);
      for (;;) {
        await sleep(b.next());
        attempts++;
        try {
          const ws = await openSocket(wsUrl(floor.url, `/ws?room=${label}`));
          h.record(now() - t0);
          return ws;
        } catch {
          // try again after the next wait
        }
      }
    }),
  );
  for (const s of sockets) s.close();
  await sleep(300);
  return { timeToOpen: h.summary(), attempts };
}

/** Stored event types (they carry `seq`); everything else on the room socket is ephemeral. */
const STORED_EVENTS = new Set(["message", "message_edited", "message_deleted", "file_uploaded", "file_deleted", "member_joined", "member_left", "room_renamed"]);

if (want("storm")) {
  const n = P.stormN;
  console.log(`reconnect storm of ${n}…`);
  const members = users.slice(0, n);
  const roomId = n <= Math.max(...P.fanout) ? await fanRoomOnce() : await roomWith(members, "storm");
  const label = `s${tag}`;
  const acked = new Set();
  let stopped = false;
  // Each client behaves like the SPA's room socket: it applies stored events idempotently by seq,
  // keeps the highest seq it applied, and after an abnormal close reconnects with `after=` that seq,
  // waiting by full-jitter backoff (0–1 s, then 0–2 s, … up to 0–10 s; reset once live again).
  const clients = members.map((u) => ({ user: u, lastSeq: 0, ids: new Map(), ws: null, reconnects: 0, connected: false, backoff: backoff(1000, 10_000), downAt: undefined, resumeMs: [], waits: [], phases: [], attempts: 0, resyncs: 0, gaps: 0 }));
  let tReset = 0;
  const sender = clients[0];
  const onFrame = (c) => (data) => {
    if (c === sender && data.startsWith('{"type":"ack"')) acked.add(JSON.parse(data).clientId);
    if (data.startsWith('{"type":"resync_required"')) c.resyncs++;
    if (!data.includes('"seq"')) return;
    const f = JSON.parse(data);
    if (!STORED_EVENTS.has(f.type) || f.seq <= c.lastSeq) return; // ephemeral, or applied already
    if (f.seq !== c.lastSeq + 1) c.gaps++;
    c.lastSeq = f.seq;
    if (f.type !== "message") return;
    const m = textRe.exec(data);
    if (m && m[1] === label) {
      const id = Number(m[2]);
      c.ids.set(id, (c.ids.get(id) ?? 0) + 1);
    }
  };
  const closeCodes = {};
  const onDown = (c, code) => {
    c.connected = false;
    if (stopped) return;
    closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    if (code === 1008) return; // 1008: removed / signed out — a client does not come back
    c.downAt ??= now();
    c.reconnects++;
    const wait = c.backoff.next();
    c.waits.push(wait);
    setTimeout(() => connect(c), wait);
  };
  /** One attempt; on failure the next is scheduled by the backoff. Resolves when live or failed. */
  const connect = async (c) => {
    if (stopped) return;
    c.attempts++;
    const timings = { start: now() };
    try {
      c.ws = await parleySocket(roomId, c.user, onFrame(c), c.lastSeq, { onClose: (code) => onDown(c, code), liveTimeoutMs: 15_000, timings });
      c.connected = true;
      c.backoff.reset();
      if (c.downAt !== undefined) {
        c.resumeMs.push(now() - c.downAt);
        // Where the time went: drop seen (after the reset) → backoff waits → last attempt's upgrade → its live frame.
        c.phases.push({ dropSeen: c.downAt - tReset, waited: c.waits.reduce((a, b) => a + b, 0), upgrade: timings.open - timings.start, openToLive: timings.live - timings.open });
        c.downAt = undefined;
        c.waits = [];
      }
    } catch {
      if (stopped) return;
      const wait = c.backoff.next();
      c.waits.push(wait);
      setTimeout(() => connect(c), wait);
    }
  };
  // Start from the head so nothing older counts.
  const head = await (await api(base, `/api/rooms/${roomId}`, { cookie: owner.cookie })).json();
  for (const c of clients) c.lastSeq = head.seq;
  await openMany(clients.map((c) => () => connect(c)));
  await waitUntil(() => clients.every((c) => c.connected), 30_000);
  // The sender behaves like the SPA: a send stays in its outbox until acked, and is resent with
  // the same clientId on a new socket if the old one died first.
  const sendBatch = async (from, to) => {
    for (let i = from; i < to; i++) {
      const clientId = crypto.randomUUID();
      const frame = JSON.stringify({ type: "send", clientId, text: `b:${label}:${i}` });
      while (!acked.has(clientId)) {
        await waitUntil(() => sender.connected, 30_000);
        const ws = sender.ws;
        try {
          ws.send(frame);
        } catch {
          // closed under us: the loop resends on the next socket
        }
        await waitUntil(() => acked.has(clientId) || ws !== sender.ws || !sender.connected, 3_000);
      }
      await sleep(1000 / SEND_RATE);
    }
  };
  await sendBatch(0, 10);
  await waitUntil(() => clients.every((c) => c.ids.size >= 10), 15_000);
  for (const c of clients) {
    c.resumeMs.length = 0;
    c.phases.length = 0;
  }
  const attemptsBefore = clients.reduce((a, c) => a + c.attempts, 0);
  const reconnectsBefore = clients.reduce((a, c) => a + c.reconnects, 0);
  for (const k of Object.keys(closeCodes)) delete closeCodes[k];
  tReset = now();
  await api(base, `/api/_bench/rooms/${roomId}/reset`, { cookie: owner.cookie, method: "POST" });
  await sendBatch(10, 20);
  const done = await waitUntil(() => clients.every((c) => c.connected && c.ids.size >= 20), 60_000);
  const allResumedMs = Math.round(now() - tReset);
  stopped = true;
  let lost = 0;
  let dups = 0;
  for (const c of clients) {
    for (let i = 0; i < 20; i++) {
      const k = c.ids.get(i) ?? 0;
      if (k === 0) lost++;
      if (k > 1) dups += k - 1;
    }
  }
  const reconnects = clients.reduce((a, c) => a + c.reconnects, 0) - reconnectsBefore;
  const attempts = clients.reduce((a, c) => a + c.attempts, 0) - attemptsBefore;
  // Time to resume: from the moment a client saw its socket drop to `live` on the new one (replay done).
  const resume = histogram();
  let resumed = 0;
  for (const c of clients) {
    if (c.resumeMs.length === 0) continue;
    resumed++;
    resume.record(c.resumeMs[0]);
  }
  const notResumed = n - resumed;
  const rs = resume.summary();
  const phases = {};
  for (const k of ["dropSeen", "waited", "upgrade", "openToLive"]) {
    const h = histogram();
    for (const c of clients) if (c.phases[0]) h.record(c.phases[0][k]);
    phases[k] = h.summary();
  }
  for (const c of clients) c.ws?.close();
  await sleep(300);
  const fl = await floorReconnect(n);
  results.scenarios.reconnectStorm = {
    n,
    backoff: "first retry 0–1000 ms, then full jitter [0, step), step 1 s doubling to 10 s",
    timeToResume: rs,
    // Per client, ms: reset → its drop seen; backoff waited; the upgrade (connect → open); open → live (hello, replay, receipts).
    phases,
    resumed,
    notResumed,
    allResumedMs,
    allResumed: done,
    reconnects,
    closeCodes,
    connectAttempts: attempts,
    resyncs: clients.reduce((a, c) => a + c.resyncs, 0),
    seqGaps: clients.reduce((a, c) => a + c.gaps, 0),
    lost,
    duplicated: dups,
    floor: fl,
  };
  row(`reconnect storm ${n}`, "time to resume p50 (ms)", rs.p50, fl.timeToOpen.p50, "≤ 1000", resumed > 0 && rs.p50 <= 1000);
  row(`reconnect storm ${n}`, "time to resume max (ms)", rs.max, fl.timeToOpen.max, "≤ 3000 (all)", notResumed === 0 && rs.max <= 3000);
  row(`reconnect storm ${n}`, "where it goes, p50 (ms): drop seen / backoff / upgrade / open → live", `${phases.dropSeen.p50} / ${phases.waited.p50} / ${phases.upgrade.p50} / ${phases.openToLive.p50}`, null, "report");
  row(`reconnect storm ${n}`, "reset → all resumed and caught up (ms)", allResumedMs, null, "report", done);
  row(`reconnect storm ${n}`, "reconnects / attempts / lost / duplicated", `${reconnects} / ${attempts} / ${lost} / ${dups}`, null, "all / – / 0 / 0", lost === 0 && dups === 0 && reconnects >= n && done);
}

// ---------------------------------------------------------------- 5. files

if (want("files")) {
  const n = P.fileWatchers;
  console.log(`a ${P.fileMB} MB upload watched by ${n}…`);
  const members = users.slice(0, n);
  const roomId = await roomWith(members, "files");
  const got = new Map();
  const sockets = await openMany(
    members.map((u, i) => () =>
      parleySocket(roomId, u, (data, t) => {
        if (data.startsWith('{"type":"file_uploaded"')) got.set(i, t);
      }),
    ),
  );
  const bytes = new Uint8Array(P.fileMB * 1024 * 1024);
  const fd = new FormData();
  fd.append("clientId", crypto.randomUUID());
  fd.append("description", "benchmark upload");
  fd.append("file", new Blob([bytes], { type: "application/octet-stream" }), "bench.bin");
  const t0 = now();
  const res = await api(base, `/api/rooms/${roomId}/files`, { cookie: owner.cookie, body: fd });
  const tUploaded = now();
  await waitUntil(() => got.size === n, 20_000);
  const allHave = Math.max(...got.values()) - t0;
  const mbps = Math.round((P.fileMB / ((tUploaded - t0) / 1000)) * 10) / 10;
  for (const s of sockets) s.close();
  results.scenarios.files = { sizeMB: P.fileMB, watchers: n, status: res.status, uploadMs: Math.round(tUploaded - t0), uploadMBps: mbps, allMembersHaveItMs: Math.round(allHave), membersNotified: got.size };
  row(`files ${P.fileMB} MB, ${n} watching`, "upload MB/s", mbps, null, "report", res.status === 201);
  row(`files ${P.fileMB} MB, ${n} watching`, "start → every member has file_uploaded (ms)", Math.round(allHave), null, "report", got.size === n);
}

// ---------------------------------------------------------------- 6. payload

if (want("payload")) {
  const roomId = await roomWith(users.slice(0, 2), "payload");
  const text = "x".repeat(100);
  let msgBytes = 0;
  const rx = await parleySocket(roomId, users[1], (data, _t, bytes) => {
    if (data.startsWith('{"type":"message"')) msgBytes = bytes;
  });
  const tx = await parleySocket(roomId, owner, () => {});
  tx.send(JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text }));
  await waitUntil(() => msgBytes > 0, 5_000);
  rx.close();
  tx.close();
  const badgeBytes = results.scenarios.badge?.badgeFrameBytes;
  results.scenarios.payload = { textLength: text.length, messageEventBytes: msgBytes, badgeEventBytes: badgeBytes };
  row("payload", "message event bytes (100-char text)", msgBytes, null, `≤ ${2 * text.length + 300}`, msgBytes <= 2 * text.length + 300);
  if (badgeBytes !== undefined) row("payload", "badge event bytes", badgeBytes, null, "≤ 300", badgeBytes > 0 && badgeBytes <= 300);
}

// ---------------------------------------------------------------- 7. cost

/**
 * Cloudflare's published Durable Objects prices (Workers Paid, beyond the included amounts), read
 * 2026-12-01 from https://developers.cloudflare.com/durable-objects/platform/pricing/. Requests
 * include RPC calls, HTTP requests, WebSocket messages (incoming ones billed 20:1) and alarm
 * invocations. Duration (GB-s) and storage are not counted here.
 */
const PRICES = {
  source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  read: "2026-12-01",
  requestsPerMillion: 0.15,
  rowsReadPerMillion: 0.001,
  rowsWrittenPerMillion: 1.0,
};
const r4 = (x) => Math.round(x * 10_000) / 10_000;
const r2 = (x) => Math.round(x * 100) / 100;

/**
 * Per-message figures → dollars per million messages: a figure of x per message is x million per
 * million messages, so each term is simply x × its price per million.
 */
function dollarsPerMillionMessages({ requests, rowsRead, rowsWritten }) {
  const usd = {
    requests: requests * PRICES.requestsPerMillion,
    rowsRead: rowsRead * PRICES.rowsReadPerMillion,
    rowsWritten: rowsWritten * PRICES.rowsWrittenPerMillion,
  };
  return { requests: r4(usd.requests), rowsRead: r4(usd.rowsRead), rowsWritten: r4(usd.rowsWritten), total: r4(usd.requests + usd.rowsRead + usd.rowsWritten) };
}

/**
 * The same message under a "one hub per user" design: the room's own rows and its 1 request, plus,
 * for every member, one request to that member's own hub and one row written there.
 */
function oneHubPerUser(room, members) {
  const perMessage = { requests: 1 + members, rowsRead: room.rowsRead, rowsWritten: room.rowsWritten + members };
  return { perMessage, usdPerMillionMessages: dollarsPerMillionMessages(perMessage) };
}

const METER_FIELDS = ["rowsRead", "rowsWritten", "statements", "requests", "hubCalls", "alarms"];

async function readMeter(roomId) {
  const res = await api(base, `/api/_bench/rooms/${roomId}/meter`, { cookie: owner.cookie });
  if (res.status !== 200) throw new Error(`GET meter: ${res.status} ${await res.text()}`);
  const m = await res.json();
  for (const part of ["room", "hubs"]) {
    for (const k of METER_FIELDS) if (typeof m?.[part]?.[k] !== "number") throw new Error(`meter answer lacks ${part}.${k}: ${JSON.stringify(m)}`);
  }
  return m;
}

async function resetMeter(roomId) {
  const res = await api(base, `/api/_bench/rooms/${roomId}/meter`, { cookie: owner.cookie, method: "DELETE" });
  if (res.status !== 204) throw new Error(`DELETE meter: ${res.status} ${await res.text()}`);
}

/**
 * Poll the meter until the work has settled: hub requests (and the rows written anywhere) unchanged
 * for `quietMs`. Returns the last reading and whether it settled before `maxMs`.
 */
async function settle(roomId, { quietMs = 1000, maxMs = 30_000, pollMs = 200 } = {}) {
  const key = (m) => `${m.hubs.requests}/${m.hubs.rowsWritten}/${m.room.rowsWritten}`;
  const t0 = now();
  let last = await readMeter(roomId);
  let since = now();
  for (;;) {
    await sleep(pollMs);
    const m = await readMeter(roomId);
    if (key(m) !== key(last)) since = now();
    last = m;
    if (now() - since >= quietMs) return { meter: m, settled: true, ms: Math.round(now() - t0) };
    if (now() - t0 > maxMs) return { meter: m, settled: false, ms: Math.round(now() - t0) };
  }
}

/** Send `count` messages from the owner over HTTP, paced under the per-user limit. */
async function sendOverHttp(roomId, count, label) {
  const pending = [];
  const t0 = now() + 100;
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / SEND_RATE - now();
    if (wait > 0) await sleep(wait);
    pending.push(api(base, `/api/rooms/${roomId}/messages`, { cookie: owner.cookie, json: { clientId: crypto.randomUUID(), text: `${label} ${i}` } }).then((r) => r.status));
  }
  const statuses = await Promise.all(pending);
  return statuses.filter((s) => s === 201).length;
}

/**
 * One cost measurement: `count` messages into a room, optionally with badge sockets open for
 * `badgeUsers`; the meter is reset once everything from the setup has settled.
 */
async function costRun(roomId, members, count, badgeUsers = []) {
  let badgeFrames = 0;
  // Each badge socket's current count for this room (a hub may fold two changes into one frame).
  const counts = badgeUsers.map(() => undefined);
  const sockets = await openMany(
    badgeUsers.map((u, i) => () =>
      badgeSocket(u, (data) => {
        if (!data.startsWith('{"type":"notification_count_update"')) return;
        const f = JSON.parse(data);
        const v = f.rooms[roomId] ?? (f.full ? 0 : undefined);
        if (v === undefined) return;
        if (!f.full) badgeFrames++;
        counts[i] = v;
      }),
    ),
  );
  await waitUntil(() => counts.every((c) => c !== undefined), 10_000);
  // Warm up: one message wakes the room and the hub shards, so a cold start is not what is metered.
  await sendOverHttp(roomId, 1, "cost warm-up");
  await settle(roomId);
  badgeFrames = 0;
  const before = [...counts];
  await resetMeter(roomId);
  const zero = await readMeter(roomId);
  const stored = await sendOverHttp(roomId, count, "cost");
  const { meter: m, settled, ms } = await settle(roomId);
  await waitUntil(() => counts.every((c, i) => c === before[i] + count), 2_000);
  const badgesRight = counts.filter((c, i) => c === before[i] + count).length;
  for (const s of sockets) s.close();
  const per = (part, k) => r2((m[part][k] - zero[part][k]) / count);
  const perMessage = {
    rowsWritten: { room: per("room", "rowsWritten"), hubs: per("hubs", "rowsWritten") },
    rowsRead: { room: per("room", "rowsRead"), hubs: per("hubs", "rowsRead") },
    statements: { room: per("room", "statements"), hubs: per("hubs", "statements") },
    requests: { room: per("room", "requests"), hubs: per("hubs", "requests") },
    hubCalls: per("room", "hubCalls"),
  };
  for (const k of ["rowsWritten", "rowsRead", "statements", "requests"]) perMessage[k].total = r2(perMessage[k].room + perMessage[k].hubs);
  const billed = { requests: perMessage.requests.total, rowsRead: perMessage.rowsRead.total, rowsWritten: perMessage.rowsWritten.total };
  const oneHub = oneHubPerUser({ rowsRead: perMessage.rowsRead.room, rowsWritten: perMessage.rowsWritten.room }, members);
  await sleep(300);
  return {
    members,
    badgeSockets: badgeUsers.length,
    messages: count,
    stored,
    settled,
    settleMs: ms,
    meterAtReset: zero,
    meter: m,
    perMessage,
    badges: { sockets: badgeUsers.length, rightFinalCount: badgesRight, frames: badgeFrames, changes: count * badgeUsers.length },
    usdPerMillionMessages: dollarsPerMillionMessages(billed),
    oneHubPerUser: oneHub,
  };
}

function costRows(scenario, r, targetRows) {
  const p = r.perMessage;
  const ok = r.stored === r.messages && r.settled;
  row(scenario, "messages stored / settled", `${r.stored}/${r.messages} / ${r.settled ? `yes (${r.settleMs} ms)` : "NO"}`, null, "all / yes", ok);
  row(scenario, "rows written / msg: room / hubs / total", `${p.rowsWritten.room} / ${p.rowsWritten.hubs} / ${p.rowsWritten.total}`, null, `total ≤ ${targetRows}`, ok && p.rowsWritten.total <= targetRows);
  row(scenario, "rows read / msg: room / hubs / total", `${p.rowsRead.room} / ${p.rowsRead.hubs} / ${p.rowsRead.total}`, null, "report");
  row(scenario, "SQL statements / msg: room / hubs / total", `${p.statements.room} / ${p.statements.hubs} / ${p.statements.total}`, null, "report");
  row(scenario, "DO requests / msg: room + hubs = total", `${p.requests.room} + ${p.requests.hubs} = ${p.requests.total}`, null, "report");
  row(scenario, "hub calls / msg", p.hubCalls, null, "report");
  if (r.badgeSockets > 0) {
    row(scenario, "badge sockets with the right count at the end", `${r.badges.rightFinalCount}/${r.badges.sockets}`, null, "all", r.badges.rightFinalCount === r.badges.sockets);
    row(scenario, "badge frames / count changes (fewer: changes folded into one frame)", `${r.badges.frames}/${r.badges.changes}`, null, "report");
  }
  row(scenario, "$ / 1M messages: Parley vs one hub per user", `$${r.usdPerMillionMessages.total} vs $${r.oneHubPerUser.usdPerMillionMessages.total}`, null, "report");
}

if (want("cost")) {
  console.log("cost per message…");
  results.scenarios.cost = { prices: PRICES, messages: P.costMessages, runs: [] };
  const rooms = new Map();
  for (const n of P.costSizes) {
    console.log(`  ${n} members, no badge socket…`);
    const roomId = await roomWith(users.slice(0, n), `cost ${n}`);
    rooms.set(n, roomId);
    const r = await costRun(roomId, n, P.costMessages);
    results.scenarios.cost.runs.push(r);
    costRows(`cost ${n} members`, r, 10);
  }
  {
    const n = P.costBadgeN;
    const k = P.costBadgeK;
    console.log(`  ${n} members, ${k} badge sockets…`);
    const roomId = rooms.get(n) ?? (await roomWith(users.slice(0, n), `cost ${n}`));
    const r = await costRun(roomId, n, P.costMessages, users.slice(1, k + 1));
    results.scenarios.cost.runs.push(r);
    costRows(`cost ${n} members, ${k} badge sockets`, r, 10 + k);
  }

  // Alarms per idle room-hour with room sockets open (pinging every 15 s, as clients do).
  {
    const k = P.idleSockets;
    console.log(`  idle room with ${k} sockets for ${P.idleSeconds} s…`);
    const roomId = rooms.get(10) ?? (await roomWith(users.slice(0, k), "cost idle"));
    const closeCodes = {};
    const sockets = await openMany(users.slice(0, k).map((u) => () => parleySocket(roomId, u, () => {}, undefined, { onClose: (code) => (closeCodes[code] = (closeCodes[code] ?? 0) + 1) })));
    await settle(roomId, { quietMs: 2000 });
    await resetMeter(roomId);
    const zero = await readMeter(roomId);
    const t0 = now();
    // Read the (durable) alarm counter every 2 s as well, to time the alarms themselves.
    const alarmTimes = [];
    let m = zero;
    while (now() - t0 < P.idleSeconds * 1000) {
      await sleep(Math.min(2000, P.idleSeconds * 1000 - (now() - t0)));
      m = await readMeter(roomId);
      for (let a = alarmTimes.length; a < m.room.alarms - zero.room.alarms; a++) alarmTimes.push(now() - t0);
    }
    const hours = (now() - t0) / 3_600_000;
    const alarms = m.room.alarms - zero.room.alarms;
    const open = sockets.filter((s) => s.readyState === s.OPEN).length;
    for (const s of sockets) s.close();
    const alarmsPerHour = r2(alarms / hours);
    const intervalS = alarmTimes.length >= 2 ? r2((alarmTimes.at(-1) - alarmTimes[0]) / (alarmTimes.length - 1) / 1000) : null;
    // Alarm invocations are billed as requests; pings are answered by the runtime (no request).
    const usdPerRoomMonth = r4(((alarmsPerHour * 730) / 1e6) * PRICES.requestsPerMillion);
    results.scenarios.cost.idle = {
      sockets: k,
      seconds: Math.round(hours * 3600),
      alarms,
      alarmsPerHour,
      alarmSeenAtS: alarmTimes.map((t) => r2(t / 1000)),
      alarmIntervalS: intervalS,
      alarmsPerHourFromInterval: intervalS ? r2(3600 / intervalS) : null,
      socketsOpenAtEnd: open,
      socketCloseCodes: closeCodes,
      usdPerRoomMonthForAlarms: usdPerRoomMonth,
      meter: m,
    };
    const scenario = `cost idle room, ${k} sockets`;
    row(scenario, `alarms / room-hour (${alarms} in ${Math.round(hours * 3600)} s, extrapolated)`, alarmsPerHour, null, "report");
    row(scenario, "seconds between alarms (seen every 2 s)", intervalS ?? "–", null, "report");
    row(scenario, "sockets still open at the end (pinging every 15 s)", `${open}/${k}`, null, `${k}/${k}`, open === k);
  }

  // Dollars per million messages: Parley as measured, and one hub per user computed the same way.
  results.scenarios.cost.dollars = {
    prices: PRICES,
    oneHubPerUser: "per message: the room's own rows read and written and 1 request (as measured for Parley), plus 1 request and 1 row written per member for that member's own hub",
    rows: results.scenarios.cost.runs.map((r) => ({
      members: r.members,
      badgeSockets: r.badgeSockets,
      parley: { perMessage: { requests: r.perMessage.requests.total, rowsRead: r.perMessage.rowsRead.total, rowsWritten: r.perMessage.rowsWritten.total }, usdPerMillionMessages: r.usdPerMillionMessages },
      oneHubPerUser: r.oneHubPerUser,
      ratio: r.oneHubPerUser.usdPerMillionMessages.total > 0 ? r2(r.usdPerMillionMessages.total / r.oneHubPerUser.usdPerMillionMessages.total) : null,
    })),
  };
}

// ---------------------------------------------------------------- report

function dollarsMarkdown(d) {
  const head = "| members | badge sockets | Parley: requests / rows read / rows written per msg | Parley $ per 1M msgs | one hub per user: requests / rows read / rows written per msg | one hub per user $ per 1M msgs | Parley ÷ one hub per user |\n|---|---|---|---|---|---|---|";
  const lines = d.rows.map((r) => {
    const p = r.parley.perMessage;
    const o = r.oneHubPerUser.perMessage;
    return `| ${r.members} | ${r.badgeSockets} | ${p.requests} / ${p.rowsRead} / ${p.rowsWritten} | $${r.parley.usdPerMillionMessages.total} | ${o.requests} / ${r2(o.rowsRead)} / ${r2(o.rowsWritten)} | $${r.oneHubPerUser.usdPerMillionMessages.total} | ${r.ratio ?? ""} |`;
  });
  return [head, ...lines].join("\n");
}

results.finishedAt = new Date().toISOString();
results.sourcesChangedDuringRun = changedSources(startedAtMs);
if (results.sourcesChangedDuringRun.length > 0) {
  console.log(`\nWARNING: Worker sources changed during the run, so wrangler dev reloaded and dropped sockets: ${results.sourcesChangedDuringRun.join(", ")}`);
}
results.table = rows;
const header = "| scenario | metric | Parley | floor | ratio | target | met |\n|---|---|---|---|---|---|---|";
const table = [header, ...rows.map((r) => `| ${r.scenario} | ${r.metric} | ${r.parley} | ${r.floor} | ${r.ratio} | ${r.target} | ${r.ok} |`)].join("\n");
console.log(`\n${table}\n`);
const dollarTable = results.scenarios.cost ? dollarsMarkdown(results.scenarios.cost.dollars) : "";
if (dollarTable) results.dollarTable = dollarTable;
if (dollarTable) console.log(`Dollars per million messages (Durable Objects prices read ${PRICES.read}: requests $${PRICES.requestsPerMillion}/M, rows read $${PRICES.rowsReadPerMillion}/M, rows written $${PRICES.rowsWrittenPerMillion}/M):\n\n${dollarTable}\n`);
console.log(`machine: ${results.machine.cpus} CPUs (${results.machine.cpuModel}), Node ${results.machine.node}, wrangler ${results.machine.wrangler}`);
mkdirSync(`${root}/bench/results`, { recursive: true });
// A partial run (--only) never replaces the record of a whole one.
const outName = `${quick ? "latest-quick" : "latest"}${only ? "-partial" : ""}`;
writeFileSync(`${root}/bench/results/${outName}.json`, JSON.stringify(results, null, 2));
console.log(`wrote bench/results/${outName}.json`);
parley.stop();
floor.stop();
process.exit(0);
