/**
 * The one way the browser tests (test/e2e/run.ts) and the benchmark
 * (bench/run.ts) start a Worker: `wrangler dev` for a config on its own port,
 * with a fresh state folder (`--persist-to`), optionally with the local D1
 * migrations applied first, spawned in its own process group and stopped by
 * killing that group (wrangler's workerd children included).
 */
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: wrangler runs from here, and `config` is relative to it. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Wrangler's entry point, run with the current Node (npm scripts and `npx` give Node 22). */
const WRANGLER = "node_modules/wrangler/bin/wrangler.js";

export interface WranglerDevOptions {
  /** The wrangler config, relative to the repository root. Default `wrangler.toml`. */
  config?: string;
  /** The port to serve on, at 127.0.0.1. */
  port: number;
  /** The state folder (`--persist-to`): emptied before the start. */
  state: string;
  /** Extra `--var NAME:value` bindings. */
  vars?: Record<string, string>;
  /** Apply the D1 migrations (binding `DB`) into `state` first. Default false. */
  migrate?: boolean;
  /** The path polled until the Worker answers. Default `/`. */
  healthPath?: string;
  /** Whether an answer means "up". Default: any status below 500. */
  healthy?: (status: number) => boolean;
  /** How long to wait for it, in ms. Default 120 s (a loaded 2-core box). */
  timeoutMs?: number;
}

export interface WranglerDev {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Kill the server's process group (idempotent). */
  stop(): void;
}

const running = new Set<WranglerDev>();
let hooked = false;

/** Stop every server this process started when it exits or is interrupted. */
function stopAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  const stopAll = () => {
    for (const server of running) server.stop();
  };
  process.on("exit", stopAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      stopAll();
      process.exit(130);
    });
  }
}

/** `wrangler d1 migrations apply DB --local` into `state`; throws if it fails. */
export function applyMigrations(config: string, state: string): void {
  const r = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "-c", config], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "true" },
  });
  if (r.status !== 0) throw new Error(`D1 migrations failed for ${config} (exit ${r.status ?? r.signal})`);
}

/** Whether something already listens on 127.0.0.1:`port`. */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Start `wrangler dev` and resolve once `healthPath` answers; rejects (with
 * wrangler's output) if it exits or does not answer within `timeoutMs`, and
 * at once if the port is taken (or the health check would be answered by
 * another server). The server is stopped when this process exits.
 */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const { config = "wrangler.toml", port, state, vars = {}, migrate = false, healthPath = "/", healthy = (s) => s < 500, timeoutMs = 120_000 } = options;
  if (await portInUse(port)) throw new Error(`port ${port} is already in use: stop that server or choose another port`);
  rmSync(state, { recursive: true, force: true });
  if (migrate) applyMigrations(config, state);
  const args = [WRANGLER, "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  // Its own process group (detached), so stop() reaches workerd too.
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" }, detached: true });
  let log = "";
  child.stdout.on("data", (d: Buffer) => (log += d));
  child.stderr.on("data", (d: Buffer) => (log += d));
  const server: WranglerDev = {
    url: `http://127.0.0.1:${port}`,
    stop() {
      running.delete(server);
      if (child.pid === undefined) return;
      // The whole group, even if wrangler itself has exited: workerd may outlive it.
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
  running.add(server);
  stopAllOnExit();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(server.url + healthPath);
      await res.body?.cancel();
      if (healthy(res.status)) return server;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      server.stop();
      throw new Error(`wrangler dev (${config} on :${port}) did not become healthy:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
