import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { isStoredEvent, REPLAY_WINDOW, type RoomEvent, type RoomSnapshot, type ServerFrame } from "#protocol";
import type { Room } from "../../worker/room";
import { call, errorOf, range, roomHead, roomWithTwo, storedLogSeqs, type TestUser } from "./helpers";
import { ResilientClient } from "./clients";
import { TestSocket } from "./socket";


/** Send over HTTP (the same path and rate limit as the socket). */
async function httpSend(roomId: string, user: TestUser, text: string, clientId: string = crypto.randomUUID()) {
  return call(`/api/rooms/${roomId}/messages`, { cookie: user.cookie, json: { clientId, text } });
}

/**
 * Write messages straight into the room's log (no rate limit, no broadcast), for volume.
 * Each is stored as the next seq, with the counts kept as a real send keeps them.
 * Returns the head after seeding.
 */
async function seed(roomId: string, user: TestUser, n: number): Promise<number> {
  return runInDurableObject(env.ROOM.getByName(roomId), (room: Room, state) =>
    state.storage.transactionSync(() => {
      for (let i = 0; i < n; i++) {
        const { message } = room.log.addMessage({ id: user.id, username: user.username }, crypto.randomUUID(), `seed ${i}`, Date.now());
        room.members.itemAdded({ seq: message.seq, userId: user.id });
      }
      return room.log.head();
    }),
  );
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
    const original = watcher.events().find((e) => e.type === "message")!;
    const headAfterOriginal = await roomHead(roomId);
    expect(original.seq).toBe(headAfterOriginal);

    const again = await TestSocket.open(roomId, alice);
    again.send({ type: "send", clientId, text: "only once" });
    const ack = await again.waitFor(ackOf(clientId));
    expect(ack).toMatchObject({ seq: original.seq, duplicate: true });
    // Over HTTP too: 200 (not 201) with the original message.
    const res = await httpSend(roomId, alice, "only once", clientId);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ seq: original.seq, duplicate: true, message: { clientId, text: "only once" } });
    // Neither retry stored anything: the head did not move.
    expect(await roomHead(roomId)).toBe(headAfterOriginal);

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
    const k = await seed(roomId, alice, 3);
    const head = await seed(roomId, alice, 50);
    expect(head).toBe(k + 50);
    const b = await TestSocket.open(roomId, bob, k);
    expect(b.frames[0]).toMatchObject({ type: "hello", seq: head });
    const replayed = b.events().map((e) => e.seq);
    expect(replayed).toEqual(range(k + 1, 50));
    expect(b.events().every((e) => e.type === "message")).toBe(true);
    const liveIdx = b.frames.findIndex((f) => f.type === "live");
    expect(liveIdx).toBe(b.frames.length - 1 - b.frames.slice(liveIdx + 1).length);
    expect(b.frames.slice(0, liveIdx).filter(isStoredEvent)).toHaveLength(50);

    const res = await httpSend(roomId, alice, "live one");
    expect(res.status).toBe(201);
    await b.until(() => b.messageTexts().includes("live one"), "the live message");
    const seqs = b.events().map((e) => e.seq);
    expect(seqs).toEqual(range(k + 1, 51));
    b.close();
  });

  it("the same replay over HTTP: /events?after=", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const start = await roomHead(roomId);
    const head = await seed(roomId, alice, 10);
    expect(head).toBe(start + 10);
    const after = start + 4;
    const res = await call(`/api/rooms/${roomId}/events?after=${after}`, { cookie: bob.cookie });
    const page = await res.json<{ events: RoomEvent[]; seq: number }>();
    expect(page.seq).toBe(head);
    expect(page.events.map((e) => e.seq)).toEqual(range(after + 1, 6));
    expect(page.events.every((e) => e.type === "message")).toBe(true);
    // From the start: every stored event (membership included), contiguous from 1.
    const all = await (await call(`/api/rooms/${roomId}/events?after=0`, { cookie: bob.cookie })).json<{ events: RoomEvent[]; seq: number }>();
    expect(all.events.map((e) => e.seq)).toEqual(range(1, head));
    expect(all.events.map((e) => e.seq)).toEqual(await storedLogSeqs(roomId));
    const none = await (await call(`/api/rooms/${roomId}/events?after=${head}`, { cookie: bob.cookie })).json<{ events: unknown[] }>();
    expect(none.events).toEqual([]);
  });
});

