/**
 * Applying D1's view of a room (the one authority for membership) to the
 * room: its member list (with names and display names), name, owner and
 * kind, as events (`member_joined`, `member_left`, `member_updated`,
 * `room_renamed`) and as rooms-list notices for the affected users' hubs
 * (`room_added`, `room_removed`, `room_updated`). A member who left because
 * their account was deleted is anonymised in the log (room/forget.ts).
 *
 * It never goes backwards: D1 bumps `rooms.version` with every change, and a
 * read older than the version already applied is ignored.
 */
import { DELETED_USER_NAME, type RoomEvent, type RoomKind, type RoomSummary, type User } from "#protocol";
import type { Activities } from "./activity";
import type { Latest } from "./latest";
import type { EventLog } from "./log";
import { type MemberInput, type Members, type MemberState, toMember, VERSION_STEP } from "./members";
import type { RoomMeta } from "./meta";
import type { Pushes } from "./pushes";

/** The room's row in D1. */
export interface D1Room {
  id: string;
  name: string;
  owner_id: string;
  created_at: number;
  version: number;
  kind: RoomKind;
}

/** D1's view of a room: its row (undefined when there is no such room), its members, and who of the room's former members deleted their account. */
export interface D1View {
  room: D1Room | undefined;
  list: MemberInput[];
  deleted: Set<string>;
}

export interface MembershipDeps {
  meta: RoomMeta;
  members: Members;
  log: EventLog;
  activity: Activities;
  pushes: Pushes;
  latest: Latest;
  shardOf(userId: string): string;
  /** Rewrite a deleted account's name in the log (inside the transaction). */
  anonymise(userId: string): void;
}

const deletedUser = (id: string): User => ({ id, username: DELETED_USER_NAME, displayName: null });

/**
 * Apply D1's view; call inside the room's write transaction. Returns the
 * events to broadcast and who was removed, or null when there was nothing
 * to apply (an older read, or a room that does not exist: no trace left).
 */
export function applyMembership(
  d: MembershipDeps,
  roomId: string,
  { room, list, deleted }: D1View,
  now: number,
): { events: RoomEvent[]; removed: MemberState[]; deleted: Set<string>; version: number } | null {
  if (!room && d.meta.get("room_id") === undefined) return null;
  const version = room?.version ?? Number.MAX_SAFE_INTEGER; // a room gone from D1 has no members left
  if (version < Number(d.meta.get("synced_version") ?? 0)) return null;
  const events: RoomEvent[] = [];
  d.meta.set("room_id", roomId);
  const oldName = d.meta.get("name");
  if (room) {
    d.meta.set("name", room.name);
    d.meta.set("owner_id", room.owner_id);
    d.meta.set("created_at", room.created_at);
    d.meta.set("kind", room.kind ?? "room");
  }
  d.meta.set("synced_version", version);
  const { added, removed, updated } = d.members.replace(room ? list : []);
  for (const m of removed) {
    d.activity.clear(m.userId);
    if (deleted.has(m.userId)) {
      d.anonymise(m.userId);
      d.latest.author(m.userId, DELETED_USER_NAME, null);
      events.push(d.log.append({ type: "member_left", userId: m.userId, username: DELETED_USER_NAME, accountDeleted: true }, now));
    } else events.push(d.log.append({ type: "member_left", userId: m.userId, username: m.username }, now));
  }
  for (const m of added) events.push(d.log.append({ type: "member_joined", member: toMember(m) }, now));
  for (const m of updated) {
    d.latest.author(m.userId, m.username, m.displayName);
    events.push(d.log.append({ type: "member_updated", member: toMember(m) }, now));
  }
  const renamed = room !== undefined && oldName !== undefined && oldName !== room.name && d.meta.get("kind") !== "dm";
  if (renamed) events.push(d.log.append({ type: "room_renamed", name: room.name }, now));

  // Rooms lists: notices to the hubs of those affected, durable until delivered.
  const v = d.log.head() * VERSION_STEP;
  for (const m of added) {
    d.pushes.notice(d.shardOf(m.userId), { kind: "room_added", userId: m.userId, room: summary(d, m), version: v });
    d.pushes.watch(m.userId); // until their hub says no tab of theirs is open
  }
  for (const m of removed) d.pushes.notice(d.shardOf(m.userId), { kind: "room_removed", userId: m.userId, roomId, version: v });
  if (renamed) {
    const byShard = new Map<string, string[]>();
    for (const m of d.members.list()) {
      const s = d.shardOf(m.userId);
      byShard.set(s, [...(byShard.get(s) ?? []), m.userId]);
    }
    for (const [s, userIds] of byShard) d.pushes.notice(s, { kind: "room_updated", userIds, room: { id: roomId, name: room.name } });
  }
  // A DM is named after the other person: when they change their name (or delete their account), the other's list follows.
  if (d.meta.get("kind") === "dm") {
    const peers = [...updated.map(peerOf), ...removed.filter((m) => deleted.has(m.userId)).map((m) => deletedUser(m.userId))];
    for (const user of peers) {
      for (const o of d.members.list()) {
        if (o.userId !== user.id) d.pushes.notice(d.shardOf(o.userId), { kind: "room_updated", userIds: [o.userId], room: { id: roomId, name: nameOf(user), dmWith: user } });
      }
    }
  }
  return { events, removed, deleted, version };
}

