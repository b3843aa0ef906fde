/**
 * `npm run bench [-- --quick] [-- --only=fanout,cost]`: Parley against the platform's floor, side
 * by side, in one run.
 *
 * Starts Parley as `npm start` does (built SPA, migrated local D1, wrangler dev) on :8788 with
 * BENCH_HOOKS=1, and the floor (bench/floor: a bare SQLite Durable Object that stores a row and
 * broadcasts) on :8789, each with fresh state (scripts/wrangler-dev.ts). Seeds users and rooms
 * through the public API, then drives both with WebSocket clients from this process, speaking
 * #protocol. Open loop: sends go out on a fixed schedule and latency is measured from the
 * scheduled time with performance.now() in this one process. Prints a markdown table and writes
 * bench/results/latest.json (see lib/config.ts for the other names).
 *
 * Scenarios, in order: scenarios/fanout.ts, badge.ts, throughput.ts, storm.ts, files.ts,
 * payload.ts, cost.ts, search.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { ROOT, startWranglerDev } from "../scripts/wrangler-dev.ts";
import { parseOptions } from "./lib/config.ts";
import type { Ctx } from "./lib/context.ts";
import { invalidFrames } from "./lib/frames.ts";
import { pool } from "./lib/harness.ts";
import { Parley, register } from "./lib/parley.ts";
import { dollarsMarkdown, PRICES } from "./lib/prices.ts";
import { changedSources, machine, Report, type Results, writeResults } from "./lib/report.ts";
import { badgeScenario } from "./scenarios/badge.ts";
import { costScenario } from "./scenarios/cost.ts";
import { fanoutScenario } from "./scenarios/fanout.ts";
import { filesScenario } from "./scenarios/files.ts";
import { payloadScenario } from "./scenarios/payload.ts";
import { searchScenario } from "./scenarios/search.ts";
import { stormScenario } from "./scenarios/storm.ts";
import { throughputScenario } from "./scenarios/throughput.ts";

const options = parseOptions(process.argv.slice(2));
const { sizes: P, want } = options;
const startedAtMs = Date.now();
const results: Results = { mode: options.mode, startedAt: new Date().toISOString(), machine: machine(ROOT), scenarios: {} };
const report = new Report();
const tag = Math.random().toString(36).slice(2, 7);

// ---------------------------------------------------------------- setup

if (!existsSync(`${ROOT}dist/app/index.html`)) {
  console.log("building the SPA…");
  execFileSync(process.execPath, ["node_modules/vite/bin/vite.js", "build"], { cwd: ROOT, stdio: "ignore" });
}
console.log("starting Parley and the floor…");
// BENCH_HOOKS: the reset and meter routes, and no registration / room-creation limits. The owner
// adds every member of every room (thousands in a full run): lift that limit too.
const vars = { BENCH_HOOKS: "1", RATE_ADD_MEMBER: "1000000000/1" };
const parleyServer = await startWranglerDev({ port: 8788, state: `${ROOT}.wrangler/bench-parley`, vars, migrate: true, healthPath: "/api/health" });
// The floor answers 426 to anything but a WebSocket upgrade: that is "up".
const floorServer = await startWranglerDev({ config: "bench/floor/wrangler.toml", port: 8789, state: `${ROOT}.wrangler/bench-floor` });

const nUsers = Math.max(...P.fanout, P.badgeN + 1, P.tputListeners, P.stormN, P.fileWatchers, ...P.costSizes, P.costBadgeN, P.idleSockets);
console.log(`seeding ${nUsers} users…`);
const users = await pool(
  Array.from({ length: nUsers }, (_, i) => `b${tag}_${i}`),
  6,
  (name) => register(parleyServer.url, name),
);
const owner = users[0]!;
const parley = new Parley(parleyServer.url, owner);
let fanRoom: Promise<string> | undefined;
const ctx: Ctx = {
  sizes: P,
  tag,
  parley,
  owner,
  users,
  floorUrl: floorServer.url,
  report,
  fanRoom: () => (fanRoom ??= parley.roomWith(users.slice(0, Math.max(...P.fanout)), "fanout")),
};

// ---------------------------------------------------------------- scenarios

const s = results.scenarios;
if (want("fanout")) s.fanout = await fanoutScenario(ctx);
const badge = want("badge") ? await badgeScenario(ctx) : undefined;
if (badge) s.badge = badge;
if (want("throughput")) s.throughput = await throughputScenario(ctx);
if (want("storm")) s.reconnectStorm = await stormScenario(ctx);
if (want("files")) s.files = await filesScenario(ctx);
if (want("payload")) s.payload = await payloadScenario(ctx, badge?.badgeFrameBytes);
const cost = want("cost") ? await costScenario(ctx) : undefined;
if (cost) s.cost = cost;
if (want("search")) s.search = await searchScenario(ctx);

// ---------------------------------------------------------------- report

results.finishedAt = new Date().toISOString();
results.sourcesChangedDuringRun = changedSources(ROOT, startedAtMs);
if (results.sourcesChangedDuringRun.length > 0) {
  console.log(`\nWARNING: Worker sources changed during the run, so wrangler dev reloaded and dropped sockets: ${results.sourcesChangedDuringRun.join(", ")}`);
}
if (invalidFrames.count > 0) {
  results.invalidFrames = invalidFrames;
  console.log(`\nWARNING: ${invalidFrames.count} frames failed the protocol's schemas and were dropped (examples above).`);
}
results.table = report.rows;
console.log(`\n${report.markdown()}\n`);
if (cost) {
  results.dollarTable = dollarsMarkdown(cost.dollars.rows);
  console.log(`Dollars per million messages (Durable Objects prices read ${PRICES.read}: requests $${PRICES.requestsPerMillion}/M, rows read $${PRICES.rowsReadPerMillion}/M, rows written $${PRICES.rowsWrittenPerMillion}/M):\n\n${results.dollarTable}\n`);
}
console.log(`machine: ${results.machine.cpus} CPUs (${results.machine.cpuModel}), Node ${results.machine.node}, wrangler ${results.machine.wrangler}`);
console.log(`wrote ${writeResults(ROOT, options.outName, results)}`);
parleyServer.stop();
floorServer.stop();
process.exit(0);
