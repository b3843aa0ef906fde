import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashPassword, MAX_PBKDF2_ITERATIONS, parsePasswordHash, PBKDF2_ITERATIONS, verifyPassword } from "../../worker/lib/password";
import { call, errorOf, register, sessionCookie, uniqueName } from "./helpers";

describe("register, sign in, sign out", () => {
  it("registers, then /api/me answers the user", async () => {
    const u = await register();
    const res = await call("/api/me", { cookie: u.cookie });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: u.id, username: u.username, displayName: null });
  });

  it("signs in with the right password and refuses a wrong one", async () => {
    const u = await register();
    const ok = await call("/api/auth/login", { json: { username: u.username, password: u.password } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ user: { id: u.id, username: u.username, displayName: null } });
    const me = await call("/api/me", { cookie: sessionCookie(ok) });
    expect(me.status).toBe(200);

    const bad = await call("/api/auth/login", { json: { username: u.username, password: "not the password" } });
    expect(await errorOf(bad)).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(bad.headers.get("Set-Cookie")).toBeNull();
  });

  it("an unknown user gets the same answer as a wrong password", async () => {
    const res = await call("/api/auth/login", { json: { username: uniqueName(), password: "whatever123" } });
    expect(await errorOf(res)).toMatchObject({ status: 401, code: "invalid_credentials" });
  });

  it("logout invalidates the session server-side (S4)", async () => {
    const u = await register();
    const out = await call("/api/auth/logout", { cookie: u.cookie, method: "POST" });
    expect(out.status).toBe(204);
    // Replaying the old cookie must not work: the session is gone from D1.
    const me = await call("/api/me", { cookie: u.cookie });
    expect(await errorOf(me)).toMatchObject({ status: 401, code: "unauthorized" });
    const hash = u.cookie.split("=")[1]!;
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(u.id).first<{ n: number }>();
    expect(rows?.n).toBe(0);
    expect(hash.length).toBe(43);
  });

  it("401 without a session, and with a forged or expired one", async () => {
    expect((await call("/api/me")).status).toBe(401);
    expect((await call("/api/me", { cookie: "__Host-parley_session=forged" })).status).toBe(401);
    const u = await register();
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE user_id = ?").bind(Date.now() - 1, u.id).run();
    expect((await call("/api/me", { cookie: u.cookie })).status).toBe(401);
  });

  it("validates usernames and passwords with a clear message", async () => {
    const short = await call("/api/auth/register", { json: { username: "ab", password: "long enough pw" } });
    expect(await errorOf(short)).toMatchObject({ status: 400, code: "bad_request", message: expect.stringMatching(/at least 3/) });
    const odd = await call("/api/auth/register", { json: { username: "a b<c>", password: "long enough pw" } });
    expect(await errorOf(odd)).toMatchObject({ status: 400, message: expect.stringMatching(/letters, digits/) });
    const weak = await call("/api/auth/register", { json: { username: uniqueName(), password: "short" } });
    expect(await errorOf(weak)).toMatchObject({ status: 400, message: expect.stringMatching(/at least 8/) });
    const missing = await call("/api/auth/register", { json: { username: uniqueName() } });
    expect((await errorOf(missing)).status).toBe(400);
  });
});

