import adapter from "@sveltejs/adapter-static";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

// SvelteKit 3 takes its config here (there is no svelte.config.js).
// The SPA lives in app/ and builds to dist/app, which wrangler serves as
// Workers Static Assets with SPA fallback (see wrangler.toml).
export default defineConfig({
  plugins: [
    sveltekit({
      files: { src: "app", assets: "app/static" },
      adapter: adapter({ pages: "dist/app", assets: "dist/app", fallback: "index.html" }),
    }),
  ],
  server: {
    // `npm run dev`: Vite serves the SPA with hot reload and proxies the API
    // (HTTP and WebSockets) to `wrangler dev` on :8787.
    proxy: { "/api": { target: "http://127.0.0.1:8787", ws: true } },
  },
});
