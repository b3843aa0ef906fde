import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { db } from "../../worker/db";
import { loginLimits } from "../../worker/lib/limits";
import { accountKey, addressBlock, claimLoginAttempt, delayAfter, LOGIN_WINDOW_MS, pairKey } from "../../worker/lib/login-throttle";
import { pruneExpired } from "../../worker/lib/prune";
import { call, errorOf, register } from "./helpers";

const limits = loginLimits(env);
const login = (username: string, password: string, ip: string) =>
  call("/api/auth/login", { json: { username, password }, headers: { "CF-Connecting-IP": ip } });

/** How many more attempts an account admits within `ms` once its free ones are spent (its delays double from the base). */
function slotsWithin(ms: number): number {
  let slots = 0;
  for (let t = 0, n = limits.freePerAccount; ; n++) {
    t += delayAfter(n, limits.freePerAccount, limits.delayBaseSeconds * 1000, limits.accountMaxDelaySeconds * 1000);
    if (t > ms) return slots;
    slots++;
  }
}

describe("A7 sign-in throttling is one atomic step", () => {
  it("A7 300 wrong passwords in parallel from one address: at most the limit are evaluated", async () => {
    const u = await register();
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => login(u.username, `wrong-${i}-password`, "192.0.2.10")));
    const evaluated = results.filter((r) => r.status === 401).length;
    const refused = results.filter((r) => r.status === 429);
    expect(evaluated + refused.length).toBe(300);
    // Every attempt from that address counts, refused ones too: its wait only grows, no slot reopens mid-burst.
    expect(evaluated).toBeLessThanOrEqual(limits.freePerAccount);
    expect(evaluated).toBeGreaterThan(0);
    for (const r of refused.slice(0, 5)) expect(Number(r.headers.get("Retry-After"))).toBeGreaterThan(0);
  });

  it("A7 300 wrong passwords in parallel from 300 addresses: the account's limit holds", async () => {
    const u = await register();
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => login(u.username, `wrong-${i}-password`, `10.7.${i >> 8}.${i & 255}`)));
    const elapsed = Date.now() - started;
    const evaluated = results.filter((r) => r.status === 401).length;
    expect(results.filter((r) => r.status === 429).length).toBe(300 - evaluated);
    // The free attempts, plus a slot for each delay that could have run out while the burst lasted.
    expect(evaluated).toBeLessThanOrEqual(limits.freePerAccount + slotsWithin(elapsed));
    const row = await env.DB.prepare("SELECT failures FROM login_failures WHERE key = ?").bind(accountKey(u.username.toLowerCase())).first<{ failures: number }>();
    expect(row?.failures).toBe(evaluated);
  });
});

describe("A8 no hard lockout", () => {
  it("A8 someone else's failures delay my sign-in by at most the account bound, then I get in", async () => {
    const u = await register();
    const attacker = "192.0.2.66";
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => login(u.username, `guess-${round}-${i}`, attacker)));
    }
    const first = await login(u.username, u.password, "198.51.100.200");
    if (first.status === 429) {
      expect(await errorOf(first)).toMatchObject({ code: "rate_limited" });
      expect(Number(first.headers.get("Retry-After"))).toBeLessThanOrEqual(limits.accountMaxDelaySeconds);
    } else expect(first.status).toBe(200);
    // Let the account's bound pass (move its clock back), not the attacker's own, longer wait.
    const key = accountKey(u.username.toLowerCase());
    await env.DB.prepare("UPDATE login_failures SET next_at = next_at - ? WHERE key = ?").bind(limits.accountMaxDelaySeconds * 1000 + 1000, key).run();
    const again = await login(u.username, "yet another guess", attacker);
    expect(again.status).toBe(429);
    expect(Number(again.headers.get("Retry-After"))).toBeGreaterThan(limits.accountMaxDelaySeconds);
    const mine = await login(u.username, u.password, "198.51.100.200");
    expect(mine.status).toBe(200);
  });

  it("A8 the wait grows progressively: a few failures cost nothing, then delays double", () => {
    const base = limits.delayBaseSeconds * 1000;
    const cap = limits.accountMaxDelaySeconds * 1000;
    expect(delayAfter(limits.freePerAccount - 1, limits.freePerAccount, base, cap)).toBe(0);
    expect(delayAfter(limits.freePerAccount, limits.freePerAccount, base, cap)).toBe(base);
    expect(delayAfter(limits.freePerAccount + 1, limits.freePerAccount, base, cap)).toBe(Math.min(cap, 2 * base));
    expect(delayAfter(limits.freePerAccount + 50, limits.freePerAccount, base, cap)).toBe(cap);
  });

  it("A8 IPv6 addresses are throttled by their /64", async () => {
    expect(addressBlock("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressBlock("2001:DB8:0001:0002::9")).toBe("2001:db8:1:2::/64");
    expect(addressBlock("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressBlock("::1")).toBe("0:0:0:0::/64");
    expect(addressBlock("203.0.113.9")).toBe("203.0.113.9");
    const u = await register();
    // Failures spread over one /64 count as one address against the account.
    for (let i = 0; i < limits.freePerAccount; i++) expect((await login(u.username, `wrong-${i}-pw`, `2001:db8:aa:bb::${i + 1}`)).status).toBe(401);
    const next = await login(u.username, "wrong again", "2001:db8:aa:bb:ffff::1");
    expect(next.status).toBe(429);
    const rows = await env.DB.prepare("SELECT failures FROM login_failures WHERE key = ?").bind(pairKey(u.username.toLowerCase(), "2001:db8:aa:bb::/64")).first<{ failures: number }>();
    expect(rows?.failures).toBe(limits.freePerAccount + 1);
  });
});

describe("pruning", () => {
  it("the cron forgets expired sessions and finished throttle windows, and nothing live", async () => {
    const d = db(env.DB);
    const u = await register();
    const now = Date.now();
    await claimLoginAttempt(d, limits, "prune-me", "192.0.2.99", now - LOGIN_WINDOW_MS - 1000);
    await claimLoginAttempt(d, limits, "keep-me", "192.0.2.99", now);
    await env.DB.prepare("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)").bind("f".repeat(64), u.id, now - 10_000, now - 1).run();
    await env.DB.prepare("INSERT INTO rate_windows (key, window_end, used) VALUES ('test:old', ?, 1), ('test:live', ?, 1)").bind(now - 1, now + 60_000).run();
    await pruneExpired(d, now);
    const keys = (await env.DB.prepare("SELECT key FROM login_failures WHERE key LIKE '%-me%'").all<{ key: string }>()).results.map((r) => r.key);
    expect(keys.some((k) => k.includes("prune-me"))).toBe(false);
    expect(keys.some((k) => k.includes("keep-me"))).toBe(true);
    expect(await env.DB.prepare("SELECT 1 FROM sessions WHERE id_hash = ?").bind("f".repeat(64)).first()).toBeNull();
    expect((await call("/api/me", { cookie: u.cookie })).status).toBe(200);
    const windows = (await env.DB.prepare("SELECT key FROM rate_windows WHERE key LIKE 'test:%'").all<{ key: string }>()).results.map((r) => r.key);
    expect(windows).toEqual(["test:live"]);
  });
});