const peerOf = (m: MemberState): User => ({ id: m.userId, username: m.username, displayName: m.displayName });
const nameOf = (u: User) => u.displayName ?? u.username;

/** The rooms-list entry of this room for one member (a DM is named after the other person). */
export function summary(d: Pick<MembershipDeps, "meta" | "members" | "latest">, m: MemberState): RoomSummary {
  const kind = (d.meta.get("kind") ?? "room") as RoomKind;
  const base: RoomSummary = {
    id: d.meta.get("room_id")!,
    name: d.meta.get("name") ?? "",
    ownerId: d.meta.get("owner_id") ?? "",
    createdAt: Number(d.meta.get("created_at") ?? 0),
    role: m.role,
    memberCount: d.members.size,
    unread: m.unread,
    mentions: m.mentions,
    muted: false, // a membership starts unmuted (D1's memberships.muted)
    kind,
    ...d.latest.get(),
  };
  if (kind !== "dm") return base;
  const other = d.members.list().find((o) => o.userId !== m.userId);
  const peer = other ? peerOf(other) : null;
  return peer ? { ...base, name: nameOf(peer), dmWith: peer, peer } : { ...base, name: DELETED_USER_NAME };
}

/**
 * D1's view of a room: its row, its members, and which of `known` (the
 * members the room has now) are gone because their account was deleted —
 * asked only when someone it knows is missing from D1's list.
 */
export async function readMembership(db: D1Database, roomId: string, known: string[] = []): Promise<D1View> {
  const [room, members] = await db.batch<Record<string, unknown>>([
    db.prepare("SELECT id, name, owner_id, created_at, version, kind FROM rooms WHERE id = ?").bind(roomId),
    db.prepare(
      `SELECT m.user_id AS userId, u.username AS username, u.display_name AS displayName, m.role AS role, m.joined_at AS joinedAt
       FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?`,
    ).bind(roomId),
  ]);
  const list = (members!.results as unknown as MemberInput[]) ?? [];
  const inD1 = new Set(list.map((m) => m.userId));
  const gone = known.filter((id) => !inD1.has(id));
  const deleted = new Set<string>();
  if (gone.length) {
    const { results } = await db
      .prepare("SELECT id FROM users WHERE deleted_at IS NOT NULL AND id IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(gone))
      .all<{ id: string }>();
    for (const r of results) deleted.add(r.id);
  }
  return { room: room!.results[0] as D1Room | undefined, list, deleted };
}

/** D1's current membership version of a room (the alarm's cheap check), or undefined when it is gone. */
export async function membershipVersion(db: D1Database, roomId: string): Promise<number | undefined> {
  return (await db.prepare("SELECT version FROM rooms WHERE id = ?").bind(roomId).first<{ version: number }>())?.version;
}

/** Record in D1 that the room applied `version`, so the repair cron passes it by (never backwards). */
export function recordSynced(db: D1Database, roomId: string, version: number): Promise<unknown> {
  return db.prepare("UPDATE rooms SET synced_version = ? WHERE id = ? AND synced_version < ?").bind(version, roomId, version).run();
}
