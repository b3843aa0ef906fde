/**
 * The unread and mention counts a room keeps in memory (adjusted per event)
 * always equal a fresh derivation from its log — checked against an
 * independent model of the rules, kept by this test from what the room
 * answered, after seeded random sequences of sends, thread replies, mentions,
 * edits, deletions, cursor moves and membership changes: in memory, from a
 * fresh instance after `evictDurableObject` (the bulk derivation), and from
 * the one-member SQL recount. Thread counters (`replyCount`, `lastReplyAt`)
 * are checked the same way.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { mentionToken } from "#protocol";
import type { Room } from "../../worker/room";
import { mentionsAfter } from "../../worker/room/counts";
import { addMember, call, createRoom, register, type TestUser } from "./helpers";
import { rng } from "./rng";

const OPS = 360;
const CHECK_EVERY = 40;

interface Msg {
  id: string;
  seq: number;
  author: string;
  threadOf: string | null;
  mentioned: Set<string>;
  createdAt: number;
  deleted: boolean;
}

/** The rules, written again from docs/protocol.md ("Read state and unread counts"), over what the test saw stored. */
class Model {
  readonly messages: Msg[] = [];
  readonly byId = new Map<string, Msg>();
  /** parent id → user id → seq of their first reply. */
  readonly participants = new Map<string, Map<string, number>>();
  members = new Set<string>();

  mentions(text: string, author: string): Set<string> {
    const ids = [...text.matchAll(/<@([A-Za-z0-9_-]+)>/g)].map((m) => m[1]!);
    return new Set(ids.filter((id) => id !== author && this.members.has(id)).slice(0, 50));
  }

  stored(m: Msg): void {
    this.messages.push(m);
    this.byId.set(m.id, m);
    if (!m.threadOf) return;
    const parent = this.byId.get(m.threadOf)!;
    let p = this.participants.get(parent.id);
    if (!p) this.participants.set(parent.id, (p = new Map()));
    if (m.author !== parent.author && !p.has(m.author)) p.set(m.author, m.seq);
  }

  countsFor(userId: string, cursor: number): { unread: number; mentions: number } {
    let unread = 0;
    let mentions = 0;
    for (const m of this.messages) {
      if (m.deleted || m.seq <= cursor || m.author === userId) continue;
      if (m.mentioned.has(userId)) mentions++;
      if (!m.threadOf) unread++;
      else {
        const parent = this.byId.get(m.threadOf)!;
        const since = this.participants.get(parent.id)?.get(userId);
        if (parent.author === userId || (since !== undefined && since < m.seq) || m.mentioned.has(userId)) unread++;
      }
    }
    return { unread, mentions };
  }

  thread(parentId: string): { replyCount: number; lastReplyAt: number | null } {
    const live = this.messages.filter((m) => m.threadOf === parentId && !m.deleted);
    return { replyCount: live.length, lastReplyAt: live.length ? Math.max(...live.map((m) => m.createdAt)) : null };
  }
}

