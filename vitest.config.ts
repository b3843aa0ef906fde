import { svelte } from "@sveltejs/vite-plugin-svelte";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects:
// - "worker": the Worker and its Durable Objects, inside workerd with the real
//   bindings from wrangler.toml (D1, R2, Durable Objects) and the same
//   migrations `wrangler d1 migrations apply` uses, applied in test/setup.ts.
//   Storage is isolated per test file.
// - "app": the SPA's state classes (app/lib/*.svelte.ts), compiled by the
//   Svelte plugin with the browser build of Svelte so runes behave as in the
//   page, in Node without a browser (fake WebSocket / fetch where needed).
export default defineConfig(async () => ({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations("migrations"),
                // A small upload limit so the exact-limit / limit+1 cases are cheap; still
                // above one R2 part (5 MiB) so the multipart-upload path is exercised.
                MAX_UPLOAD_BYTES: String(6 * 1024 * 1024),
                // Small enough that the S11 tests reach the per-hour upload limits in a few uploads.
                RATE_UPLOAD_COUNT: "40/3600",
                RATE_UPLOAD_BYTES: `${16 * 1024 * 1024}/3600`,
                // The default's burst (30) with a slow refill (one per 2 min), so the RATE_REACT test's
                // refusal holds however long a loaded machine takes between its requests.
                RATE_REACT: "30/3600",
                // `npm run chaos` / `npm run fuzz` raise these; CI runs the short forms.
                FUZZ_ITERATIONS: process.env.FUZZ_ITERATIONS ?? "300",
                CHAOS_ROUNDS: process.env.CHAOS_ROUNDS ?? "12",
              },
              // The tests call the Worker directly; they never need the built SPA.
              assets: { directory: "./test/fixtures/assets" },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["./test/setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [svelte()],
        resolve: { conditions: ["browser"] },
        test: {
          name: "app",
          environment: "node",
          include: ["test/app/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
    ],
  },
}));
