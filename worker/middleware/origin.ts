import type { MiddlewareHandler } from "hono";
import { apiError } from "../lib/errors";
import type { AppEnv } from "../types";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The origins allowed to change state: the Worker's own plus ALLOWED_ORIGINS. */
export function allowedOrigins(requestUrl: string, configured: string): Set<string> {
  const list = new Set([new URL(requestUrl).origin]);
  for (const o of configured.split(",")) if (o.trim()) list.add(o.trim());
  return list;
}

/**
 * Cross-site request guard. Every state-changing request and every WebSocket
 * upgrade must carry an `Origin` that is exactly one of the allowed origins;
 * a missing Origin, `null`, or a look-alike (`app.example.com.evil.com`) gets
 * 403 before anything else runs. Exact string match, no suffix tricks.
 */
export function originGuard(): MiddlewareHandler<AppEnv> {
  return async function originGuard(c, next) {
    const upgrade = c.req.header("Upgrade")?.toLowerCase() === "websocket";
    if (SAFE_METHODS.has(c.req.method) && !upgrade) return next();
    const origin = c.req.header("Origin");
    if (!origin || !allowedOrigins(c.req.url, c.env.ALLOWED_ORIGINS ?? "").has(origin)) {
      throw apiError(403, "bad_origin", "Cross-site request refused: the Origin is not allowed");
    }
    return next();
  };
}
