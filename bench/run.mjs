// `npm run bench [-- --quick]`: Parley against the platform's floor, side by side, in one run.
//
// Starts Parley as `npm start` does (built SPA, migrated local D1, wrangler dev) on :8788 with
// BENCH_HOOKS=1, and the floor (bench/floor: a bare SQLite Durable Object that stores a row and
// broadcasts) on :8789, each with fresh state. Seeds users and rooms through the public API, then
// drives both with WebSocket clients from this process. Open loop: sends go out on a fixed
// schedule and latency is measured from the scheduled time with performance.now() in this one
// process. Prints a markdown table and writes bench/results/latest.json.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { api, histogram, httpCounter, now, openMany, openSocket, pool, register, sleep, startWrangler, tracker, waitUntil } from "./lib/harness.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const quick = process.argv.includes("--quick");
const P = quick
  ? { fanout: [50], fanCount: 10, badgeN: 50, badgeCount: 10, tputListeners: 20, tputRates: [100, 200], tputSeconds: 2, stormN: 100, fileMB: 1, fileWatchers: 20 }
  : { fanout: [100, 1000], fanCount: 30, badgeN: 200, badgeCount: 30, tputListeners: 100, tputRates: [250, 500, 750, 1000], tputSeconds: 3, stormN: 1000, fileMB: 10, fileWatchers: 100 };
const SEND_RATE = 5; // messages per second from one sender (under the per-user limit of 10/s)
const results = { mode: quick ? "quick" : "full", startedAt: new Date().toISOString(), machine: machine(), scenarios: {} };
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

const nUsers = Math.max(...P.fanout, P.badgeN, P.tputListeners, P.stormN, P.fileWatchers);
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
    if (r.status !== 201) throw new Error(`add member: ${r.status}`);
  });
  return room.id;
}

/** A Parley room socket for `user`, calling `onFrame(text, t, bytes)` for each frame; resolves at `live`. */
async function parleySocket(roomId, user, onFrame, after) {
  let live;
  const ready = new Promise((r) => (live = r));
  const ws = await openSocket(wsUrl(base, `/api/rooms/${roomId}/ws${after === undefined ? "" : `?after=${after}`}`), {
    cookie: user.cookie,
    origin: base,
    onMessage: (data, t, bytes) => {
      if (data.startsWith('{"type":"live"')) live();
      onFrame(data, t, bytes);
    },
  });
  await ready;
  return ws;
}

// ---------------------------------------------------------------- 1. fan-out

async function fanout(n, system) {
  const label = `${system}${n}x${tag}`;
  const trackers = [];
  let sample;
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
    if (system === "parley") return parleySocket(fanRoom, users[i], onFrame);
    return openSocket(wsUrl(floor.url, `/ws?room=${label}`), { onMessage: onFrame });
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
  for (const s of sockets) s.close();
  await sleep(300);
  return { n, messages: count, lastMember: last.summary(), perRecipient: per.summary(), lost, duplicated: dups, outOfOrder: ooo, sampleFrame: sample };
}

const fanRoom = await roomWith(users.slice(0, Math.max(...P.fanout)), "fanout");
results.scenarios.fanout = [];
for (const n of P.fanout) {
  console.log(`fan-out to ${n}…`);
  const p = await fanout(n, "parley");
  const f = await fanout(n, "floor");
  results.scenarios.fanout.push({ n, parley: p, floor: f });
  const ok = p.lastMember.p99 <= 1.5 * f.lastMember.p99 && p.lost + p.duplicated + p.outOfOrder === 0;
  row(`fan-out ${n}`, "last member p50 (ms)", p.lastMember.p50, f.lastMember.p50);
  row(`fan-out ${n}`, "last member p99 (ms)", p.lastMember.p99, f.lastMember.p99, n >= 1000 ? "≤ 1.5× floor" : "", n >= 1000 ? ok : undefined);
  row(`fan-out ${n}`, "last member max (ms)", p.lastMember.max, f.lastMember.max);
  row(`fan-out ${n}`, "per-recipient p99 (ms)", p.perRecipient.p99, f.perRecipient.p99);
  row(`fan-out ${n}`, "lost / dup / out-of-order", `${p.lost} / ${p.duplicated} / ${p.outOfOrder}`, `${f.lost} / ${f.duplicated} / ${f.outOfOrder}`, "0 / 0 / 0", p.lost + p.duplicated + p.outOfOrder === 0);
}

