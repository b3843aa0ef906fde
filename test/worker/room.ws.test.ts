import { env } from "cloudflare:workers";
import { evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLOSE, MAX_SOCKETS_PER_USER, type RoomEvent, type ServerFrame } from "#protocol";
import { call, errorOf, ORIGIN, range, register, roomHead, roomWithTwo, storedLogSeqs } from "./helpers";
import { TestSocket, upgrade } from "./socket";


const isAck = (clientId: string) => (f: ServerFrame): f is Extract<ServerFrame, { type: "ack" }> => f.type === "ack" && f.clientId === clientId;
const isError = (f: ServerFrame): f is Extract<ServerFrame, { type: "error" }> => f.type === "error";

async function storedMessages(roomId: string) {
  return runInDurableObject(env.ROOM.getByName(roomId), (_room, state) =>
    state.storage.sql.exec<{ seq: number; text: string | null; user_id: string; client_id: string }>("SELECT seq, text, user_id, client_id FROM messages ORDER BY seq").toArray(),
  );
}


describe("the room socket", () => {
  it("says hello with the head, then live; messages reach every member in order", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    // Setup stored its membership events (the owner's and Bob's member_joined): the head is past them.
    const head = await roomHead(roomId);
    expect(head).toBeGreaterThan(0);
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    expect(a.frames[0]).toMatchObject({ type: "hello", seq: head, userId: alice.id });
    expect(b.frames[0]).toMatchObject({ type: "hello", seq: head, userId: bob.id });
    expect(a.frames.findIndex((f) => f.type === "live")).toBeGreaterThan(0);
    for (let i = 1; i <= 5; i++) a.send({ type: "send", clientId: crypto.randomUUID(), text: `hello ${i}` });
    await b.until(() => b.messageTexts().length === 5, "5 messages");
    expect(b.messageTexts()).toEqual(["hello 1", "hello 2", "hello 3", "hello 4", "hello 5"]);
    // Invariant 1: contiguous seq after the head, stored in the same order (every stored entry, all types).
    expect(b.events().map((e) => e.seq)).toEqual(range(head + 1, 5));
    expect(b.events().every((e) => e.type === "message")).toBe(true);
    expect(await storedLogSeqs(roomId)).toEqual(range(1, head + 5));
    expect((await storedMessages(roomId)).map((m) => m.seq)).toEqual(range(head + 1, 5));
    expect(await roomHead(roomId)).toBe(head + 5);
    const msg = b.events()[0] as Extract<RoomEvent, { type: "message" }>;
    expect(msg.message).toMatchObject({ userId: alice.id, username: alice.username, seq: head + 1, editedAt: null, deletedAt: null });
    a.close();
    b.close();
  });

  it("the sender's echo carries its clientId, and an ack follows", async () => {
    const { roomId, alice } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const hello = a.frames[0]!;
    expect(hello.type).toBe("hello");
    const head = hello.type === "hello" ? hello.seq : NaN;
    const clientId = crypto.randomUUID();
    a.send({ type: "send", clientId, text: "mine" });
    const ack = await a.waitFor(isAck(clientId));
    expect(ack).toMatchObject({ seq: head + 1, duplicate: false });
    const echo = a.events().find((e) => e.type === "message");
    expect(echo?.type === "message" && echo.message.clientId).toBe(clientId);
    a.close();
  });

  it("trims text and refuses empty or over-long text with a typed error, storing nothing", async () => {
    const { roomId, alice } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "   " });
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "x".repeat(4001) });
    await a.until(() => a.frames.filter(isError).length === 2, "2 errors");
    const errors = a.frames.filter(isError);
    expect(errors.map((e) => e.code)).toEqual(["invalid_frame", "invalid_frame"]);
    expect(errors[0]!.message).toMatch(/empty/);
    expect(errors[1]!.message).toMatch(/at most 4000/);
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "  ok  " });
    await a.until(() => a.messageTexts().length === 1, "the valid one");
    expect(a.messageTexts()).toEqual(["ok"]);
    expect((await storedMessages(roomId)).map((m) => m.text)).toEqual(["ok"]);
    a.close();
  });

  it("presence lists who has the room open, and typing reaches the others", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    // Bob got the full list on connecting; Alice hears that Bob came online.
    expect(await b.waitFor((f) => f.type === "presence")).toMatchObject({ users: expect.arrayContaining([{ userId: alice.id, username: alice.username }]) });
    await a.until(
      () => a.frames.some((f) => f.type === "presence_changed" && f.online.some((u) => u.userId === bob.id)),
      "bob online",
    );
    b.send({ type: "typing", typing: true });
    const typing = await a.waitFor((f) => f.type === "typing" && f.typing);
    expect(typing).toMatchObject({ userId: bob.id, username: bob.username });
    // Sending a message clears typing for everyone.
    b.send({ type: "send", clientId: crypto.randomUUID(), text: "done typing" });
    await a.waitFor((f) => f.type === "typing" && !f.typing && f.userId === bob.id);
    b.close();
    await a.until(
      () => {
        return a.frames.some((f) => f.type === "presence_changed" && f.offline.includes(bob.id));
      },
      "presence without bob",
    );
    a.close();
  });

  it("typing expires on the server (alarm) and clears when the socket closes", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    b.send({ type: "typing", typing: true });
    await a.waitFor((f) => f.type === "typing" && f.typing);
    // Pretend the 6 s passed, then let the alarm run.
    await runInDurableObject(env.ROOM.getByName(roomId), (_r, state) => {
      state.storage.sql.exec("UPDATE activity SET until = 0");
    });
    expect(await runDurableObjectAlarm(env.ROOM.getByName(roomId))).toBe(true);
    await a.waitFor((f) => f.type === "typing" && !f.typing && f.userId === bob.id);

    const before = a.frames.length;
    b.send({ type: "typing", typing: true });
    await a.until(() => a.frames.slice(before).some((f) => f.type === "typing" && f.typing), "typing again");
    b.close();
    await a.until(() => a.frames.slice(before).some((f) => f.type === "typing" && !f.typing), "typing cleared on close");
    a.close();
  });

  it("edit and delete your own messages; deleted text is gone from storage", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    const clientId = crypto.randomUUID();
    a.send({ type: "send", clientId, text: "secret plan" });
    const ack = await a.waitFor(isAck(clientId));
    a.send({ type: "edit", ref: "e1", messageId: ack.messageId, text: "secret plan v2" });
    await a.waitFor((f) => f.type === "done" && f.ref === "e1");
    const edited = await b.waitFor((f) => f.type === "message_edited");
    expect(edited.type === "message_edited" && edited.message).toMatchObject({ text: "secret plan v2", id: ack.messageId });
    expect(edited.type === "message_edited" && edited.message.editedAt).toBeTypeOf("number");

    // Bob may neither edit nor delete Alice's message.
    b.send({ type: "edit", ref: "x", messageId: ack.messageId, text: "hijack" });
    b.send({ type: "delete", ref: "y", messageId: ack.messageId });
    await b.until(() => b.frames.filter(isError).length === 2, "two refusals");
    expect(b.frames.filter(isError).map((e) => [e.code, e.ref])).toEqual([
      ["forbidden", "x"],
      ["forbidden", "y"],
    ]);

    a.send({ type: "delete", ref: "d1", messageId: ack.messageId });
    const del = await b.waitFor((f) => f.type === "message_deleted");
    // The message, its edit, then its deletion: three contiguous seqs.
    expect(edited.seq).toBe(ack.seq + 1);
    expect(del).toMatchObject({ messageId: ack.messageId, seq: ack.seq + 2 });
    const stored = await runInDurableObject(env.ROOM.getByName(roomId), (_r, state) => ({
      messages: state.storage.sql.exec("SELECT text, deleted_at FROM messages").toArray(),
      events: state.storage.sql.exec<{ data: string }>("SELECT data FROM events").toArray().map((r) => r.data).join("\n"),
    }));
    expect(stored.messages).toEqual([{ text: null, deleted_at: expect.any(Number) }]);
    expect(stored.events).not.toContain("secret plan");
    a.close();
    b.close();
  });

  it("the owner may delete anyone's message", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const b = await TestSocket.open(roomId, bob);
    const clientId = crypto.randomUUID();
    b.send({ type: "send", clientId, text: "spam" });
    const ack = await b.waitFor(isAck(clientId));
    const a = await TestSocket.open(roomId, alice);
    a.send({ type: "delete", ref: "mod", messageId: ack.messageId });
    await a.waitFor((f) => f.type === "done" && f.ref === "mod");
    await b.waitFor((f) => f.type === "message_deleted");
    a.close();
    b.close();
  });
});

