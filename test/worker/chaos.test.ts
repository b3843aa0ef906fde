/**
 * Fault injection (`npm run chaos` for the long form; CI runs the short one).
 * Two rooms, 50 clients sending with client ids, while the run resets room
 * and hub objects at random moments, drops client sockets and replays
 * duplicate frames. At the end every client's timeline equals the room's
 * stored log, every badge equals the server's count, and every acknowledged
 * message exists exactly once.
 */
import { env, exports } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hubShardName, hubShards } from "../../worker/lib/hub";
import { HubFrame } from "#protocol";
import type { Room } from "../../worker/room";
import { ResilientClient } from "./clients";
import { addMember, createRoom, ORIGIN, range, register, roomHead, storedLogSeqs, type TestUser } from "./helpers";
import { rng } from "./rng";

const ROUNDS = Number(env.CHAOS_ROUNDS);
const CLIENTS = 50;


/** A badge tab that reconnects, applying full and partial counts like the SPA. */
class BadgeClient {
  counts: Record<string, number> = {};
  ws: WebSocket | undefined;
  open = false;
  constructor(readonly user: TestUser) {}
  async connect(): Promise<void> {
    const res = await exports.default.fetch(new Request(`${ORIGIN}/api/me/ws`, { headers: { Upgrade: "websocket", Origin: ORIGIN, Cookie: this.user.cookie } }));
    if (!res.webSocket) return;
    const ws = res.webSocket;
    ws.accept();
    this.ws = ws;
    this.open = true;
    ws.addEventListener("message", (e) => {
      const f = HubFrame.parse(JSON.parse(e.data as string));
      if (f.type !== "notification_count_update") return;
      this.counts = f.full ? { ...f.rooms } : { ...this.counts, ...f.rooms };
    });
    ws.addEventListener("close", () => {
      if (this.ws === ws) this.open = false;
    });
  }
  async pump(): Promise<void> {
    if (!this.open) await this.connect().catch(() => undefined);
  }
}

