import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished } from "vitest";
import { CLOSE, MAX_SOCKETS_PER_USER } from "#protocol";
import { sha256Hex, toBase64Url, randomBytes } from "../../worker/lib/encoding";
import { hubFor } from "../../worker/lib/hub";
import { SESSION_EXPIRED } from "../../worker/lib/socket-object";
import { BadgeTab } from "./badge-tab";
import { call, createRoom, eventually, register, type TestUser } from "./helpers";
import { TestSocket } from "./socket";

/** A second session for `user` that expires `ms` from now (as if signed in long ago). */
async function shortSession(user: TestUser, ms: number): Promise<TestUser> {
  const token = toBase64Url(randomBytes(32));
  const now = Date.now();
  await env.DB.prepare("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
    .bind(await sha256Hex(token), user.id, now, now + ms)
    .run();
  return { ...user, cookie: `__Host-parley_session=${token}` };
}

describe("A9 a session that expires closes its sockets", () => {
  it("A9 its room and badge sockets close at expiry (1008, signed out); other sessions stay; nothing answers it after", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const brief = await shortSession(alice, 3000);
    const roomSocket = await TestSocket.open(room.id, brief);
    onTestFinished(() => roomSocket.close());
    const tab = await BadgeTab.open(brief);
    onTestFinished(() => tab.close());
    const lasting = await TestSocket.open(room.id, alice);
    onTestFinished(() => lasting.close());

    // Nobody sends anything: the objects' alarms close them at expiry.
    const closed = await roomSocket.waitClosed(20_000);
    expect(closed).toEqual({ code: CLOSE.policy, reason: SESSION_EXPIRED });
    await tab.until(() => tab.closed !== undefined, "the badge socket to close", 20_000);
    expect(tab.closed).toEqual({ code: CLOSE.policy, reason: SESSION_EXPIRED });
    expect(lasting.isOpen).toBe(true);

    expect((await call("/api/me", { cookie: brief.cookie })).status).toBe(401);
    const again = await call(`/api/rooms/${room.id}/ws`, { cookie: brief.cookie, headers: { Upgrade: "websocket" } });
    expect(again.status).toBe(401);
  });

  it("A9 an expired session's socket cannot write: it is closed and nothing it sends is stored", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const brief = await shortSession(alice, 1500);
    const s = await TestSocket.open(room.id, brief);
    onTestFinished(() => s.close());
    // Wait past the expiry (a condition on the clock, not a fixed sleep), then speak.
    const expiry = Date.now() + 1600;
    await eventually(() => Date.now() > expiry, "the session to expire", 10_000);
    s.trySend({ type: "send", clientId: crypto.randomUUID(), text: "too late" });
    const closed = await s.waitClosed(20_000);
    expect(closed.code).toBe(CLOSE.policy);
    const head = await call(`/api/rooms/${room.id}/events?after=0`, { cookie: alice.cookie });
    const body = await head.json<{ events: { type: string }[] }>();
    expect(body.events.filter((e) => e.type === "message")).toEqual([]);
  });
});

describe("half-open badge sockets", () => {
  it("dead tabs are closed when a new one connects, so the user is not refused with 4029", async () => {
    const alice = await register();
    const tabs: BadgeTab[] = [];
    onTestFinished(() => tabs.forEach((t) => t.close()));
    for (let i = 0; i < MAX_SOCKETS_PER_USER; i++) tabs.push(await BadgeTab.open(alice));
    // One tab is alive: it pings (the runtime answers and stamps it). The others went silent 40 s ago.
    tabs[0]!.ws.send('{"type":"ping"}');
    await tabs[0]!.until(() => tabs[0]!.raw.some((f) => (f as { type?: string }).type === "pong"), "the pong");
    await runInDurableObject(hubFor(env, alice.id), (_hub, state) => {
      for (const ws of state.getWebSockets()) {
        const att = ws.deserializeAttachment() as { connectedAt: number };
        ws.serializeAttachment({ ...att, connectedAt: att.connectedAt - 40_000 });
      }
    });
    const fresh = await BadgeTab.open(alice);
    tabs.push(fresh);
    expect(fresh.closed).toBeUndefined();
    await eventually(() => tabs.slice(1, MAX_SOCKETS_PER_USER).every((t) => t.closed !== undefined), "the silent tabs to close");
    for (const t of tabs.slice(1, MAX_SOCKETS_PER_USER)) expect(t.closed?.code).toBe(CLOSE.idle);
    expect(tabs[0]!.closed).toBeUndefined();
  });
});