describe("S1 (socket) Origin on upgrade", () => {
  for (const origin of ["https://evil.example", `${ORIGIN}.evil.com`, "null", null]) {
    it(`refuses Origin ${origin ?? "(missing)"} with 403 before the upgrade`, async () => {
      const { roomId, alice } = await roomWithTwo();
      const res = await upgrade(`/api/rooms/${roomId}/ws`, { cookie: alice.cookie, origin });
      expect(res.webSocket).toBeNull();
      expect(await errorOf(res)).toMatchObject({ status: 403, code: "bad_origin" });
    });
  }
});

describe("S2 upgrade without a valid session", () => {
  it("is 401 in the Worker and never reaches the object", async () => {
    const alice = await register();
    const before = (await listDurableObjectIds(env.ROOM)).length;
    const fakeRoom = "Z".repeat(22);
    for (const cookie of [undefined, "__Host-parley_session=" + "A".repeat(43)]) {
      const res = await upgrade(`/api/rooms/${fakeRoom}/ws`, { cookie });
      expect(res.webSocket).toBeNull();
      expect(res.status).toBe(401);
    }
    // An expired session too.
    await env.DB.prepare("UPDATE sessions SET expires_at = 1 WHERE user_id = ?").bind(alice.id).run();
    const res = await upgrade(`/api/rooms/${fakeRoom}/ws`, { cookie: alice.cookie });
    expect(res.status).toBe(401);
    expect((await listDurableObjectIds(env.ROOM)).length).toBe(before);
  });
});

