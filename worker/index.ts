/**
 * Parley's Worker: the Hono API under /api, the Durable Object classes, and
 * (through wrangler's [assets]) the built SPA for every other path.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { db } from "./db";
import { sweepFiles } from "./files/sweep";
import { codeForStatus, errorResponse } from "./lib/errors";
import { repairRooms } from "./lib/membership";
import { pruneExpired } from "./lib/prune";
import { requireAuth } from "./middleware/auth";
import { originGuard } from "./middleware/origin";
import { auth } from "./routes/auth";
import { dmApi } from "./routes/dm";
import { health } from "./routes/health";
import { me } from "./routes/me";
import { roomsApi } from "./routes/rooms";
import { searchApi } from "./routes/search";
import { timeline } from "./routes/timeline";
import { fileApi, roomFiles } from "./routes/files";
import { benchHooks } from "./routes/bench";
import { roomUploads, uploadApi } from "./routes/uploads";
import type { AppEnv } from "./types";

export { Room } from "./room";
export { UserHub } from "./user-hub";

const app = new Hono<AppEnv>().basePath("/api");

app.use(secureHeaders({ referrerPolicy: "no-referrer", crossOriginResourcePolicy: "same-origin" }));
app.use(async function apiContentSecurityPolicy(c, next) {
  await next();
  // JSON needs no capabilities; file downloads set their own sandboxing policy.
  if (!c.res.headers.has("Content-Security-Policy")) c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
});
app.use(async function noStore(c, next) {
  await next();
  if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
});
app.use(originGuard());
app.use(async function database(c, next) {
  c.set("db", db(c.env.DB));
  return next();
});
app.use("/me/*", requireAuth());
app.use("/dm/*", requireAuth());
app.use("/rooms/*", requireAuth());
app.use("/files/*", requireAuth());
app.use("/uploads/*", requireAuth());
app.use("/search", requireAuth());
// The routes of one room (`/rooms/:id/…`) each start with requireMembership() (middleware/membership.ts),
// which sets c.var.membership; the socket upgrade is checked by the Room object itself.

app
  .route("/health", health)
  .route("/auth", auth)
  .route("/me", me)
  .route("/dm", dmApi)
  .route("/rooms", roomsApi)
  .route("/rooms", timeline)
  .route("/rooms", roomFiles)
  .route("/rooms", roomUploads)
  .route("/files", fileApi)
  .route("/uploads", uploadApi)
  .route("/search", searchApi)
  .route("/_bench", benchHooks);

app.notFound((c) => errorResponse(404, "not_found", `No API route for ${c.req.method} ${new URL(c.req.url).pathname}`));

app.onError((err, c) => {
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get("Content-Type")?.startsWith("application/json")) return res;
    return errorResponse(err.status, codeForStatus(err.status), err.message || "Request failed");
  }
  console.error(`${c.req.method} ${new URL(c.req.url).pathname} failed:`, err);
  return errorResponse(500, "internal", "Something went wrong on our side. Please try again.");
});

export default {
  fetch: app.fetch,
  /**
   * Cron (wrangler.toml [triggers], every minute): sync rooms whose object
   * lags D1's membership (R14), and every 15 minutes clean up after uploads
   * that died half-way.
   */
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(repairRooms(env, db(env.DB)).then((r) => r.synced + r.failed > 0 && console.log("membership repair", r)));
    if (new Date(controller.scheduledTime).getUTCMinutes() % 15 === 0) {
      ctx.waitUntil(sweepFiles(env, db(env.DB)).then((r) => console.log("file sweep", r)));
    }
    if (new Date(controller.scheduledTime).getUTCMinutes() === 0) ctx.waitUntil(pruneExpired(db(env.DB)));
  },
} satisfies ExportedHandler<Env>;