describe("A1 the session cookie", () => {
  it("is __Host-, HttpOnly, Secure, SameSite=Lax, Path=/, with no Domain", async () => {
    const res = await call("/api/auth/register", { json: { username: uniqueName(), password: "password123" } });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-parley_session="))!;
    const attrs = cookie.split(";").map((s) => s.trim().toLowerCase());
    expect(attrs).toContain("httponly");
    expect(attrs).toContain("secure");
    expect(attrs).toContain("samesite=lax");
    expect(attrs).toContain("path=/");
    expect(attrs.some((a) => a.startsWith("domain"))).toBe(false);
    // 256 random bits, base64url.
    expect(cookie.split(";")[0]!.split("=")[1]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("stores only a hash of the session token", async () => {
    const u = await register();
    const token = u.cookie.split("=")[1]!;
    const row = await env.DB.prepare("SELECT id_hash FROM sessions WHERE user_id = ?").bind(u.id).first<{ id_hash: string }>();
    expect(row?.id_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.id_hash).not.toContain(token);
  });
});

describe("A2 password hashing", () => {
  it("uses PBKDF2-SHA256 at no more than 100,000 iterations, self-describing", async () => {
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    expect(MAX_PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    const u = await register();
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(u.id).first<{ password_hash: string }>();
    const stored = row!.password_hash;
    expect(stored).toMatch(/^pbkdf2-sha256\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const parsed = parsePasswordHash(stored)!;
    expect(parsed.iterations).toBe(PBKDF2_ITERATIONS);
    expect(parsed.salt.length).toBeGreaterThanOrEqual(16);
    expect(stored).not.toContain(u.password);
  });

  it("random salt: the same password hashes differently, and both verify", async () => {
    const a = await hashPassword("same password");
    const b = await hashPassword("same password");
    expect(a).not.toBe(b);
    expect(await verifyPassword("same password", a)).toBe(true);
    expect(await verifyPassword("same password", b)).toBe(true);
    expect(await verifyPassword("other password", a)).toBe(false);
  });

  it("refuses to hash above the cap", async () => {
    await expect(hashPassword("x", 100_001)).rejects.toThrow(RangeError);
  });
});

describe("A3 a stored hash claiming an absurd iteration count", () => {
  it("is rejected before deriving", async () => {
    const good = await hashPassword("password123", 1000);
    const evil = good.replace("$1000$", "$4294967295$");
    expect(parsePasswordHash(evil)).toBeNull();
    const started = Date.now();
    expect(await verifyPassword("password123", evil)).toBe(false);
    // Deriving 4.3e9 iterations would take hours; rejection is immediate.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a user whose stored hash is tampered with cannot sign in, and the server keeps answering", async () => {
    const u = await register();
    await env.DB.prepare("UPDATE users SET password_hash = ? WHERE id = ?")
      .bind("pbkdf2-sha256$4294967295$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", u.id)
      .run();
    const res = await call("/api/auth/login", { json: { username: u.username, password: u.password } });
    expect(await errorOf(res)).toMatchObject({ status: 401, code: "invalid_credentials" });
  });
});

describe("A4 huge and Unicode passwords", () => {
  it("a 1 MB password is refused with a message and no account is made", async () => {
    const username = uniqueName();
    const res = await call("/api/auth/register", { json: { username, password: "x".repeat(1024 * 1024) } });
    const err = await errorOf(res);
    expect([400, 413]).toContain(err.status);
    expect(err.message).toMatch(/at most|too large/);
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM users WHERE username_key = ?").bind(username.toLowerCase()).first<{ n: number }>();
    expect(row?.n).toBe(0);
  });

  it("a 257-character password is refused with the length rule", async () => {
    const res = await call("/api/auth/register", { json: { username: uniqueName(), password: "p".repeat(257) } });
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringMatching(/at most 256/) });
  });

  it("Unicode passwords are NFKC-normalised: equivalent forms sign in", async () => {
    // "ﬁ" (U+FB01 ligature) and "Ａ" (fullwidth A) normalise to "fi" and "A" under NFKC.
    const composed = "caf\u00e9 \u{1F600} \uFB01\uFF21";
    const decomposed = "cafe\u0301 \u{1F600} fiA";
    const u = await register(uniqueName(), composed);
    const res = await call("/api/auth/login", { json: { username: u.username, password: decomposed } });
    expect(res.status).toBe(200);
  });
});

describe("A5 sign-in throttling", () => {
  it("locks an account after 10 failures with 429 and Retry-After, even for the right password", async () => {
    const u = await register();
    for (let i = 0; i < 10; i++) {
      const res = await call("/api/auth/login", {
        json: { username: u.username, password: `wrong-${i}-password` },
        headers: { "CF-Connecting-IP": `198.51.100.${i}` },
      });
      expect(res.status).toBe(401);
    }
    const locked = await call("/api/auth/login", { json: { username: u.username, password: u.password } });
    const err = await errorOf(locked);
    expect(err).toMatchObject({ status: 429, code: "rate_limited" });
    const retry = Number(locked.headers.get("Retry-After"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(15 * 60);
    // Case variants are the same account.
    const variant = await call("/api/auth/login", { json: { username: u.username.toUpperCase(), password: u.password } });
    expect(variant.status).toBe(429);
  });

  it("only failures count: many successful sign-ins are never throttled", async () => {
    const u = await register();
    for (let i = 0; i < 12; i++) {
      const res = await call("/api/auth/login", { json: { username: u.username, password: u.password } });
      expect(res.status).toBe(200);
    }
  });

  it("a success clears the account's failures", async () => {
    const u = await register();
    for (let i = 0; i < 9; i++) await call("/api/auth/login", { json: { username: u.username, password: "wrong password" } });
    expect((await call("/api/auth/login", { json: { username: u.username, password: u.password } })).status).toBe(200);
    for (let i = 0; i < 9; i++) await call("/api/auth/login", { json: { username: u.username, password: "wrong password" } });
    expect((await call("/api/auth/login", { json: { username: u.username, password: u.password } })).status).toBe(200);
  });

  it("throttles an address more loosely, across accounts", async () => {
    const ip = "203.0.113.77";
    for (let i = 0; i < 50; i++) {
      const res = await call("/api/auth/login", {
        json: { username: uniqueName(), password: "wrong password" },
        headers: { "CF-Connecting-IP": ip },
      });
      expect(res.status).toBe(401);
    }
    const u = await register();
    const blocked = await call("/api/auth/login", {
      json: { username: u.username, password: u.password },
      headers: { "CF-Connecting-IP": ip },
    });
    expect(blocked.status).toBe(429);
    // Another address is unaffected.
    const other = await call("/api/auth/login", {
      json: { username: u.username, password: u.password },
      headers: { "CF-Connecting-IP": "203.0.113.78" },
    });
    expect(other.status).toBe(200);
  });
});

describe("A6 duplicate usernames", () => {
  it("case variants of a taken name get a clear 409", async () => {
    const name = uniqueName("Dup");
    await register(name);
    for (const variant of [name, name.toLowerCase(), name.toUpperCase()]) {
      const res = await call("/api/auth/register", { json: { username: variant, password: "password123" } });
      expect(await errorOf(res)).toMatchObject({ status: 409, code: "username_taken", message: "That username is taken" });
    }
  });

  it("fullwidth look-alikes normalise (NFKC) to the same name", async () => {
    const name = uniqueName("nf");
    await register(name);
    const fullwidth = [...name].map((ch) => (/[a-z]/.test(ch) ? String.fromCharCode(ch.charCodeAt(0) - 0x61 + 0xff41) : ch)).join("");
    const res = await call("/api/auth/register", { json: { username: fullwidth, password: "password123" } });
    expect(res.status).toBe(409);
  });
});