describe("S3 a non-member opening a room socket", () => {
  it("of a room that does not exist gets 404, and leaves no room behind", async () => {
    const mallory = await register();
    const res = await upgrade(`/api/rooms/no-such-room/ws`, { cookie: mallory.cookie });
    expect(res.webSocket).toBeNull();
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
    const stored = await runInDurableObject(env.ROOM.getByName("no-such-room"), (_r, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM meta").one().n);
    expect(stored).toBe(0);
  });

  it("gets 403", async () => {
    const { roomId } = await roomWithTwo();
    const mallory = await register();
    const res = await upgrade(`/api/rooms/${roomId}/ws`, { cookie: mallory.cookie });
    expect(res.webSocket).toBeNull();
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "forbidden" });
  });
});

describe("S4 logout while sockets are open", () => {
  it("closes all of that session's sockets (1008) and only that session's", async () => {
    const { roomId, alice } = await roomWithTwo();
    const login = await call("/api/auth/login", { json: { username: alice.username, password: alice.password } });
    const otherSession = { ...alice, cookie: login.headers.getSetCookie()[0]!.split(";")[0]! };
    const s1 = await TestSocket.open(roomId, alice);
    const s2 = await TestSocket.open(roomId, alice);
    const other = await TestSocket.open(roomId, otherSession);
    expect((await call("/api/auth/logout", { cookie: alice.cookie, method: "POST" })).status).toBe(204);
    expect(await s1.waitClosed()).toMatchObject({ code: CLOSE.policy, reason: "signed out" });
    expect(await s2.waitClosed()).toMatchObject({ code: CLOSE.policy });
    expect(other.closed).toBeUndefined();
    expect((await call("/api/me", { cookie: alice.cookie })).status).toBe(401);
    other.close();
  });
});

