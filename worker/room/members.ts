/**
 * Members and read cursors — the only per-member state, and written only
 * when that member reads, joins or leaves (never by someone else's message).
 *
 * unread(member) = countable items (messages and uploads) with seq > the
 * member's cursor, not theirs, not deleted. It is derived: on first use after
 * a wake, one pass over the members and the items after the lowest cursor
 * builds every count; from then on the counts live in memory and each event
 * adjusts them (a message: +1 for every other member; a deletion: −1 for
 * those who had not read it); a cursor move recounts that member from the
 * log, reading only what lies after the new cursor.
 *
 * Versions order a member's count changes for the hubs (newest wins there):
 * version = max(head × VERSION_STEP, read_version), where a cursor move sets
 * read_version = max(read_version + 1, head × VERSION_STEP + 1). Events raise the
 * head; cursor moves between events raise read_version: both only grow.
 */
import type { Sql } from "../lib/meter";
import type { Member, Receipt, Role } from "#protocol";
import type { EventLog, Item } from "./log";

/** Room for this many cursor moves per member between two events (rate limits keep it far lower). */
export const VERSION_STEP = 2 ** 21;

export interface MemberState {
  userId: string;
  username: string;
  displayName: string | null;
  role: Role;
  joinedAt: number;
  readSeq: number;
  readVersion: number;
  /** The head when the cursor last moved (receipts that moved since a socket's `after`). */
  readHead: number;
  unread: number;
}

type Row = {
  user_id: string;
  username: string;
  display_name: string | null;
  role: Role;
  joined_at: number;
  read_seq: number;
  read_version: number;
  read_head: number;
};

export interface MemberInput {
  userId: string;
  username: string;
  displayName: string | null;
  role: Role;
  joinedAt: number;
}

