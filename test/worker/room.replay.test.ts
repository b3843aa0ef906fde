import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { REPLAY_WINDOW, type RoomEvent, type RoomSnapshot, type ServerFrame } from "../../worker/protocol";
import { RoomStore } from "../../worker/room/store";
import { call, errorOf, roomWithTwo, type TestUser } from "./helpers";
import { ResilientClient } from "./clients";
import { TestSocket } from "./socket";


/** Send over HTTP (the same path and rate limit as the socket). */
async function httpSend(roomId: string, user: TestUser, text: string, clientId: string = crypto.randomUUID()) {
  return call(`/api/rooms/${roomId}/messages`, { cookie: user.cookie, json: { clientId, text } });
}

/** Write events straight into the room's store (no rate limit), for volume. */
async function seed(roomId: string, user: TestUser, n: number): Promise<void> {
  await runInDurableObject(env.ROOM.getByName(roomId), (_room, state) => {
    const store = new RoomStore(state.storage);
    for (let i = 0; i < n; i++) store.sendMessage({ id: user.id, username: user.username }, crypto.randomUUID(), `seed ${i}`, Date.now());
  });
}

const ackOf = (clientId: string) => (f: ServerFrame): f is Extract<ServerFrame, { type: "ack" }> => f.type === "ack" && f.clientId === clientId;

describe("R1 resend after a lost ack", () => {
  it("stores one row, returns the original seq, broadcasts nothing new", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const watcher = await TestSocket.open(roomId, bob);
    const clientId = crypto.randomUUID();
    const first = await TestSocket.open(roomId, alice);
    first.send({ type: "send", clientId, text: "only once" });
    first.close(); // killed before the ack could be read
    await watcher.until(() => watcher.messageTexts().length === 1, "the original broadcast");

    const again = await TestSocket.open(roomId, alice);
    again.send({ type: "send", clientId, text: "only once" });
    const ack = await again.waitFor(ackOf(clientId));
    expect(ack).toMatchObject({ seq: 1, duplicate: true });
    // Over HTTP too: 200 (not 201) with the original message.
    const res = await httpSend(roomId, alice, "only once", clientId);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ seq: 1, duplicate: true, message: { clientId, text: "only once" } });

    // A marker message proves the watcher is up to date; it saw exactly one copy.
    again.send({ type: "send", clientId: crypto.randomUUID(), text: "marker" });
    await watcher.until(() => watcher.messageTexts().includes("marker"), "marker");
    expect(watcher.messageTexts()).toEqual(["only once", "marker"]);
    const rows = await runInDurableObject(env.ROOM.getByName(roomId), (_r, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM messages WHERE client_id = ?", clientId).one());
    expect(rows.n).toBe(1);
    watcher.close();
    again.close();
  });
});

describe("R2 reconnect after missing 50 events", () => {
  it("replays k+1…head in order, then live, with no gap and no duplicate", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await seed(roomId, alice, 3);
    const k = 3;
    await seed(roomId, alice, 50);
    const b = await TestSocket.open(roomId, bob, k);
    expect(b.frames[0]).toMatchObject({ type: "hello", seq: 53 });
    const replayed = b.events().map((e) => e.seq);
    expect(replayed).toEqual(Array.from({ length: 50 }, (_, i) => k + 1 + i));
    const liveIdx = b.frames.findIndex((f) => f.type === "live");
    expect(liveIdx).toBe(b.frames.length - 1 - b.frames.slice(liveIdx + 1).length);
    expect(b.frames.slice(0, liveIdx).filter((f) => "seq" in f && "ts" in f)).toHaveLength(50);

    const res = await httpSend(roomId, alice, "live one");
    expect(res.status).toBe(201);
    await b.until(() => b.messageTexts().includes("live one"), "the live message");
    const seqs = b.events().map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 51 }, (_, i) => k + 1 + i));
    b.close();
  });

  it("the same replay over HTTP: /events?after=", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await seed(roomId, alice, 10);
    const res = await call(`/api/rooms/${roomId}/events?after=4`, { cookie: bob.cookie });
    const page = await res.json<{ events: RoomEvent[]; seq: number }>();
    expect(page.seq).toBe(10);
    expect(page.events.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    const none = await (await call(`/api/rooms/${roomId}/events?after=10`, { cookie: bob.cookie })).json<{ events: unknown[] }>();
    expect(none.events).toEqual([]);
  });
});

