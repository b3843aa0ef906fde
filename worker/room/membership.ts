/**
 * Applying D1's view of a room (the one authority for membership) to the
 * room: its member list, name and owner, as events (`member_joined`,
 * `member_left`, `room_renamed`) and as rooms-list notices for the affected
 * users' hubs (`room_added`, `room_removed`, `room_updated`).
 *
 * It never goes backwards: D1 bumps `rooms.version` with every change, and a
 * read older than the version already applied is ignored.
 */
import type { RoomEvent, RoomSummary } from "#protocol";
import type { Activities } from "./activity";
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
}

export interface MembershipDeps {
  meta: RoomMeta;
  members: Members;
  log: EventLog;
  activity: Activities;
  pushes: Pushes;
  shardOf(userId: string): string;
}

/**
 * Apply D1's view; call inside the room's write transaction. Returns the
 * events to broadcast and who was removed, or null when there was nothing
 * to apply (an older read, or a room that does not exist: no trace left).
 */
export function applyMembership(
  d: MembershipDeps,
  roomId: string,
  room: D1Room | undefined,
  list: MemberInput[],
  now: number,
): { events: RoomEvent[]; removed: MemberState[]; version: number } | null {
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
  }
  d.meta.set("synced_version", version);
  const { added, removed } = d.members.replace(room ? list : []);
  for (const m of removed) {
    d.activity.clear(m.userId);
    events.push(d.log.append({ type: "member_left", userId: m.userId, username: m.username }, now));
  }
  for (const m of added) events.push(d.log.append({ type: "member_joined", member: toMember(m) }, now));
  const renamed = room !== undefined && oldName !== undefined && oldName !== room.name;
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
  return { events, removed, version };
}

/** The rooms-list entry of this room for one member. */
export function summary(d: Pick<MembershipDeps, "meta" | "members">, m: MemberState): RoomSummary {
  return {
    id: d.meta.get("room_id")!,
    name: d.meta.get("name") ?? "",
    ownerId: d.meta.get("owner_id") ?? "",
    createdAt: Number(d.meta.get("created_at") ?? 0),
    role: m.role,
    memberCount: d.members.size,
    unread: m.unread,
  };
}

/** D1's view of a room: its row (undefined when there is no such room) and its members. */
export async function readMembership(db: D1Database, roomId: string): Promise<{ room: D1Room | undefined; list: MemberInput[] }> {
  const [room, members] = await db.batch<Record<string, unknown>>([
    db.prepare("SELECT id, name, owner_id, created_at, version FROM rooms WHERE id = ?").bind(roomId),
    db.prepare(
      `SELECT m.user_id AS userId, u.username AS username, m.role AS role, m.joined_at AS joinedAt
       FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?`,
    ).bind(roomId),
  ]);
  return { room: room!.results[0] as D1Room | undefined, list: (members!.results as unknown as MemberInput[]) ?? [] };
}

/** D1's current membership version of a room (the alarm's cheap check), or undefined when it is gone. */
export async function membershipVersion(db: D1Database, roomId: string): Promise<number | undefined> {
  return (await db.prepare("SELECT version FROM rooms WHERE id = ?").bind(roomId).first<{ version: number }>())?.version;
}

/** Record in D1 that the room applied `version`, so the repair cron passes it by (never backwards). */
export function recordSynced(db: D1Database, roomId: string, version: number): Promise<unknown> {
  return db.prepare("UPDATE rooms SET synced_version = ? WHERE id = ? AND synced_version < ?").bind(version, roomId, version).run();
}
