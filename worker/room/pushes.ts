/**
 * Pushes from a room to the UserHub shards, off every caller's path.
 *
 * What must reach the hubs is derivable at any time: each member's current
 * count (from `Members`) and the rooms-list notices in the durable `notices`
 * table. So the push state is small: in memory, which members changed since
 * their shard last acknowledged (`dirty`); durably, the newest count version
 * every hub acknowledged (`meta.pushed_version`, written when pushes go
 * quiet). A fresh instance that finds the room's newest version above it
 * (a crash between a commit and its push) marks every member dirty.
 *
 * Only members someone is watching are pushed: a member is watched from
 * the moment a tab of theirs connects and their hub asks this room for their
 * count (`watch`), until a hub answers that they have no tab open. After a
 * wake nobody is known, so every member counts as watched until the hubs'
 * answers prune them. A room nobody has a badge open for makes no hub calls.
 *
 * After a new message or file the batch also carries the room's latest
 * activity for the members it reached (not the author), whose tabs get a
 * `room_activity` frame: memory only, like `dirty` (a crash loses at most
 * that reordering; the rooms list has it on its next load), and no hub row.
 *
 * Each shard has at most one call in flight; changes that arrive meanwhile
 * wait and go together (at most one round per FLUSH_GAP_MS per shard). A hub
 * that throws or does not answer within `timeoutMs` delays nobody: its users
 * stay dirty and the room's alarm retries them.
 */
import type { CountTrigger } from "#protocol";
import type { Activity, CountEntry, HubBatch, HubReply, Notice } from "../lib/hub";
import type { Meter, Sql } from "../lib/meter";
import type { Members } from "./members";

/** The least time between two calls to one shard while changes keep coming. */
export const FLUSH_GAP_MS = 40;
/** How soon the alarm retries a failed push. */
export const RETRY_MS = 1000;

export interface PushDeps {
  sql: Sql;
  members: Members;
  meter: Meter;
  roomId(): string | undefined;
  shardOf(userId: string): string;
  /** Ask for the alarm at `at` (or sooner). */
  retryAt(at: number): void;
  /** The room's latest activity, sent with the counts after a new message or file. */
  latest(): Activity;
}

export class Pushes {
  /** How long a hub may take before its push counts as failed (tests shorten it). */
  timeoutMs = 5000;
  /** The call to one shard (tests replace it to make a hub throw or hang). */
  callHub: (shard: string, batch: HubBatch) => Promise<HubReply | void>;

  readonly #dirty = new Map<string, Set<string>>();
  /** Per shard, watched members to tell the room's latest activity (`room_activity`): in memory only, like `#dirty`. */
  readonly #activity = new Map<string, Set<string>>();
  readonly #inflight = new Set<string>();
  #noticesMaybe = true;
  #failed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #trigger: CountTrigger = "new_message";
  #pushed: number | undefined;
  /** Watched members and when they were last marked watched (a stamp from #stamp); undefined: not known yet. */
  #watched: Map<string, number> | undefined;
  #stamp = 0;

  constructor(
    private readonly deps: PushDeps,
    callHub: (shard: string, batch: HubBatch) => Promise<HubReply | void>,
  ) {
    this.callHub = callHub;
  }

  /** These members' counts changed. */
  markDirty(userIds: Iterable<string>, trigger: CountTrigger): void {
    this.#trigger = trigger;
    const watching = this.#watching();
    for (const id of userIds) {
      if (!watching.has(id)) continue; // nobody would hear it; a tab that connects asks for the count
      const shard = this.deps.shardOf(id);
      const set = this.#dirty.get(shard);
      if (set) set.add(id);
      else this.#dirty.set(shard, new Set([id]));
    }
  }

  /** A new message or file reached these members: their tabs get the room's latest activity with the count. */
  markActivity(userIds: Iterable<string>): void {
    const watching = this.#watching();
    for (const id of userIds) {
      if (!watching.has(id)) continue;
      const shard = this.deps.shardOf(id);
      const set = this.#activity.get(shard);
      if (set) set.add(id);
      else this.#activity.set(shard, new Set([id]));
    }
  }

  /** A tab of `userId` connected and asked for their count: push their changes from now on. */
  watch(userId: string): void {
    this.#watching().set(userId, ++this.#stamp);
  }

