import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, errorOf, ORIGIN, register, uniqueName } from "./helpers";

const BAD_ORIGINS: [string, string | null][] = [
  ["another site", "https://evil.example"],
  ["a look-alike suffix", `${ORIGIN}.evil.com`],
  ["a look-alike prefix", ORIGIN.replace("https://", "https://evil.")],
  ["the literal null origin", "null"],
  ["the right host over http", ORIGIN.replace("https://", "http://")],
  ["a missing Origin", null],
];

describe("S1 (HTTP) state-changing requests need an allowed Origin", () => {
  for (const [label, origin] of BAD_ORIGINS) {
    it(`refuses ${label} with 403 and changes nothing`, async () => {
      const username = uniqueName();
      const res = await call("/api/auth/register", { origin, json: { username, password: "password123" } });
      expect(await errorOf(res)).toMatchObject({ status: 403, code: "bad_origin" });
      const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM users WHERE username_key = ?").bind(username.toLowerCase()).first<{ n: number }>();
      expect(row?.n).toBe(0);
    });
  }

  it("refuses a cross-site room creation by a signed-in user", async () => {
    const u = await register();
    const res = await call("/api/rooms", { cookie: u.cookie, origin: "https://evil.example", json: { name: "pwned" } });
    expect(res.status).toBe(403);
    const list = await (await call("/api/rooms", { cookie: u.cookie })).json<{ rooms: unknown[] }>();
    expect(list.rooms).toHaveLength(0);
  });

  it("refuses a cross-site logout (it would end the victim's session)", async () => {
    const u = await register();
    const res = await call("/api/auth/logout", { cookie: u.cookie, origin: "https://evil.example", method: "POST" });
    expect(res.status).toBe(403);
    expect((await call("/api/me", { cookie: u.cookie })).status).toBe(200);
  });

  it("allows the app's own origin, and reads (GET) need no Origin", async () => {
    const u = await register();
    expect((await call("/api/me", { cookie: u.cookie, origin: null })).status).toBe(200);
    expect((await call("/api/health", { origin: null })).status).toBe(200);
  });

  it("allows an origin configured in ALLOWED_ORIGINS", async () => {
    expect(env.ALLOWED_ORIGINS).toBe("");
    // The allowlist is exact: see worker/middleware/origin.ts; unit-check it.
    const { allowedOrigins } = await import("../../worker/middleware/origin");
    const set = allowedOrigins(`${ORIGIN}/api/x`, "http://localhost:5173, https://app.example.com");
    expect([...set]).toEqual([ORIGIN, "http://localhost:5173", "https://app.example.com"]);
    expect(set.has("https://app.example.com.evil.com")).toBe(false);
  });
});

describe("S10 cross-site POST shapes to a JSON endpoint", () => {
  const shapes: [string, Record<string, string>, string][] = [
    ["an HTML form (urlencoded)", { "Content-Type": "application/x-www-form-urlencoded" }, "username=x&password=y"],
    ["a text/plain body holding JSON", { "Content-Type": "text/plain" }, '{"username":"x","password":"password123"}'],
    ["an upper-case TEXT/PLAIN", { "Content-Type": "TEXT/PLAIN" }, '{"username":"x","password":"password123"}'],
    ["a multipart form", { "Content-Type": "multipart/form-data; boundary=b" }, "--b--"],
  ];
  for (const [label, headers, body] of shapes) {
    it(`403 for ${label} from another site`, async () => {
      const res = await call("/api/auth/register", { origin: "https://evil.example", headers, body, method: "POST" });
      expect(await errorOf(res)).toMatchObject({ status: 403, code: "bad_origin" });
    });
    it(`415 for ${label} even from the app's own origin`, async () => {
      const res = await call("/api/auth/register", { headers, body, method: "POST" });
      expect(await errorOf(res)).toMatchObject({ status: 415, code: "unsupported_media_type" });
    });
  }

  it("an upper-case APPLICATION/JSON from the app's origin is still JSON", async () => {
    const res = await call("/api/auth/register", {
      headers: { "Content-Type": "APPLICATION/JSON; charset=UTF-8" },
      json: { username: uniqueName(), password: "password123" },
    });
    expect(res.status).toBe(201);
  });
});

describe("the API's error shape", () => {
  it("malformed JSON is a 400 in the standard shape", async () => {
    const res = await call("/api/auth/register", { headers: { "Content-Type": "application/json" }, body: "{not json", method: "POST" });
    const err = await errorOf(res);
    expect(err.status).toBe(400);
    expect(err.code).toBe("bad_request");
    expect(err.message).toMatch(/JSON/);
  });

  it("an unknown API path is a JSON 404", async () => {
    const res = await call("/api/nope");
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
  });

  it("API responses carry nosniff and are not cached", async () => {
    const res = await call("/api/health");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(await res.json()).toEqual({ ok: true, checks: { worker: "ok", d1: "ok", r2: "ok" } });
  });
});

describe("benchmark hooks", () => {
  it("are off unless BENCH_HOOKS=1", async () => {
    const u = await register();
    const res = await call("/api/_bench/rooms/x/reset", { cookie: u.cookie, method: "POST" });
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
  });
});
