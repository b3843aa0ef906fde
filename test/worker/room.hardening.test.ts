import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIMITS, type ServerFrame } from "#protocol";
import { call, errorOf, range, register, roomHead, roomWithTwo, storedLogSeqs } from "./helpers";
import { TestSocket } from "./socket";
import { roomRates } from "../../worker/lib/limits";

/** The send limit this build runs with ([vars] RATE_SEND). */
const RATE = roomRates(env).send;


const errors = (s: TestSocket) => s.frames.filter((f): f is Extract<ServerFrame, { type: "error" }> => f.type === "error");
const messageCount = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) => Number(s.storage.sql.exec("SELECT COUNT(*) AS n FROM messages").one().n));

describe("S5 oversized frames and text", () => {
  it("a frame over 64 KiB gets frame_too_large; text over the limit invalid_frame; nothing stored", async () => {
    const { roomId, alice } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "x".repeat(LIMITS.frameMaxBytes + 10) });
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "é".repeat(4001) });
    await a.until(() => errors(a).length === 2, "two errors");
    expect(errors(a).map((e) => e.code)).toEqual(["frame_too_large", "invalid_frame"]);
    expect(await messageCount(roomId)).toBe(0);
    expect(a.closed).toBeUndefined();
    a.close();
  });

  it("HTTP: text over the limit is a 400 and a body over 64 KiB a 413", async () => {
    const { roomId, alice } = await roomWithTwo();
    const long = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "x".repeat(4001) } });
    expect(await errorOf(long)).toMatchObject({ status: 400, message: expect.stringMatching(/at most 4000/) });
    const huge = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "x".repeat(70_000) } });
    expect(await errorOf(huge)).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(await messageCount(roomId)).toBe(0);
  });
});

describe("S6 malformed frames", () => {
  const bad: [string, unknown][] = [
    ["not JSON", "{oops"],
    ["deeply nested JSON", "[".repeat(5000) + "]".repeat(5000)],
    ["a JSON string", '"send"'],
    ["null", "null"],
    ["unknown type", { type: "launch_missiles" }],
    ["no type", { text: "hi" }],
    ["wrong types", { type: "send", clientId: 42, text: ["a"] }],
    ["a clientId that is not a UUID", { type: "send", clientId: "abc", text: "hi" }],
    ["NUL in text", { type: "send", clientId: crypto.randomUUID(), text: "a\u0000b" }],
    ["a lone surrogate", { type: "send", clientId: crypto.randomUUID(), text: "a\uD800b" }],
    ["an RTL override", { type: "send", clientId: crypto.randomUUID(), text: "invoice\u202Egnp.exe" }],
  ];
  it("each gets a typed error; the object keeps running; nothing is stored", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    for (const [, frame] of bad) a.send(frame);
    await a.until(() => errors(a).length === bad.length, `${bad.length} errors`);
    expect(errors(a).every((e) => e.code === "invalid_frame" && e.message.length > 0)).toBe(true);
    expect(errors(a)[0]!.message).toBe("Frames must be JSON");
    // A binary frame too.
    a.ws.send(new Uint8Array([1, 2, 3]));
    await a.until(() => errors(a).length === bad.length + 1, "binary refused");
    expect(await messageCount(roomId)).toBe(0);
    expect(b.events()).toEqual([]);
    // Still running: a good frame works.
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "still here" });
    await b.until(() => b.messageTexts().includes("still here"), "a valid message");
    a.close();
    b.close();
  });

  it("plain right-to-left text (no override characters) is fine", async () => {
    const { roomId, alice } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "שלום עולם — مرحبا" });
    await a.until(() => a.messageTexts().length === 1, "stored");
    a.close();
  });
});