  #watching(): Map<string, number> {
    // Not known after a wake: everyone, until the hubs' answers say otherwise.
    this.#watched ??= new Map(this.deps.members.list().map((m) => [m.userId, 0]));
    return this.#watched;
  }

  /** Queue a rooms-list notice for a shard (call inside the write's transaction). */
  notice(shard: string, notice: Notice): void {
    this.deps.sql.exec("INSERT INTO notices (shard, payload) VALUES (?, ?)", shard, JSON.stringify(notice));
    this.#noticesMaybe = true;
  }

  /** After the members were loaded on a fresh instance: push everything if a push may have been lost. */
  recover(): void {
    if (this.#storedPushed() < this.deps.members.maxVersion()) {
      this.markDirty(this.deps.members.list().map((m) => m.userId), "recount");
    }
  }

  /** Is anything waiting to reach a hub? */
  get busy(): boolean {
    return this.#dirty.size > 0 || this.#activity.size > 0 || this.#inflight.size > 0 || this.#noticesMaybe || this.#failed;
  }

  /** Start a round soon (never inside the caller's turn). */
  kick(delay = 0): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delay);
  }

  /** The alarm's retry. */
  retry(): void {
    this.#failed = false;
    this.kick();
  }

  #pump(): void {
    const roomId = this.deps.roomId();
    if (!roomId) return;
    const shards = new Set([...this.#dirty.keys(), ...this.#activity.keys()]);
    if (this.#noticesMaybe) {
      const rows = this.deps.sql.exec<{ shard: string }>("SELECT DISTINCT shard FROM notices").toArray();
      for (const r of rows) shards.add(r.shard);
      if (!rows.length) this.#noticesMaybe = false;
    }
    for (const shard of shards) if (!this.#inflight.has(shard)) void this.#send(roomId, shard);
    this.#confirmIfQuiet();
  }

  async #send(roomId: string, shard: string): Promise<void> {
    const users = this.#dirty.get(shard) ?? new Set<string>();
    this.#dirty.delete(shard);
    const counts: CountEntry[] = [];
    const watching = this.#watching();
    for (const id of users) {
      const m = watching.has(id) ? this.deps.members.get(id) : undefined;
      if (m) counts.push({ userId: id, n: m.unread, mentions: m.mentions, version: this.deps.members.version(m) });
    }
    const told = [...(this.#activity.get(shard) ?? [])].filter((id) => watching.has(id));
    this.#activity.delete(shard);
    const rows = this.#noticesMaybe
      ? this.deps.sql.exec<{ id: number; payload: string }>("SELECT id, payload FROM notices WHERE shard = ? ORDER BY id", shard).toArray()
      : [];
    if (!counts.length && !rows.length && !told.length) return;
    const batch: HubBatch = { roomId, counts, notices: rows.map((r) => JSON.parse(r.payload) as Notice), trigger: this.#trigger };
    if (told.length) batch.activity = { ...this.deps.latest(), userIds: told };
    this.#inflight.add(shard);
    const sentAt = this.#stamp;
    let ok = false;
    try {
      this.deps.meter.count("hubCalls");
      const reply = await withTimeout(this.callHub(shard, batch), this.timeoutMs);
      // Stop pushing to those with no tab open — unless a tab of theirs asked since this batch left.
      for (const id of reply?.offline ?? []) if ((watching.get(id) ?? Infinity) <= sentAt) watching.delete(id);
      if (rows.length) this.deps.sql.exec("DELETE FROM notices WHERE shard = ? AND id <= ?", shard, rows.at(-1)!.id);
      ok = true;
    } catch (err) {
      console.error(`room ${roomId}: push to ${shard} failed; the alarm retries it`, err);
      this.markDirty(users, this.#trigger);
      this.markActivity(told);
      this.#failed = true;
      this.deps.retryAt(Date.now() + RETRY_MS);
    } finally {
      this.#inflight.delete(shard);
    }
    // Changes (or notices) that came meanwhile go in the next round; it also finds the notices drained.
    if (ok && (this.#dirty.has(shard) || this.#activity.has(shard) || this.#noticesMaybe)) this.kick(FLUSH_GAP_MS);
    else this.#confirmIfQuiet();
  }

  #storedPushed(): number {
    this.#pushed ??= Number(
      this.deps.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'pushed_version'").toArray()[0]?.value ?? 0,
    );
    return this.#pushed;
  }

  /** Nothing dirty, nothing in flight, nothing failed: every hub has every count up to now. */
  #confirmIfQuiet(): void {
    if (this.#dirty.size || this.#activity.size || this.#inflight.size || this.#failed || this.#noticesMaybe) return;
    const v = this.deps.members.maxVersion();
    if (v === this.#storedPushed()) return;
    this.deps.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('pushed_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      v,
    );
    this.#pushed = v;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> = 0 as unknown as ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