describe("chaos", () => {
  it(`${ROUNDS} rounds of traffic with resets, drops and duplicates lose and double nothing`, async () => {
    const r = rng(4242);
    const users: TestUser[] = [];
    for (let i = 0; i < CLIENTS / 2; i++) users.push(await register());
    const rooms = [await createRoom(users[0]!), await createRoom(users[0]!)];
    for (const room of rooms) for (const u of users.slice(1)) await addMember(users[0]!, room.id, u);
    // 50 clients: every user in both rooms.
    const clients = rooms.flatMap((room) => users.map((u) => new ResilientClient(room.id, u)));
    const badges = users.map((u) => new BadgeClient(u));
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(badges.map((b) => b.connect()));
    const hubNames = [...new Set(users.map((u) => hubShardName(u.id, hubShards(env))))];
    const stats = { sent: 0, duplicatesReplayed: 0, roomResets: 0, hubResets: 0, drops: 0 };
    const sentFrames = new Map<ResilientClient, { clientId: string; text: string }[]>();

    const pumpAll = async () => {
      for (const c of clients) {
        try {
          await c.pump();
        } catch (err) {
          // An upgrade racing a reset: try again next round (like the SPA's backoff).
          if (!String(err).includes("upgrade refused")) throw err;
        }
      }
      for (const b of badges) await b.pump();
    };

    for (let round = 0; round < ROUNDS; round++) {
      for (const c of clients) {
        if (r() < 0.3) {
          const text = `r${round} ${c.user.username}`;
          c.send(text);
          stats.sent++;
          const [clientId] = [...c.outbox].at(-1)!;
          sentFrames.set(c, [...(sentFrames.get(c) ?? []), { clientId, text }]);
        }
      }
      const roll = r();
      if (roll < 0.25) {
        await evictDurableObject(env.ROOM.getByName(rooms[Math.floor(r() * 2)]!.id), { webSockets: "close" });
        stats.roomResets++;
      } else if (roll < 0.4) {
        await evictDurableObject(env.USER_HUB.getByName(hubNames[Math.floor(r() * hubNames.length)]!), { webSockets: "close" }).catch(() => undefined);
        stats.hubResets++;
      } else if (roll < 0.6) {
        const victim = clients[Math.floor(r() * clients.length)]!;
        victim.socket?.close();
        stats.drops++;
      } else if (roll < 0.8) {
        // Replay an already-sent frame with the same client id.
        const c = clients[Math.floor(r() * clients.length)]!;
        const frames = sentFrames.get(c);
        if (frames?.length && c.socket?.isOpen) {
          const f = frames[Math.floor(r() * frames.length)]!;
          if (c.socket.trySend({ type: "send", clientId: f.clientId, text: f.text })) stats.duplicatesReplayed++;
        }
      }
      await new Promise((res) => setTimeout(res, 20));
      await pumpAll();
    }

    // Settle: every outbox drains and every client reaches its room's head.
    const heads = async () => Object.fromEntries(await Promise.all(rooms.map(async (room) => [room.id, await roomHead(room.id)]))) as Record<string, number>;
    const deadline = Date.now() + 60_000;
    for (;;) {
      await pumpAll();
      const h = await heads();
      if (clients.every((c) => c.outbox.size === 0 && c.lastSeq === h[c.roomId])) break;
      if (Date.now() > deadline) throw new Error("chaos run did not settle");
      await new Promise((res) => setTimeout(res, 50));
    }

    let stored = 0;
    let delivered = 0;
    for (const room of rooms) {
      const log = {
        // Every stored log entry: messages (their own entries) and all other events (membership, ...).
        seqs: await storedLogSeqs(room.id),
        ...(await runInDurableObject(env.ROOM.getByName(room.id), (_r, s) => ({
          clientIds: s.storage.sql.exec<{ client_id: string }>("SELECT client_id FROM messages").toArray().map((x) => x.client_id),
          messageSeqs: s.storage.sql.exec<{ seq: number }>("SELECT seq FROM messages ORDER BY seq").toArray().map((x) => x.seq),
        }))),
      };
      // Contiguous per room across all event types, up to the head.
      expect(log.seqs).toEqual(range(1, await roomHead(room.id)));
      stored += log.clientIds.length;
      expect(new Set(log.clientIds).size).toBe(log.clientIds.length);
      const acked = clients.filter((c) => c.roomId === room.id).flatMap((c) => [...c.acked]);
      expect([...new Set(acked)].sort()).toEqual([...log.clientIds].sort());
      for (const c of clients.filter((x) => x.roomId === room.id)) {
        expect([...c.timeline.keys()].sort((x, y) => x - y)).toEqual(log.seqs);
        expect([...c.timeline.values()].filter((e) => e.type === "message").map((e) => e.seq).sort((x, y) => x - y)).toEqual(log.messageSeqs);
        delivered += c.timeline.size;
      }
    }

    // Badges: let the hubs settle, then every tab shows the server's numbers.
    const badgeDeadline = Date.now() + 30_000;
    for (;;) {
      for (const room of rooms) await runInDurableObject(env.ROOM.getByName(room.id), (room) => room.alarm());
      await pumpAll();
      const mismatches = [];
      for (const b of badges) {
        const truth = await (await exports.default.fetch(new Request(`${ORIGIN}/api/me/unread`, { headers: { Cookie: b.user.cookie } }))).json<{ rooms: Record<string, number> }>();
        // The server's count: derived from the stored log after the member's stored cursor
        // (and the room's in-memory count must agree with it, else it is reported as a mismatch).
        const derived = await Promise.all(
          rooms.map((room) =>
            runInDurableObject(env.ROOM.getByName(room.id), (r: Room, s) => {
              const { read_seq } = s.storage.sql.exec<{ read_seq: number }>("SELECT read_seq FROM members WHERE user_id = ?", b.user.id).one();
              const fromLog = r.log.countAfter(read_seq, b.user.id);
              const inMemory = r.membersList().find((m) => m.userId === b.user.id)?.unread;
              return inMemory === fromLog ? fromLog : -1;
            }),
          ),
        );
        for (const [i, room] of rooms.entries()) {
          if ((truth.rooms[room.id] ?? 0) !== derived[i] || (b.counts[room.id] ?? 0) !== derived[i]) mismatches.push(b.user.username);
        }
      }
      if (mismatches.length === 0) break;
      if (Date.now() > badgeDeadline) throw new Error(`badges disagree for ${mismatches.length} tab(s)`);
      await new Promise((res) => setTimeout(res, 100));
    }

    console.log(
      `chaos: sent ${stats.sent}, acknowledged ${clients.reduce((n, c) => n + c.acked.size, 0)}, stored ${stored}, delivered ${delivered}, ` +
        `room resets ${stats.roomResets}, hub resets ${stats.hubResets}, socket drops ${stats.drops}, duplicates replayed ${stats.duplicatesReplayed}, ` +
        `reconnects ${clients.reduce((n, c) => n + c.reconnects, 0)}`,
    );
    expect(stats.roomResets + stats.hubResets + stats.drops).toBeGreaterThan(0);
    for (const c of clients) c.socket?.close();
    for (const b of badges) b.ws?.close();
  }, 180_000);
});