describe("S7 one socket floods", () => {
  it("is throttled with a clear error, and rejected messages are not broadcast", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    const N = 300;
    const started = Date.now();
    for (let i = 0; i < N; i++) a.send({ type: "send", clientId: crypto.randomUUID(), text: `flood ${i}` });
    await a.until(() => a.frames.filter((f) => f.type === "ack" || f.type === "error").length === N, "an answer to every frame", 30_000);
    const elapsedS = (Date.now() - started) / 1000;
    const acks = a.frames.filter((f) => f.type === "ack").length;
    const limited = errors(a).filter((e) => e.code === "rate_limited");
    expect(acks + limited.length).toBe(N);
    expect(acks).toBeGreaterThanOrEqual(RATE.count);
    // No more than the burst plus what the bucket refilled while the flood lasted.
    expect(acks).toBeLessThanOrEqual(RATE.count + Math.ceil(elapsedS * (RATE.count / RATE.seconds)) + 1);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.retryAfter).toBeGreaterThanOrEqual(1);
    expect(limited[0]!.message).toMatch(/Slow down/);
    expect(limited[0]!.clientId).toBeTypeOf("string");
    // A marker from Bob (his own bucket) proves Bob's socket has everything Alice's did.
    b.send({ type: "send", clientId: crypto.randomUUID(), text: "marker" });
    await b.until(() => b.messageTexts().includes("marker"), "marker");
    expect(b.messageTexts().length).toBe(acks + 1);
    expect(await messageCount(roomId)).toBe(acks + 1);
    a.close();
    b.close();
  });

  it("HTTP and socket share the limit: over it, HTTP answers 429 with Retry-After", async () => {
    const { roomId, alice } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const started = Date.now();
    for (let i = 0; i < RATE.count + 5; i++) a.send({ type: "send", clientId: crypto.randomUUID(), text: `s${i}` });
    await a.until(() => a.frames.filter((f) => f.type === "ack" || f.type === "error").length === RATE.count + 5, "an answer to every frame");
    expect(errors(a).some((e) => e.code === "rate_limited")).toBe(true);
    const socketAcks = a.frames.filter((f) => f.type === "ack").length;
    // The bucket is in memory and refills while we look, so over HTTP send until refused. Were the
    // limit not shared, HTTP would have a full burst of its own; shared, only what refilled since
    // the socket emptied it gets through before the 429.
    let httpOk = 0;
    let res: Response | undefined;
    for (let i = 0; i < RATE.count; i++) {
      res = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: `http ${i}` } });
      if (res.status !== 201) break;
      httpOk++;
    }
    const elapsedS = (Date.now() - started) / 1000;
    expect(await errorOf(res!)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(res!.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(httpOk).toBeLessThan(RATE.count);
    // One bucket for both: socket and HTTP together got no more than the burst plus the refill.
    expect(socketAcks + httpOk).toBeLessThanOrEqual(RATE.count + Math.ceil(elapsedS * (RATE.count / RATE.seconds)) + 1);
    // Nothing stored for the refusals.
    expect(await messageCount(roomId)).toBe(socketAcks + httpOk);
    a.close();
  });
});

describe("S8 a frame that supplies its own identity", () => {
  it("has user id, timestamp and seq ignored; server values are used", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const hello = a.frames[0]!;
    const head = hello.type === "hello" ? hello.seq : NaN;
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "who am i", userId: bob.id, username: "admin", ts: 1, seq: 999, createdAt: 5 });
    await a.until(() => a.messageTexts().length === 1, "stored");
    const e = a.events()[0]!;
    expect(e.seq).toBe(head + 1);
    expect(e.ts).toBeGreaterThan(1_700_000_000_000);
    expect(e.type === "message" && e.message).toMatchObject({ userId: alice.id, username: alice.username, seq: head + 1 });
    expect(e.type === "message" && e.message.createdAt).toBeGreaterThan(1_700_000_000_000);
    a.close();
  });

  it("HTTP sends ignore them too", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const head = await roomHead(roomId);
    const res = await call(`/api/rooms/${roomId}/messages`, {
      cookie: alice.cookie,
      json: { clientId: crypto.randomUUID(), text: "hi", userId: bob.id, seq: 77 },
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ seq: head + 1, message: { userId: alice.id, seq: head + 1 } });
  });
});

describe("messages over HTTP", () => {
  it("send, edit, delete; non-members get 403", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const mallory = await register();
    const head = await roomHead(roomId);
    const sent = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "v1" } });
    expect(sent.status).toBe(201);
    const { message } = await sent.json<{ message: { id: string } }>();
    const edit = await call(`/api/rooms/${roomId}/messages/${message.id}`, { cookie: alice.cookie, method: "PATCH", json: { text: "v2" } });
    expect(await edit.json()).toMatchObject({ message: { text: "v2" } });
    const notYours = await call(`/api/rooms/${roomId}/messages/${message.id}`, { cookie: bob.cookie, method: "PATCH", json: { text: "x" } });
    expect(await errorOf(notYours)).toMatchObject({ status: 403, code: "forbidden" });
    const stranger = await call(`/api/rooms/${roomId}/messages`, { cookie: mallory.cookie, json: { clientId: crypto.randomUUID(), text: "hi" } });
    expect(stranger.status).toBe(403);
    expect((await call(`/api/rooms/${roomId}/events?after=0`, { cookie: mallory.cookie })).status).toBe(403);
    expect((await call(`/api/rooms/${roomId}/messages`, { cookie: mallory.cookie })).status).toBe(403);
    const del = await call(`/api/rooms/${roomId}/messages/${message.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(del.status).toBe(204);
    const gone = await call(`/api/rooms/${roomId}/messages/${message.id}`, { cookie: alice.cookie, method: "PATCH", json: { text: "v3" } });
    expect(gone.status).toBe(404);
    const page = await (await call(`/api/rooms/${roomId}/events?after=0`, { cookie: bob.cookie })).json<{ events: { type: string; seq: number }[] }>();
    // Setup stored one member_joined per member; then the message, its edit and its deletion, contiguous.
    expect(page.events.map((e) => [e.seq, e.type])).toEqual([
      ...range(1, head).map((seq) => [seq, "member_joined"]),
      [head + 1, "message"],
      [head + 2, "message_edited"],
      [head + 3, "message_deleted"],
    ]);
    expect(page.events.map((e) => e.seq)).toEqual(await storedLogSeqs(roomId));
  });

  it("a client id that is not a UUID is a 400", async () => {
    const { roomId, alice } = await roomWithTwo();
    const res = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: "1", text: "hi" } });
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringMatching(/UUID/) });
  });
});