describe("R3 after too old or ahead of head", () => {
  it("ahead of head: resync_required on the socket, which stays open and goes live", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await seed(roomId, alice, 2);
    const b = await TestSocket.open(roomId, bob, 99);
    expect(b.frames.find((f) => f.type === "resync_required")).toMatchObject({ seq: 2 });
    await b.waitFor((f) => f.type === "live");
    await httpSend(roomId, alice, "still live");
    await b.until(() => b.messageTexts().includes("still live"), "a live message after resync");
    expect(b.closed).toBeUndefined();
    b.close();
  });

  it(`older than the ${REPLAY_WINDOW} events kept: resync_required, and the snapshot carries its seq`, async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await seed(roomId, alice, REPLAY_WINDOW + 5);
    const b = await TestSocket.open(roomId, bob, 2);
    expect(b.frames.find((f) => f.type === "resync_required")).toMatchObject({ seq: REPLAY_WINDOW + 5 });
    expect(b.events()).toEqual([]);
    const http = await call(`/api/rooms/${roomId}/events?after=2`, { cookie: bob.cookie });
    expect(await errorOf(http)).toMatchObject({ status: 409, code: "resync_required" });
    const ahead = await call(`/api/rooms/${roomId}/events?after=${REPLAY_WINDOW + 6}`, { cookie: bob.cookie });
    expect(ahead.status).toBe(409);
    // The oldest kept event is still replayable.
    const edge = await call(`/api/rooms/${roomId}/events?after=5`, { cookie: bob.cookie });
    expect(edge.status).toBe(200);

    // The snapshot: latest messages and the head they are current at.
    const snap = await (await call(`/api/rooms/${roomId}`, { cookie: bob.cookie })).json<RoomSnapshot>();
    expect(snap.seq).toBe(REPLAY_WINDOW + 5);
    expect(snap.messages).toHaveLength(50);
    expect(snap.messages.at(-1)!.seq).toBe(REPLAY_WINDOW + 5);
    expect(snap.hasMore).toBe(true);
    b.close();
  });
});

describe("history pages", () => {
  it("pages older messages with before=, oldest first, until hasMore is false", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await seed(roomId, alice, 25);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const q = before === undefined ? "limit=10" : `limit=10&before=${before}`;
      const page = await (await call(`/api/rooms/${roomId}/messages?${q}`, { cookie: bob.cookie })).json<{ messages: { seq: number }[]; hasMore: boolean }>();
      seen.unshift(...page.messages.map((m) => m.seq));
      if (!page.hasMore) break;
      before = page.messages[0]!.seq;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const bad = await call(`/api/rooms/${roomId}/messages?limit=1000`, { cookie: bob.cookie });
    expect((await errorOf(bad)).status).toBe(400);
  });
});

describe("R6 two members send at the same instant", () => {
  it("every client sees the same order by seq", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    for (let i = 0; i < 10; i++) {
      a.send({ type: "send", clientId: crypto.randomUUID(), text: `a${i}` });
      b.send({ type: "send", clientId: crypto.randomUUID(), text: `b${i}` });
    }
    await Promise.all([a.until(() => a.messageTexts().length === 20, "20 at a"), b.until(() => b.messageTexts().length === 20, "20 at b")]);
    expect(a.events().map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(a.messageTexts()).toEqual(b.messageTexts());
    a.close();
    b.close();
  });
});

describe("R4 the room object is reset during traffic", () => {
  it("clients reconnect and resend with the same ids: zero acknowledged messages lost, none doubled", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const clients = [new ResilientClient(roomId, alice), new ResilientClient(roomId, bob)];
    await Promise.all(clients.map((c) => c.connect()));
    const stub = env.ROOM.getByName(roomId);
    let resets = 0;
    for (let round = 0; round < 6; round++) {
      for (const c of clients) for (let i = 0; i < 3; i++) c.send(`${c.user.username} r${round} #${i}`);
      if (round % 2 === 1) {
        // Reset: tear the object down and close its sockets, mid-traffic.
        await evictDurableObject(stub, { webSockets: "close" });
        resets++;
      }
      await new Promise((r) => setTimeout(r, 20));
      for (const c of clients) await c.pump();
    }
    // Let everything settle: all outboxes drain and every client reaches the head.
    const deadline = Date.now() + 20_000;
    for (;;) {
      for (const c of clients) await c.pump();
      const head = await stub.eventsAfter(0);
      const headSeq = head.ok ? head.seq : -1;
      if (clients.every((c) => c.outbox.size === 0 && c.lastSeq === headSeq)) break;
      if (Date.now() > deadline) throw new Error(`did not settle: ${clients.map((c) => `${c.outbox.size}/${c.lastSeq}`)} head ${headSeq}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(resets).toBe(3);
    expect(clients.reduce((n, c) => n + c.reconnects, 0)).toBeGreaterThanOrEqual(resets * 2);

    const stored = await runInDurableObject(stub, (_r, s) => s.storage.sql.exec<{ client_id: string; seq: number }>("SELECT client_id, seq FROM messages ORDER BY seq").toArray());
    const acked = new Set(clients.flatMap((c) => [...c.acked]));
    expect(acked.size).toBe(36);
    // Every acknowledged message is stored exactly once.
    expect(stored.map((r) => r.client_id).sort()).toEqual([...acked].sort());
    // Every client's timeline equals the stored log, in order.
    for (const c of clients) {
      expect([...c.timeline.keys()].sort((x, y) => x - y)).toEqual(stored.map((r) => r.seq));
    }
    for (const c of clients) c.socket?.close();
  });
});
