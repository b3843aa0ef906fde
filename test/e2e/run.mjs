// Browser tests: serve Parley the way `npm start` does (built SPA + local D1
// migrations + `wrangler dev`), but on its own port with a fresh state folder,
// then run test/e2e/*.test.ts with node's test runner driving Chromium.
//
// E2E_BASE_URL=http://127.0.0.1:8787 uses a server that is already running.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const node = process.execPath;
const wrangler = "node_modules/wrangler/bin/wrangler.js";

if (!existsSync(`${root}/dist/app/index.html`)) {
  console.error("dist/app is missing: run `npm run build` first (npm run test:e2e does).");
  process.exit(1);
}

let server;
let baseUrl = process.env.E2E_BASE_URL;
if (!baseUrl) {
  const port = process.env.E2E_PORT ?? "8799";
  const state = `${root}/.wrangler/e2e-state-${port}`;
  rmSync(state, { recursive: true, force: true });
  const migrate = spawnSync(node, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "true" },
  });
  if (migrate.status !== 0) process.exit(migrate.status ?? 1);
  server = spawn(node, [wrangler, "dev", "--ip", "127.0.0.1", "--port", port, "--persist-to", state], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true" },
    detached: true,
  });
  let log = "";
  server.stdout.on("data", (d) => (log += d));
  server.stderr.on("data", (d) => (log += d));
  baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/api/health`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (server.exitCode !== null || Date.now() > deadline) {
      console.error(`wrangler dev did not become healthy:\n${log}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const stopServer = () => {
  if (server && server.exitCode === null) {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
};
process.on("SIGINT", () => {
  stopServer();
  process.exit(130);
});

const files = readdirSync(`${root}/test/e2e`)
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => `test/e2e/${f}`);
const only = process.argv.slice(2);
const tests = spawn(node, ["--test", "--test-concurrency=1", "--test-reporter=spec", ...(only.length ? only : files)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, E2E_BASE_URL: baseUrl },
});
tests.on("exit", (code) => {
  stopServer();
  process.exit(code ?? 1);
});
