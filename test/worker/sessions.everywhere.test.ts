/**
 * "Sign out everywhere" (`DELETE /api/me/sessions`, issue #14): every session
 * of the user ends, the caller's included; the cookie is cleared; every room
 * and badge socket of those sessions closes (1008). Other users are untouched.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished } from "vitest";
import { CLOSE } from "#protocol";
import { SIGNED_OUT_EVERYWHERE } from "../../worker/lib/account";
import { BadgeTab } from "./badge-tab";
import { addMember, call, createRoom, errorOf, register, sendText, signInAgain, type TestUser } from "./helpers";
import { TestSocket, upgrade } from "./socket";

const everywhere = (u: TestUser, origin?: string) => call("/api/me/sessions", { method: "DELETE", cookie: u.cookie, origin });
const sessionsOf = async (userId: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(userId).first<{ n: number }>())?.n;

describe("DELETE /api/me/sessions: sign out everywhere", () => {
  it("ends every session (this one too), clears the cookie, and closes every room and badge socket of them", async () => {
    const alice = await register();
    const other = await signInAgain(alice);
    const bob = await register();
    const room = await createRoom(alice);
    const second = await createRoom(alice);
    await addMember(alice, room.id, bob);
    const sockets = [await TestSocket.open(room.id, alice), await TestSocket.open(second.id, alice), await TestSocket.open(room.id, other)];
    const tabs = [await BadgeTab.open(alice), await BadgeTab.open(other)];
    const bobs = await TestSocket.open(room.id, bob);
    const bobsTab = await BadgeTab.open(bob);
    onTestFinished(() => [...sockets, bobs].forEach((s) => s.close()));
    onTestFinished(() => [...tabs, bobsTab].forEach((t) => t.close()));
    expect(await sessionsOf(alice.id)).toBe(2);

    const res = await everywhere(alice);
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-parley_session=;"))).toBe(true);

    for (const s of sockets) expect(await s.waitClosed()).toEqual({ code: CLOSE.policy, reason: SIGNED_OUT_EVERYWHERE });
    for (const t of tabs) {
      await t.until(() => t.closed !== undefined, "the badge socket to close");
      expect(t.closed).toEqual({ code: CLOSE.policy, reason: SIGNED_OUT_EVERYWHERE });
    }
    expect(await sessionsOf(alice.id)).toBe(0);
    for (const u of [alice, other]) {
      expect(await errorOf(await call("/api/me", { cookie: u.cookie }))).toMatchObject({ status: 401, code: "unauthorized" });
      expect((await upgrade(`/api/rooms/${room.id}/ws`, { cookie: u.cookie })).status).toBe(401);
      expect((await upgrade("/api/me/ws", { cookie: u.cookie })).status).toBe(401);
    }

    // Someone else in the same room carries on: their socket, their tab, their session.
    await sendText(room.id, bob, "still here");
    await bobs.waitFor((f) => f.type === "message" && f.message.text === "still here");
    expect(bobs.isOpen).toBe(true);
    bobsTab.ws.send('{"type":"ping"}');
    await bobsTab.until(() => bobsTab.raw.some((f) => (f as { type?: string }).type === "pong"), "bob's pong");
    expect(bobsTab.closed).toBeUndefined();
    expect((await call("/api/me", { cookie: bob.cookie })).status).toBe(200);

    // The account itself is fine: the password signs in again, as a new session.
    const login = await call("/api/auth/login", { json: { username: alice.username, password: alice.password } });
    expect(login.status).toBe(200);
    expect(await sessionsOf(alice.id)).toBe(1);
  });

  it("refuses a cross-site request (403, nothing ends) and answers 401 without a session", async () => {
    const alice = await register();
    const other = await signInAgain(alice);
    const socket = await TestSocket.open((await createRoom(alice)).id, other);
    onTestFinished(() => socket.close());

    expect(await errorOf(await everywhere(alice, "https://evil.example"))).toMatchObject({ status: 403, code: "bad_origin" });
    expect(await errorOf(await call("/api/me/sessions", { method: "DELETE" }))).toMatchObject({ status: 401, code: "unauthorized" });
    expect(await errorOf(await call("/api/me/sessions", { method: "DELETE", cookie: "__Host-parley_session=not-a-session" }))).toMatchObject({
      status: 401,
      code: "unauthorized",
    });

    expect(await sessionsOf(alice.id)).toBe(2);
    for (const u of [alice, other]) expect((await call("/api/me", { cookie: u.cookie })).status).toBe(200);
    // The socket is still served: a send is acknowledged.
    socket.send({ type: "send", clientId: crypto.randomUUID(), text: "not signed out" });
    await socket.waitFor((f) => f.type === "ack");
    expect(socket.isOpen).toBe(true);
  });
});
