/**
 * The account settings in the session (app/lib/session.svelte.ts) and their
 * error sentences (app/lib/account-errors.ts): a wrong password never signs
 * the tab out, a gone session does; "signed out" sockets make the session ask
 * the server (`verify`); my display name lands in the session at once.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { accountError, waitText } from "../../app/lib/account-errors.ts";
import { ApiError, onUnauthorized } from "../../app/lib/http.ts";
import { Session } from "../../app/lib/session.svelte.ts";
import { deferred, errorReply, reply, stubFetch } from "./fake-socket.ts";

/** Count calls of the app's 401 handler during the test. */
function watchUnauthorized(): { count: number } {
  const seen = { count: 0 };
  onTestFinished(onUnauthorized(() => seen.count++));
  return seen;
}

async function signedIn(handler: (method: string, path: string) => Response | Promise<Response>) {
  const calls = stubFetch((method, path) => (method === "GET" && path === "/api/me" && calls.length === 1 ? reply({ id: "u-me", username: "me", displayName: null }) : handler(method, path)));
  const session = new Session();
  await session.restore();
  expect(session.me?.id).toBe("u-me");
  return { session, calls };
}

describe("Session: account settings", () => {
  it("setDisplayName puts the server's answer in session.me, without touching the counts", async () => {
    const { session, calls } = await signedIn((method, path) => {
      if (method === "PATCH" && path === "/api/me") return reply({ id: "u-me", username: "me", displayName: "Me Myself" });
      throw new Error(`unexpected ${method} ${path}`);
    });
    session.setUnread({ total: 2, rooms: { r: 2 } });
    await session.setDisplayName("Me Myself");
    expect(session.me).toEqual({ id: "u-me", username: "me", displayName: "Me Myself" });
    expect(session.total).toBe(2);
    expect(calls).toContain("PATCH /api/me");
  });

  it("a wrong password (401 invalid_credentials) stays on the page; a gone session (401 unauthorized) runs the 401 handler", async () => {
    let code = "invalid_credentials";
    const { session } = await signedIn(() => errorReply(401, code, "Wrong password"));
    const seen = watchUnauthorized();
    await expect(session.changePassword("nope", "a new good password")).rejects.toMatchObject({ code: "invalid_credentials" });
    await expect(session.deleteAccount("nope")).rejects.toMatchObject({ code: "invalid_credentials" });
    expect(seen.count).toBe(0);
    expect(session.signedIn).toBe(true);
    code = "unauthorized";
    await expect(session.changePassword("mine", "a new good password")).rejects.toBeInstanceOf(ApiError);
    expect(seen.count).toBe(1);
  });

  it("signOutEverywhere and deleteAccount forget the session once the server agreed", async () => {
    const { session, calls } = await signedIn((method, path) => {
      if ((method === "DELETE" && path === "/api/me/sessions") || (method === "DELETE" && path === "/api/me")) return reply(null, 204);
      throw new Error(`unexpected ${method} ${path}`);
    });
    await session.signOutEverywhere();
    expect(session.signedIn).toBe(false);
    expect(calls).toContain("DELETE /api/me/sessions");

    const again = await signedIn((method, path) => {
      if (method === "DELETE" && path === "/api/me") return reply(null, 204);
      throw new Error(`unexpected ${method} ${path}`);
    });
    await again.session.deleteAccount("mine");
    expect(again.session.signedIn).toBe(false);
    expect(again.calls).toContain("DELETE /api/me");
  });

  it("deleteAccount that fails keeps me signed in", async () => {
    const { session } = await signedIn(() => errorReply(429, "rate_limited", "Too many password attempts. Try again in 15 s."));
    await expect(session.deleteAccount("mine")).rejects.toMatchObject({ status: 429 });
    expect(session.signedIn).toBe(true);
  });
});

describe("Session.verify (a socket closed as signed out)", () => {
  it("the session is gone: the 401 handler runs once", async () => {
    const { session } = await signedIn(() => errorReply(401, "unauthorized"));
    const seen = watchUnauthorized();
    await session.verify();
    expect(seen.count).toBe(1);
  });

  it("the session is fine (this tab signed out another): my details refresh, nothing else happens", async () => {
    const { session } = await signedIn(() => reply({ id: "u-me", username: "me", displayName: "Renamed" }));
    const seen = watchUnauthorized();
    await session.verify();
    expect(seen.count).toBe(0);
    expect(session.me?.displayName).toBe("Renamed");
  });

  it("a late answer for a session that already changed (signed out and in again here) is ignored", async () => {
    const answer = deferred<Response>();
    const { session } = await signedIn((method, path) => {
      if (method === "GET" && path === "/api/me") return answer.promise;
      if (path === "/api/auth/login") return reply({ user: { id: "u-other", username: "other", displayName: null } });
      throw new Error(`unexpected ${method} ${path}`);
    });
    const seen = watchUnauthorized();
    const checking = session.verify();
    await session.signIn({ username: "other", password: "whatever pass" });
    answer.resolve(errorReply(401, "unauthorized"));
    await checking;
    expect(seen.count).toBe(0);
    expect(session.me?.id).toBe("u-other");
  });

  it("signed out already: asks nothing", async () => {
    const calls = stubFetch(() => errorReply(401, "unauthorized"));
    const session = new Session();
    await session.restore();
    const before = calls.length;
    await session.verify();
    expect(calls.length).toBe(before);
  });
});

describe("accountError", () => {
  it("a wrong password gets the caller's sentence; the server's clear words are kept", () => {
    expect(accountError(new ApiError(401, "invalid_credentials", "Wrong password"), "Your current password is not right.")).toBe("Your current password is not right.");
    expect(accountError(new ApiError(400, "bad_request", "Display name must be at most 64 characters"), "x")).toBe("Display name must be at most 64 characters");
    expect(accountError(new ApiError(429, "rate_limited", "Too many password attempts. Try again in 15 s.", 15), "x")).toBe("Too many password attempts. Try again in 15 s.");
  });

  it("a 429 without a wait in its words still says how long to wait", () => {
    expect(accountError(new ApiError(429, "rate_limited", "Slow down", 120), "x")).toBe("Too many attempts. Try again in 2 min.");
    expect(accountError(new ApiError(429, "rate_limited", "Slow down"), "x")).toBe("Too many attempts. Wait a moment, then try again.");
    expect(waitText(0.2)).toBe("1 s");
    expect(waitText(45)).toBe("45 s");
  });
});
