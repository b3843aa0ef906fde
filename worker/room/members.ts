/**
 * Members and read cursors — the only per-member state, and written only
 * when that member reads, joins or leaves (never by someone else's message).
 *
 * unread(member) = countable items (messages and uploads) with seq > the
 * member's cursor, not theirs, not deleted (a thread reply: only for its
 * audience); mentions(member) = live messages after the cursor that mention
 * them (room/counts.ts). Both are derived: on first use after a wake, one
 * pass over the members and the items after the lowest cursor builds every
 * count; from then on the counts live in memory and each event adjusts them
 * (a message: +1 for every other member it counts for; a deletion: −1 for
 * those who had not read it; an edit that changes the mentions: ± for those
 * whose numbers it changes); a cursor move recounts that member from the
 * log, reading only what lies after the new cursor. The adjusted numbers
 * always equal a fresh derivation (test/worker/counts.fuzz.test.ts).
 *
 * Versions order a member's count changes for the hubs (newest wins there):
 * version = max(head × VERSION_STEP, read_version), where a cursor move sets
 * read_version = max(read_version + 1, head × VERSION_STEP + 1). Events raise the
 * head; cursor moves between events raise read_version: both only grow.
 */
import type { Sql } from "../lib/meter";
import type { Member, Receipt, Role } from "#protocol";
import { counter, type Item, mentionsAfter } from "./counts";
import type { EventLog } from "./log";

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
  /** Of those, the messages that mention this member. */
  mentions: number;
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
    const countOf = counter(items);
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
          ...countOf(r.read_seq, r.user_id),
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

  /** A countable item was stored: one more for every other member it counts for (and mentions). Returns who changed. */
  itemAdded(item: Item): string[] {
    return this.itemChanged(undefined, item);
  }

  /** A countable item was deleted: one fewer for those who had not read it. Returns who changed. */
  itemRemoved(item: Item): string[] {
    return this.itemChanged(item, undefined);
  }

  /**
   * The item at one seq counted as `before` and now as `after` (undefined:
   * not at all): adjust the members who have not read it. An edit that
   * changes a message's mentions is both. Returns who changed.
   */
  itemChanged(before: Item | undefined, after: Item | undefined): string[] {
    const item = after ?? before;
    if (!item) return [];
    const changed: string[] = [];
    const members = this.#members();
    // A top-level item counts for every member but its author; a reply for its audience only.
    const counts = (i: Item | undefined, id: string) => (i && (!i.audience || i.audience.has(id)) ? 1 : 0);
    const mentions = (i: Item | undefined, id: string) => (i?.mentioned?.includes(id) ? 1 : 0);
    const visit = (m: MemberState) => {
      if (m.userId === item.userId || m.readSeq >= item.seq) return;
      const du = counts(after, m.userId) - counts(before, m.userId);
      const dm = mentions(after, m.userId) - mentions(before, m.userId);
      const unread = Math.max(0, m.unread + du);
      const mentioned = Math.max(0, m.mentions + dm);
      if (unread === m.unread && mentioned === m.mentions) return;
      m.unread = unread;
      m.mentions = mentioned;
      changed.push(m.userId);
    };
    // Everyone when a top-level item comes or goes; else (a reply, or an edit) only those its audiences or mentions name.
    const wide = (!before || !after) && !item.audience;
    if (wide) for (const m of members.values()) visit(m);
    else {
      const names = new Set([...(before?.audience ?? []), ...(after?.audience ?? []), ...(before?.mentioned ?? []), ...(after?.mentioned ?? [])]);
      for (const id of names) {
        const m = members.get(id);
        if (m) visit(m);
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
    m.mentions = mentionsAfter(this.sql, target, userId);
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
        const state: MemberState = { ...m, readSeq: head, readVersion: head * VERSION_STEP, readHead: head, unread: 0, mentions: 0 };
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
