/**
 * Reactions (issue #15): toggled per user, emoji and message, idempotently;
 * live for every member (`reaction_added` / `reaction_removed`, stored events
 * a reconnect replays); carried by messages in history, snapshots and
 * replays; rate-limited; refused for non-members, deleted messages and
 * anything that is not one emoji. No unread count moves.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished } from "vitest";
import { type HistoryPage, LIMITS, type Reaction, type RoomEvent } from "#protocol";
import { hubs, readMeters } from "./meters";
import { call, createRoom, errorOf, eventually, register, roomWithTwo, sendText, type TestUser } from "./helpers";
import { TestSocket } from "./socket";

const path = (roomId: string, messageId: string) => `/api/rooms/${roomId}/messages/${messageId}/reactions`;
const react = (u: TestUser, roomId: string, messageId: string, emoji: string) =>
  call(path(roomId, messageId), { method: "POST", cookie: u.cookie, json: { emoji } });
const unreact = (u: TestUser, roomId: string, messageId: string, emoji: string) =>
  call(`${path(roomId, messageId)}/${encodeURIComponent(emoji)}`, { method: "DELETE", cookie: u.cookie });
const reactionsIn = async (res: Response) => (await res.json<{ reactions: Reaction[] }>()).reactions;
const history = async (u: TestUser, roomId: string) => (await (await call(`/api/rooms/${roomId}/messages`, { cookie: u.cookie })).json<HistoryPage>()).messages;

describe("reactions over HTTP", () => {
  it("add, add again (no change), another user, remove; the message carries them in history", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message } = await sendText(roomId, alice, "react to me");
    expect((await history(bob, roomId))[0]!.reactions).toEqual([]);

    const first = await react(bob, roomId, message.id, "👍");
    expect(first.status).toBe(201);
    expect(await reactionsIn(first)).toEqual([{ emoji: "👍", count: 1, userIds: [bob.id] }]);
    const again = await react(bob, roomId, message.id, "👍");
    expect(again.status).toBe(200);
    expect(await reactionsIn(again)).toEqual([{ emoji: "👍", count: 1, userIds: [bob.id] }]);

    await react(alice, roomId, message.id, "👍");
    await react(alice, roomId, message.id, "🎉");
    expect((await history(bob, roomId))[0]!.reactions).toEqual([
      { emoji: "👍", count: 2, userIds: [bob.id, alice.id] },
      { emoji: "🎉", count: 1, userIds: [alice.id] },
    ]);

    const gone = await unreact(bob, roomId, message.id, "👍");
    expect(gone.status).toBe(200);
    expect(await reactionsIn(gone)).toEqual([
      { emoji: "👍", count: 1, userIds: [alice.id] },
      { emoji: "🎉", count: 1, userIds: [alice.id] },
    ]);
    // Removing what is not there is a no-op, not an error.
    expect((await unreact(bob, roomId, message.id, "👍")).status).toBe(200);
  });

  it("one emoji only: skin tones, ZWJ sequences and flags pass; text, two emoji, markup and NUL are a 400", async () => {
    const { roomId, alice } = await roomWithTwo();
    const { message } = await sendText(roomId, alice, "emoji check");
    for (const ok of ["👍🏽", "👩‍💻", "🇫🇷", "❤️"]) expect((await react(alice, roomId, message.id, ok)).status, ok).toBe(201);
    for (const bad of ["", "a", "👍👍", "<img src=x onerror=alert(1)>", "👍\u0000", ":+1:", "👍 ", "x".repeat(100)]) {
      const res = await react(alice, roomId, message.id, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await unreact(alice, roomId, message.id, "nope")).status).toBe(400);
  });

  it("refused for non-members (403), unknown and deleted messages (404); nothing stored", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const eve = await register();
    const { message } = await sendText(roomId, alice, "members only");
    expect((await react(eve, roomId, message.id, "👍")).status).toBe(403);
    expect((await react(bob, roomId, "no-such-message", "👍")).status).toBe(404);
    await react(bob, roomId, message.id, "👀");
    await call(`/api/rooms/${roomId}/messages/${message.id}`, { method: "DELETE", cookie: alice.cookie });
    expect((await react(bob, roomId, message.id, "👍")).status).toBe(404);
    // A deleted message keeps no reactions.
    expect((await history(alice, roomId))[0]).toMatchObject({ deletedAt: expect.any(Number), reactions: [] });
  });

  it(`at most ${LIMITS.reactionsPerMessage} different emoji per message; more of one already there is fine`, async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message } = await sendText(roomId, alice, "lots");
    const emoji = [..."😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩"];
    for (const e of emoji.slice(0, LIMITS.reactionsPerMessage)) expect((await react(alice, roomId, message.id, e)).status).toBe(201);
    const over = await react(alice, roomId, message.id, emoji[LIMITS.reactionsPerMessage]!);
    expect(await errorOf(over)).toMatchObject({ status: 400, code: "bad_request" });
    expect((await react(bob, roomId, message.id, emoji[0]!)).status).toBe(201);
  });

  it("rate-limited per user (RATE_REACT): a clear 429 with Retry-After, and nothing stored", async () => {
    const { roomId, alice } = await roomWithTwo();
    const { message } = await sendText(roomId, alice, "spam target");
    // Toggle one emoji on and off until the bucket is empty (the test config: burst 30, one token per 2 min).
    let refused: Response | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = i % 2 ? await unreact(alice, roomId, message.id, "👍") : await react(alice, roomId, message.id, "👍");
      if (res.status === 429) refused = res;
    }
    expect(refused, "a 429 came").toBeDefined();
    expect(Number(refused!.headers.get("Retry-After"))).toBeGreaterThan(0);
    const before = (await history(alice, roomId))[0]!.reactions;
    expect((await react(alice, roomId, message.id, "🎉")).status).toBe(429);
    expect((await history(alice, roomId))[0]!.reactions).toEqual(before);
  });
});

describe("reactions live and in replays", () => {
  it("every member's socket hears reaction_added / reaction_removed with the room's next seq; a repeat sends nothing", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message, seq } = await sendText(roomId, alice, "live");
    const aliceWs = await TestSocket.open(roomId, alice);
    onTestFinished(() => aliceWs.close());
    await react(bob, roomId, message.id, "🔥");
    await react(bob, roomId, message.id, "🔥"); // no-op
    await unreact(bob, roomId, message.id, "🔥");
    await aliceWs.until(() => aliceWs.events().some((e) => e.type === "reaction_removed"), "reaction_removed");
    const events = aliceWs.events().filter((e) => e.type.startsWith("reaction_"));
    expect(events).toEqual([
      { type: "reaction_added", seq: seq + 1, ts: expect.any(Number), messageId: message.id, emoji: "🔥", userId: bob.id },
      { type: "reaction_removed", seq: seq + 2, ts: expect.any(Number), messageId: message.id, emoji: "🔥", userId: bob.id },
    ]);
  });

  it("a reconnect after the message replays it with its reactions now, then the reaction events (applied as set operations)", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { seq } = await sendText(roomId, alice, "before");
    const { message } = await sendText(roomId, alice, "replayed");
    await react(bob, roomId, message.id, "✅");
    const ws = await TestSocket.open(roomId, alice, seq);
    onTestFinished(() => ws.close());
    const replay = ws.events();
    const m = replay.find((e): e is Extract<RoomEvent, { type: "message" }> => e.type === "message" && e.message.id === message.id);
    expect(m?.message.reactions).toEqual([{ emoji: "✅", count: 1, userIds: [bob.id] }]);
    expect(replay.some((e) => e.type === "reaction_added" && e.messageId === message.id)).toBe(true);
  });

  it("survive a restart of the room, and count as no unread item", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const { message } = await sendText(roomId, alice, "durable");
    const unread = async (u: TestUser) => (await (await call("/api/me/unread", { cookie: u.cookie })).json<{ rooms: Record<string, number> }>()).rooms[roomId];
    const aliceBefore = await unread(alice);
    await react(bob, roomId, message.id, "💯");
    expect(await unread(alice)).toBe(aliceBefore);
    await evictDurableObject(env.ROOM.getByName(roomId));
    expect((await history(alice, roomId))[0]!.reactions).toEqual([{ emoji: "💯", count: 1, userIds: [bob.id] }]);
  });
});

describe("cost of a reaction", () => {
  it("writes its row and its event row in the room, and no hub row, whatever the room's size", async () => {
    const owner = await register();
    const room = await createRoom(owner);
    const { message } = await sendText(room.id, owner, "cheap?");
    await eventually(async () => !(await readMeters(room.id)).busy, "pushes to settle");
    await Promise.all([env.ROOM.getByName(room.id).meterReset(), ...hubs().map((h) => h.meterReset())]);
    await react(owner, room.id, message.id, "👍");
    const m = await readMeters(room.id);
    expect(m.room.rowsWritten).toBe(2);
    expect(m.hubs.rowsWritten).toBe(0);
  });
});