describe("R3 after too old or ahead of head", () => {
  it("ahead of head: resync_required on the socket, which stays open and goes live", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const head = await seed(roomId, alice, 2);
    const b = await TestSocket.open(roomId, bob, head + 97);
    expect(b.frames.find((f) => f.type === "resync_required")).toMatchObject({ seq: head });
    await b.waitFor((f) => f.type === "live");
    await httpSend(roomId, alice, "still live");
    await b.until(() => b.messageTexts().includes("still live"), "a live message after resync");
    expect(b.closed).toBeUndefined();
    b.close();
  });

  it(`older than the ${REPLAY_WINDOW} events kept: resync_required, and the snapshot carries its seq`, async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const head = await seed(roomId, alice, REPLAY_WINDOW + 5);
    // Kept: the last REPLAY_WINDOW events, so `after` may be as old as head - REPLAY_WINDOW.
    const edgeAfter = head - REPLAY_WINDOW;
    const tooOld = edgeAfter - 3;
    const b = await TestSocket.open(roomId, bob, tooOld);
    expect(b.frames.find((f) => f.type === "resync_required")).toMatchObject({ seq: head });
    expect(b.events()).toEqual([]);
    const http = await call(`/api/rooms/${roomId}/events?after=${tooOld}`, { cookie: bob.cookie });
    expect(await errorOf(http)).toMatchObject({ status: 409, code: "resync_required" });
    const justTooOld = await call(`/api/rooms/${roomId}/events?after=${edgeAfter - 1}`, { cookie: bob.cookie });
    expect(justTooOld.status).toBe(409);
    const ahead = await call(`/api/rooms/${roomId}/events?after=${head + 1}`, { cookie: bob.cookie });
    expect(ahead.status).toBe(409);
    // The oldest kept event is still replayable.
    const edge = await call(`/api/rooms/${roomId}/events?after=${edgeAfter}`, { cookie: bob.cookie });
    expect(edge.status).toBe(200);
    const edgePage = await edge.json<{ events: RoomEvent[]; seq: number }>();
    expect(edgePage.events.map((e) => e.seq)).toEqual(range(edgeAfter + 1, REPLAY_WINDOW));

    // The snapshot: latest messages and the head they are current at.
    const snap = await (await call(`/api/rooms/${roomId}`, { cookie: bob.cookie })).json<RoomSnapshot>();
    expect(snap.seq).toBe(head);
    expect(snap.messages).toHaveLength(50);
    expect(snap.messages.at(-1)!.seq).toBe(head);
    expect(snap.hasMore).toBe(true);
    b.close();
  });
});

describe("history pages", () => {
  it("pages older messages with before=, oldest first, until hasMore is false", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const start = await roomHead(roomId);
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
    // Only messages are paged (membership events before them are not messages).
    expect(seen).toEqual(range(start + 1, 25));
    const bad = await call(`/api/rooms/${roomId}/messages?limit=1000`, { cookie: bob.cookie });
    expect((await errorOf(bad)).status).toBe(400);
  });
});

describe("R6 two members send at the same instant", () => {
  it("every client sees the same order by seq", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const head = await roomHead(roomId);
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    expect(a.frames[0]).toMatchObject({ type: "hello", seq: head });
    for (let i = 0; i < 10; i++) {
      a.send({ type: "send", clientId: crypto.randomUUID(), text: `a${i}` });
      b.send({ type: "send", clientId: crypto.randomUUID(), text: `b${i}` });
    }
    await Promise.all([a.until(() => a.messageTexts().length === 20, "20 at a"), b.until(() => b.messageTexts().length === 20, "20 at b")]);
    expect(a.events().map((e) => e.seq)).toEqual(range(head + 1, 20));
    expect(b.events().map((e) => e.seq)).toEqual(range(head + 1, 20));
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
    const log = await storedLogSeqs(roomId);
    const acked = new Set(clients.flatMap((c) => [...c.acked]));
    expect(acked.size).toBe(36);
    // Every acknowledged message is stored exactly once.
    expect(stored.map((r) => r.client_id).sort()).toEqual([...acked].sort());
    // The stored log is contiguous from 1 across every event type (membership events, then messages).
    expect(log).toEqual(range(1, log.length));
    // Every client's timeline equals the stored log, in order; its messages are the stored messages.
    for (const c of clients) {
      expect([...c.timeline.keys()].sort((x, y) => x - y)).toEqual(log);
      const messages = [...c.timeline.values()].filter((e) => e.type === "message").sort((x, y) => x.seq - y.seq);
      expect(messages.map((e) => [e.seq, e.type === "message" && e.message.clientId])).toEqual(stored.map((r) => [r.seq, r.client_id]));
    }
    for (const c of clients) c.socket?.close();
  });
});
