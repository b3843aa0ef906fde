/**
 * Browser tests: serve Parley the way `npm start` does (built SPA + local D1
 * migrations + `wrangler dev`), but on its own port with a fresh state folder,
 * then run test/e2e/*.test.ts with node's test runner driving Chromium.
 *
 * - `E2E_BASE_URL=http://127.0.0.1:8787` uses a server that is already running;
 * - `E2E_PORT=8811` serves on that port (default 8799), state in `.wrangler/e2e-state-<port>`;
 * - file arguments (`npm run test:e2e -- test/e2e/chat.e2e.test.ts`) run only those files.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { ROOT, startWranglerDev, type WranglerDev } from "../../scripts/wrangler-dev.ts";

if (!existsSync(`${ROOT}dist/app/index.html`)) {
  console.error("dist/app is missing: run `npm run build` first (npm run test:e2e does).");
  process.exit(1);
}

let server: WranglerDev | undefined;
let baseUrl = process.env.E2E_BASE_URL;
if (!baseUrl) {
  const port = Number(process.env.E2E_PORT ?? "8799");
  try {
    server = await startWranglerDev({
      port,
      state: `${ROOT}.wrangler/e2e-state-${port}`,
      migrate: true,
      healthPath: "/api/health",
      healthy: (s) => s >= 200 && s < 300,
      // Every browser of the suite registers from 127.0.0.1: lift the per-address registration limit
      // (S11; its own tests are in test/worker/limits.test.ts). Everything else runs as configured.
      vars: { RATE_REGISTER: "100000/3600" },
    });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
  baseUrl = server.url;
}

const files = readdirSync(`${ROOT}test/e2e`)
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => `test/e2e/${f}`);
const only = process.argv.slice(2);
const tests = spawn(process.execPath, ["--test", "--test-concurrency=1", "--test-reporter=spec", ...(only.length ? only : files)], {
  cwd: ROOT,
  stdio: "inherit",
  env: { ...process.env, E2E_BASE_URL: baseUrl },
});
tests.on("exit", (code) => {
  server?.stop();
  process.exit(code ?? 1);
});