describe("R13 a member removed while connected", () => {
  it("has the socket closed (1008) and gets nothing more", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    const res = await call(`/api/rooms/${roomId}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await b.waitClosed()).toMatchObject({ code: CLOSE.policy, reason: "removed from room" });
    const seen = b.frames.length;
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "after removal" });
    await a.until(() => a.messageTexts().includes("after removal"), "alice's message");
    expect(b.frames.length).toBe(seen);
    // And a new socket is refused.
    expect((await upgrade(`/api/rooms/${roomId}/ws`, { cookie: bob.cookie })).status).toBe(403);
    a.close();
  });
});

describe("S9 one user opening hundreds of sockets", () => {
  it(`is capped at ${MAX_SOCKETS_PER_USER} per room with a clear close reason`, async () => {
    const { roomId, alice } = await roomWithTwo();
    const open: TestSocket[] = [];
    for (let i = 0; i < MAX_SOCKETS_PER_USER; i++) open.push(await TestSocket.open(roomId, alice));
    const res = await upgrade(`/api/rooms/${roomId}/ws`, { cookie: alice.cookie });
    res.webSocket!.accept();
    const closed = await new Promise<CloseEvent>((resolve) => res.webSocket!.addEventListener("close", resolve));
    expect(closed.code).toBe(CLOSE.tooManyConnections);
    expect(closed.reason).toMatch(/too many connections/);
    expect(open.every((s) => s.closed === undefined)).toBe(true);
    for (const s of open) s.close();
  });
});

describe("R5 a room that hibernated", () => {
  it("takes identity from the socket attachment and counts from storage", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    const clientId = crypto.randomUUID();
    a.send({ type: "send", clientId, text: "before" });
    await b.until(() => b.messageTexts().length === 1, "first message");
    const first = await a.waitFor(isAck(clientId));
    // Tear the instance down; the sockets hibernate and stay open.
    await evictDurableObject(env.ROOM.getByName(roomId));
    b.send({ type: "send", clientId: crypto.randomUUID(), text: "after" });
    await a.until(() => a.messageTexts().length === 2, "message after eviction");
    const last = a.events().at(-1)!;
    expect(last.type === "message" && last.message).toMatchObject({ userId: bob.id, username: bob.username, seq: first.seq + 1, text: "after" });
    expect(a.closed).toBeUndefined();
    a.close();
    b.close();
  });
});

describe("R12 a half-open connection", () => {
  it("is closed by the alarm once silent past the heartbeat bound; presence and typing clear", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    b.send({ type: "typing", typing: true });
    await a.waitFor((f) => f.type === "typing" && f.typing);
    // Bob's socket goes silent: make its last sign of life older than the bound.
    await runInDurableObject(env.ROOM.getByName(roomId), (_r, state) => {
      for (const ws of state.getWebSockets(`u:${bob.id}`)) {
        ws.serializeAttachment({ ...(ws.deserializeAttachment() as object), connectedAt: 0 });
      }
    });
    expect(await runDurableObjectAlarm(env.ROOM.getByName(roomId))).toBe(true);
    expect(await b.waitClosed()).toMatchObject({ code: CLOSE.idle });
    await a.waitFor((f) => f.type === "typing" && !f.typing && f.userId === bob.id);
    await a.until(() => {
      return a.frames.some((f) => f.type === "presence_changed" && f.offline.includes(bob.id));
    }, "presence without bob");
    // Alice pings (auto-response), so the same alarm keeps her.
    expect(a.closed).toBeUndefined();
    a.close();
  });

  it("R11 an alarm that fires twice is idempotent", async () => {
    const { roomId, alice } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const stub = env.ROOM.getByName(roomId);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const frames = a.frames.length;
    // A second run right away: nothing to expire, nobody to drop, nothing sent.
    await runInDurableObject(stub, async (room) => room.alarm());
    expect(a.frames.length).toBe(frames);
    expect(a.closed).toBeUndefined();
    a.close();
  });
});