export class Members {
  #cache: Map<string, MemberState> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly log: EventLog,
    /** Called once after the cache is built from storage (the room checks its pushes then). */
    private readonly onLoad: () => void = () => {},
  ) {}

  #members(): Map<string, MemberState> {
    if (this.#cache) return this.#cache;
    const rows = this.sql.exec<Row>("SELECT * FROM members").toArray();
    const min = rows.reduce((m, r) => Math.min(m, r.read_seq), Number.MAX_SAFE_INTEGER);
    const items = rows.length ? this.log.itemsAfter(min) : [];
    const counter = suffixCounter(items);
    this.#cache = new Map(
      rows.map((r) => [
        r.user_id,
        {
          userId: r.user_id,
          username: r.username,
          displayName: r.display_name ?? null,
          role: r.role,
          joinedAt: r.joined_at,
          readSeq: r.read_seq,
          readVersion: r.read_version,
          readHead: r.read_head,
          unread: counter(r.read_seq, r.user_id),
        },
      ]),
    );
    this.onLoad();
    return this.#cache;
  }

  /** Forget the cache (after a failed transaction); the next use rebuilds it. */
  invalidate(): void {
    this.#cache = undefined;
  }

  get(userId: string): MemberState | undefined {
    return this.#members().get(userId);
  }

  list(): MemberState[] {
    return [...this.#members().values()];
  }

  get size(): number {
    return this.#members().size;
  }

  /** The version of a member's current count (see the module comment). */
  version(m: MemberState): number {
    return Math.max(this.log.head() * VERSION_STEP, m.readVersion);
  }

  /** The newest version of any count in this room. */
  maxVersion(): number {
    let v = this.log.head() * VERSION_STEP;
    for (const m of this.#members().values()) v = Math.max(v, m.readVersion);
    return v;
  }

  receipt(m: MemberState): Receipt {
    return { userId: m.userId, username: m.username, upTo: m.readSeq };
  }

  /** Receipts that moved at or after head `since` (all with undefined). */
  receiptsSince(since: number | undefined): Receipt[] {
    return this.list()
      .filter((m) => since === undefined || m.readHead >= since)
      .map((m) => this.receipt(m));
  }

  // ------------------------------------------------------------ events

  /** A countable item by `authorId` was stored at `seq`: one more for every other member. Returns who changed. */
  itemAdded(item: Item): string[] {
    const changed: string[] = [];
    for (const m of this.#members().values()) {
      if (m.userId !== item.userId && m.readSeq < item.seq) {
        m.unread++;
        changed.push(m.userId);
      }
    }
    return changed;
  }

  /** A countable item was deleted: one fewer for those who had not read it. Returns who changed. */
  itemRemoved(item: Item): string[] {
    const changed: string[] = [];
    for (const m of this.#members().values()) {
      if (m.userId !== item.userId && m.readSeq < item.seq && m.unread > 0) {
        m.unread--;
        changed.push(m.userId);
      }
    }
    return changed;
  }

  /**
   * Move a member's cursor to `seq` (clamped to [0, head]). Forward only,
   * unless `back` (an explicit "mark unread"). Writes that member's row and
   * recounts them from the log. Returns whether it moved.
   */
  moveCursor(userId: string, seq: number, back: boolean): boolean {
    const m = this.get(userId);
    if (!m) return false;
    const head = this.log.head();
    const target = Math.max(0, Math.min(seq, head));
    if (target === m.readSeq || (!back && target < m.readSeq) || (back && target > m.readSeq)) return false;
    const version = Math.max(m.readVersion + 1, head * VERSION_STEP + 1);
    this.sql.exec("UPDATE members SET read_seq = ?, read_version = ?, read_head = ? WHERE user_id = ?", target, version, head, userId);
    m.readSeq = target;
    m.readVersion = version;
    m.readHead = head;
    m.unread = this.log.countAfter(target, userId);
    return true;
  }

  // ------------------------------------------------------------ membership

  /**
   * Make the member list equal `list` (D1 is the authority). New members
   * start with everything read; those who stay keep their cursors. `updated`:
   * members who stay and whose name, display name or role changed.
   */
  replace(list: MemberInput[]): { added: MemberState[]; removed: MemberState[]; updated: MemberState[] } {
    const cache = this.#members();
    const head = this.log.head();
    const wanted = new Map(list.map((m) => [m.userId, m]));
    const added: MemberState[] = [];
    const removed: MemberState[] = [];
    const updated: MemberState[] = [];
    for (const input of list) {
      const m = { ...input, displayName: input.displayName ?? null };
      const cur = cache.get(m.userId);
      if (!cur) {
        const state: MemberState = { ...m, readSeq: head, readVersion: head * VERSION_STEP, readHead: head, unread: 0 };
        this.sql.exec(
          "INSERT INTO members (user_id, username, display_name, role, joined_at, read_seq, read_version, read_head) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          m.userId,
          m.username,
          m.displayName,
          m.role,
          m.joinedAt,
          head,
          state.readVersion,
          head,
        );
        cache.set(m.userId, state);
        added.push(state);
      } else if (cur.username !== m.username || cur.displayName !== m.displayName || cur.role !== m.role || cur.joinedAt !== m.joinedAt) {
        // joinedAt alone is a repair of old rows (migration 2 had none), not news for anyone.
        const news = cur.username !== m.username || cur.displayName !== m.displayName || cur.role !== m.role;
        this.sql.exec(
          "UPDATE members SET username = ?, display_name = ?, role = ?, joined_at = ? WHERE user_id = ?",
          m.username,
          m.displayName,
          m.role,
          m.joinedAt,
          m.userId,
        );
        Object.assign(cur, { username: m.username, displayName: m.displayName, role: m.role, joinedAt: m.joinedAt });
        if (news) updated.push(cur);
      }
    }
    for (const m of cache.values()) {
      if (wanted.has(m.userId)) continue;
      this.sql.exec("DELETE FROM members WHERE user_id = ?", m.userId);
      cache.delete(m.userId);
      removed.push(m);
    }
    return { added, removed, updated };
  }
}

/** As a `Member` of the protocol. */
export const toMember = (m: MemberState): Member => ({ id: m.userId, username: m.username, displayName: m.displayName, role: m.role, joinedAt: m.joinedAt });

/**
 * unread(cursor, user) over a sorted item list in O(log n): all items after
 * the cursor minus the user's own items after it.
 */
function suffixCounter(items: Item[]): (cursor: number, userId: string) => number {
  const seqs = items.map((i) => i.seq);
  const byAuthor = new Map<string, number[]>();
  for (const i of items) {
    const list = byAuthor.get(i.userId);
    if (list) list.push(i.seq);
    else byAuthor.set(i.userId, [i.seq]);
  }
  const after = (sorted: number[], cursor: number) => sorted.length - upperBound(sorted, cursor);
  return (cursor, userId) => after(seqs, cursor) - after(byAuthor.get(userId) ?? [], cursor);
}

/** The index of the first element greater than `x`. */
function upperBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
