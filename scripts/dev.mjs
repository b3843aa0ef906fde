// `npm run dev`: the SPA with hot reload (Vite on :5173) against the Worker
// (`wrangler dev` on :8787). Vite proxies /api, sockets included; the Worker
// is told to accept the Vite origin for state-changing requests.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const node = process.execPath;
const run = (args) => spawn(node, args, { cwd: root, stdio: "inherit" });

const migrate = spawn(node, ["node_modules/wrangler/bin/wrangler.js", "d1", "migrations", "apply", "DB", "--local"], {
  cwd: root,
  stdio: "inherit",
});
migrate.on("exit", (code) => {
  if (code !== 0) process.exit(code ?? 1);
  const children = [
    run(["node_modules/wrangler/bin/wrangler.js", "dev", "--ip", "127.0.0.1", "--port", "8787", "--var", "ALLOWED_ORIGINS:http://localhost:5173,http://127.0.0.1:5173"]),
    run(["node_modules/vite/bin/vite.js", "dev", "--host", "127.0.0.1", "--port", "5173"]),
  ];
  const stop = () => children.forEach((c) => c.kill("SIGTERM"));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  children.forEach((c) => c.on("exit", () => { stop(); process.exitCode = c.exitCode ?? 0; }));
});