// ---------------------------------------------------------------- 2. badge

{
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
      openSocket(wsUrl(base, "/api/me/ws"), {
        cookie: u.cookie,
        origin: base,
        onMessage: (data, t, bytes) => {
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
        },
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
  row(`badge ${n}`, "per-member p50 (ms)", each.summary().p50, null, "≤ 60", each.summary().p50 <= 60);
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

{
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
    const sockets = await openMany(
      members.map((u) => async () => {
        const tr = tracker();
        trackers.push(tr);
        return parleySocket(roomId, u, (data, t) => {
          if (data.startsWith('{"type":"ack"')) acks++;
          else if (data.startsWith('{"type":"error"')) errors++;
          else {
            const m = textRe.exec(data);
            if (m && m[1] === label) tr.add(Number(m[2]), t);
          }
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
      sockets[i % sockets.length].send(JSON.stringify({ type: "send", clientId: crypto.randomUUID(), text: `b:${label}:${i}` }));
    }
    await waitUntil(() => acks + errors >= count && trackers.every((t) => t.seen.size >= acks), 20_000);
    const per = histogram();
    for (const t of trackers) for (const [i, at] of t.seen) per.record(at - scheduled[i]);
    const s = per.summary();
    const delivered = trackers.reduce((a, t) => a + t.seen.size, 0);
    const step = { rate, sent: count, stored: acks, refused: errors, delivered, expectedDeliveries: acks * n, perRecipient: s, seconds: P.tputSeconds };
    results.scenarios.throughput.steps.push(step);
    const ok = s.p99 < 200 && errors === 0 && delivered === acks * n;
    if (ok) best = rate;
    for (const so of sockets) so.close();
    await sleep(500);
    const fl = await floorThroughput(n, rate);
    step.floor = fl;
    row(`throughput ${n} listeners`, `${rate} msg/s: stored, p99 (ms)`, `${acks}/${count}, ${s.p99}`, `${fl.delivered / n}/${count}, ${fl.perRecipient.p99}`, "p99 < 200", ok);
  }
  results.scenarios.throughput.maxSustainedRate = best;
  row(`throughput ${n} listeners`, "highest rate with p99 < 200 ms (msg/s)", best, null, "≥ 500", best >= 500);
}

// ---------------------------------------------------------------- 4. reconnect storm

{
  const n = P.stormN;
  console.log(`reconnect storm of ${n}…`);
  const members = users.slice(0, n);
  const roomId = n <= Math.max(...P.fanout) ? fanRoom : await roomWith(members, "storm");
  const label = `s${tag}`;
  const clients = members.map((u) => ({ user: u, lastSeq: 0, ids: new Map(), ws: null, reconnects: 0, connected: false }));
  const connect = async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        c.ws = await parleySocket(
          roomId,
          c.user,
          (data) => {
            if (!data.startsWith('{"type":"message"')) return;
            const f = JSON.parse(data);
            if (f.seq <= c.lastSeq) return; // applied already (idempotent by seq)
            c.lastSeq = f.seq;
            const m = textRe.exec(data);
            if (m && m[1] === label) {
              const id = Number(m[2]);
              c.ids.set(id, (c.ids.get(id) ?? 0) + 1);
            }
          },
          c.lastSeq,
        );
        c.connected = true;
        c.ws.on("close", () => {
          c.connected = false;
          c.reconnects++;
          // Full-jitter backoff like the SPA: random 0–500 ms first, doubling.
          setTimeout(() => connect(c), Math.random() * 500);
        });
        return;
      } catch {
        await sleep(Math.random() * Math.min(10_000, 500 * 2 ** attempt));
      }
    }
  };
  // Start from the head so nothing older counts.
  const head = await (await api(base, `/api/rooms/${roomId}`, { cookie: owner.cookie })).json();
  for (const c of clients) c.lastSeq = head.seq;
  await openMany(clients.map((c) => () => connect(c)));
  // The sender behaves like the SPA: a send stays in its outbox until acked, and is resent with
  // the same clientId on a new socket if the old one died first.
  const acked = new Set();
  const sender = clients[0];
  const onAck = (data) => {
    if (data.startsWith('{"type":"ack"')) acked.add(JSON.parse(data).clientId);
  };
  const sendBatch = async (from, to) => {
    for (let i = from; i < to; i++) {
      const clientId = crypto.randomUUID();
      const frame = JSON.stringify({ type: "send", clientId, text: `b:${label}:${i}` });
      while (!acked.has(clientId)) {
        await waitUntil(() => sender.connected, 30_000);
        const ws = sender.ws;
        ws.on("message", (d) => onAck(d.toString()));
        ws.send(frame);
        await waitUntil(() => acked.has(clientId) || ws !== sender.ws || !sender.connected, 3_000);
      }
      await sleep(1000 / SEND_RATE);
    }
  };
  await sendBatch(0, 10);
  await waitUntil(() => clients.every((c) => c.ids.size >= 10), 15_000);
  const tReset = now();
  await api(base, `/api/_bench/rooms/${roomId}/reset`, { cookie: owner.cookie, method: "POST" });
  await sendBatch(10, 20);
  const done = await waitUntil(() => clients.every((c) => c.connected && c.ids.size >= 20), 60_000);
  const resumedMs = Math.round(now() - tReset);
  let lost = 0;
  let dups = 0;
  for (const c of clients) {
    for (let i = 0; i < 20; i++) {
      const k = c.ids.get(i) ?? 0;
      if (k === 0) lost++;
      if (k > 1) dups += k - 1;
    }
  }
  const reconnects = clients.reduce((a, c) => a + c.reconnects, 0);
  for (const c of clients) {
    c.ws.removeAllListeners("close");
    c.ws.close();
  }
  results.scenarios.reconnectStorm = { n, resumedMs, allResumed: done, reconnects, lost, duplicated: dups };
  row(`reconnect storm ${n}`, "time until all resumed (ms)", resumedMs, null, "report", done);
  row(`reconnect storm ${n}`, "reconnects / lost / duplicated", `${reconnects} / ${lost} / ${dups}`, null, "all / 0 / 0", lost === 0 && dups === 0 && reconnects >= n);
}

// ---------------------------------------------------------------- 5. files

{
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

{
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
  const badgeBytes = results.scenarios.badge.badgeFrameBytes;
  results.scenarios.payload = { textLength: text.length, messageEventBytes: msgBytes, badgeEventBytes: badgeBytes };
  row("payload", "message event bytes (100-char text)", msgBytes, null, `≤ ${2 * text.length + 300}`, msgBytes <= 2 * text.length + 300);
  row("payload", "badge event bytes", badgeBytes, null, "≤ 300", badgeBytes > 0 && badgeBytes <= 300);
}

// ---------------------------------------------------------------- report

results.finishedAt = new Date().toISOString();
results.table = rows;
const header = "| scenario | metric | Parley | floor | ratio | target | met |\n|---|---|---|---|---|---|---|";
const table = [header, ...rows.map((r) => `| ${r.scenario} | ${r.metric} | ${r.parley} | ${r.floor} | ${r.ratio} | ${r.target} | ${r.ok} |`)].join("\n");
console.log(`\n${table}\n`);
console.log(`machine: ${results.machine.cpus} CPUs (${results.machine.cpuModel}), Node ${results.machine.node}, wrangler ${results.machine.wrangler}`);
mkdirSync(`${root}/bench/results`, { recursive: true });
writeFileSync(`${root}/bench/results/${quick ? "latest-quick" : "latest"}.json`, JSON.stringify(results, null, 2));
console.log(`wrote bench/results/${quick ? "latest-quick" : "latest"}.json`);
parley.stop();
floor.stop();
process.exit(0);
