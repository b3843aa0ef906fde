/**
 * `/api/me`: who I am, my badge, the badge socket, and my account settings
 * (display name, password, signing out everywhere, deletion — the work is in
 * lib/account.ts).
 */
import { Hono } from "hono";
import { z } from "zod";
import { confirmPassword, changePassword, deleteAccount, setDisplayName, signOutEverywhere } from "../lib/account";
import { apiError } from "../lib/errors";
import { hubFor } from "../lib/hub";
import { accountRates } from "../lib/limits";
import { requireWindow } from "../lib/rate-window";
import { clearSessionCookie } from "../lib/session";
import { jsonBody } from "../middleware/validate";
import { HUB_UPGRADE_HEADERS } from "../room/contract";
import type { AppEnv } from "../types";
import { ChangePasswordBody, DeleteMeBody, type UnreadCounts, UpdateMeBody, type User } from "#protocol";

const address = (c: { req: { header(name: string): string | undefined } }) => c.req.header("CF-Connecting-IP") ?? "local";

/** `{currentPassword, newPassword}` (#protocol), or `{current, next}` (the names /work/shared/CONTRACT.md gives them). */
const PasswordChange = z.preprocess((body) => {
  if (typeof body !== "object" || body === null || "currentPassword" in body || !("current" in body)) return body;
  const { current, next } = body as { current?: unknown; next?: unknown };
  return { currentPassword: current, newPassword: next };
}, ChangePasswordBody);

export const me = new Hono<AppEnv>()
  .get("/", (c) => {
    const { id, username, displayName } = c.var.auth.user;
    return c.json({ id, username, displayName } satisfies User);
  })
  // The display name: shown instead of the username in member lists and DMs; null clears it.
  .patch("/", ...jsonBody(UpdateMeBody), async (c) => {
    const { id, username, displayName: before } = c.var.auth.user;
    const { displayName } = c.req.valid("json");
    await requireWindow(c.var.db, `profile:${id}`, accountRates(c.env).profile, "profile changes");
    if (displayName !== before) await setDisplayName(c.env, id, displayName);
    return c.json({ id, username, displayName } satisfies User);
  })
  // Wrong current password: 401 invalid_credentials (counted by the sign-in throttle). Other sessions are signed out.
  .post("/password", ...jsonBody(PasswordChange), async (c) => {
    const { currentPassword, newPassword } = c.req.valid("json");
    await confirmPassword(c.env, c.var.db, c.var.auth, currentPassword, address(c));
    await changePassword(c.env, c.var.auth, newPassword);
    return c.body(null, 204);
  })
  // Every session of mine ends, this one too; their sockets close (1008). Needs no body: the session is the proof.
  .delete("/sessions", async (c) => {
    await signOutEverywhere(c.env, c.var.auth.user.id);
    clearSessionCookie(c);
    return c.body(null, 204);
  })
  // A9: the account's sessions and sockets end; its messages show "deleted user"; its username is free again.
  .delete("/", ...jsonBody(DeleteMeBody), async (c) => {
    await confirmPassword(c.env, c.var.db, c.var.auth, c.req.valid("json").password, address(c));
    await deleteAccount(c.env, c.var.auth.user.id);
    clearSessionCookie(c);
    return c.body(null, 204);
  })
  .get("/unread", async (c) => {
    const { user } = c.var.auth;
    return c.json((await hubFor(c.env, user.id).getUnread(user.id)) satisfies UnreadCounts);
  })
  .get("/ws", async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw apiError(400, "bad_request", "This endpoint takes a WebSocket upgrade");
    }
    const { user, sessionHash } = c.var.auth;
    const headers = new Headers({ Upgrade: "websocket" });
    headers.set(HUB_UPGRADE_HEADERS.userId, user.id);
    headers.set(HUB_UPGRADE_HEADERS.session, sessionHash);
    headers.set(HUB_UPGRADE_HEADERS.expires, String(c.var.auth.expiresAt));
    return hubFor(c.env, user.id).fetch(new Request("https://hub/ws", { headers }));
  });