describe("counts: incremental equals derived", () => {
  it.each([20261201, 7, 424242])(`seed %i: ${OPS} random operations; memory, a fresh instance and the SQL recount agree with the model`, async (seed) => {
    const r = rng(seed);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
    const users = await Promise.all(Array.from({ length: 6 }, () => register()));
    const eve = await register(); // never a member
    const owner = users[0]!;
    const room = await createRoom(owner);
    for (const u of users.slice(1)) await addMember(owner, room.id, u);
    const stub = env.ROOM.getByName(room.id);
    const model = new Model();
    model.members = new Set(users.map((u) => u.id));
    const byId = new Map(users.map((u) => [u.id, u]));
    const actor = (u: TestUser) => ({ id: u.id, username: u.username });
    const memberUsers = () => users.filter((u) => model.members.has(u.id));
    const text = () => {
      const parts = [`m${int(1000)}`];
      for (let i = int(4); i > 0; i--) parts.push(mentionToken(pick([...users.map((u) => u.id), eve.id, "nobody"])));
      return parts.join(" ");
    };
    const stats = { sent: 0, replies: 0, edits: 0, deletes: 0, reads: 0, refused: 0, membership: 0 };

    const check = async (when: string) => {
      const mem = await runInDurableObject(stub, (room: Room, s) =>
        room.membersList().map((m) => ({
          userId: m.userId,
          readSeq: m.readSeq,
          unread: m.unread,
          mentions: m.mentions,
          sqlUnread: room.log.countAfter(m.readSeq, m.userId),
          sqlMentions: mentionsAfter(s.storage.sql, m.readSeq, m.userId),
        })),
      );
      expect(new Set(mem.map((m) => m.userId)), when).toEqual(model.members);
      for (const m of mem) {
        const want = model.countsFor(m.userId, m.readSeq);
        expect({ unread: m.unread, mentions: m.mentions }, `${when}: memory, ${m.userId}`).toEqual(want);
        expect({ unread: m.sqlUnread, mentions: m.sqlMentions }, `${when}: SQL recount, ${m.userId}`).toEqual(want);
      }
      await evictDurableObject(stub);
      const fresh = await runInDurableObject(stub, (room: Room) => room.membersList().map((m) => ({ userId: m.userId, unread: m.unread, mentions: m.mentions, readSeq: m.readSeq })));
      for (const m of fresh) expect({ unread: m.unread, mentions: m.mentions }, `${when}: fresh instance, ${m.userId}`).toEqual(model.countsFor(m.userId, m.readSeq));
      for (const parent of model.messages.filter((m) => !m.threadOf)) {
        const page = await stub.thread(parent.id, 0, 1);
        if (!page.ok) throw new Error(`thread ${parent.id}: ${page.message}`);
        expect({ replyCount: page.parent.replyCount, lastReplyAt: page.parent.lastReplyAt }, `${when}: thread ${parent.seq}`).toEqual(model.thread(parent.id));
      }
    };

    for (let op = 1; op <= OPS; op++) {
      const who = pick(memberUsers());
      const dice = r();
      const live = model.messages.filter((m) => !m.deleted);
      if (dice < 0.3 || live.length === 0) {
        const t = text();
        const res = await stub.sendMessage(actor(who), crypto.randomUUID(), t);
        if (!res.ok) stats.refused++;
        else {
          stats.sent++;
          model.stored({ id: res.message.id, seq: res.seq, author: who.id, threadOf: null, mentioned: model.mentions(t, who.id), createdAt: res.message.createdAt, deleted: false });
        }
      } else if (dice < 0.55) {
        const parents = live.filter((m) => !m.threadOf);
        if (!parents.length) continue;
        const parent = pick(parents);
        const t = text();
        const res = await stub.sendMessage(actor(who), crypto.randomUUID(), t, parent.id);
        if (!res.ok) stats.refused++;
        else {
          stats.replies++;
          model.stored({ id: res.message.id, seq: res.seq, author: who.id, threadOf: parent.id, mentioned: model.mentions(t, who.id), createdAt: res.message.createdAt, deleted: false });
        }
      } else if (dice < 0.65) {
        const mine = live.filter((m) => model.members.has(m.author));
        if (!mine.length) continue;
        const m = pick(mine);
        const t = text();
        const res = await stub.editMessage(actor(byId.get(m.author)!), m.id, t);
        if (!res.ok) stats.refused++;
        else {
          stats.edits++;
          m.mentioned = model.mentions(t, m.author);
        }
      } else if (dice < 0.73) {
        const m = pick(live);
        const by = model.members.has(m.author) && r() < 0.7 ? byId.get(m.author)! : owner;
        const res = await stub.deleteMessage(actor(by), m.id);
        if (!res.ok) stats.refused++;
        else {
          stats.deletes++;
          m.deleted = true;
        }
      } else if (dice < 0.97) {
        const head = await runInDurableObject(stub, (room: Room) => room.log.head());
        const back = r() < 0.25;
        const res = await stub.markRead(actor(who), back ? 1 + int(head) : int(head + 2), back);
        if (!res.ok) stats.refused++;
        else stats.reads++;
      } else {
        // Someone leaves, or comes back (the owner stays).
        const out = users.slice(1).filter((u) => !model.members.has(u.id));
        if (out.length && r() < 0.5) {
          const u = pick(out);
          expect((await addMember(owner, room.id, u)).status).toBe(201);
          model.members.add(u.id);
        } else {
          const u = pick(memberUsers().slice(1).length ? memberUsers().filter((x) => x !== owner) : [owner]);
          if (u === owner) continue;
          expect((await call(`/api/rooms/${room.id}/members/${u.id}`, { method: "DELETE", cookie: owner.cookie })).status).toBe(204);
          model.members.delete(u.id);
        }
        stats.membership++;
      }
      if (op % CHECK_EVERY === 0) await check(`after op ${op}`);
    }
    await check("at the end");
    console.log(`counts fuzz seed ${seed}: ${JSON.stringify(stats)}`);
    expect(stats.replies).toBeGreaterThan(10);
    expect(stats.edits + stats.deletes).toBeGreaterThan(10);
  }, 180_000);
});
