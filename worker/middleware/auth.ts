import type { MiddlewareHandler } from "hono";
import { apiError } from "../lib/errors";
import { lookupSession, readSessionToken } from "../lib/session";
import type { AppEnv } from "../types";

/** Require a valid session; sets `c.var.auth`. 401 otherwise. */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async function requireAuth(c, next) {
    const token = readSessionToken(c);
    const auth = token ? await lookupSession(c.var.db, token) : null;
    if (!auth) throw apiError(401, "unauthorized", "Sign in to continue");
    c.set("auth", auth);
    return next();
  };
}
