/**
 * Users are spread over HUB_SHARDS UserHub objects: user u lives in shard
 * `fnv1a(u) mod HUB_SHARDS`. A room makes one call per shard, never one per
 * member (docs/architecture: badges). This module also holds what a room
 * sends a hub, so both sides share one contract.
 */
import type { CountTrigger, RoomPreview, RoomSummary, User } from "#protocol";

/** 32-bit FNV-1a: small, stable across runtimes, good enough spread for ids. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function hubShards(env: Pick<Env, "HUB_SHARDS">): number {
  const n = Number(env.HUB_SHARDS);
  return Number.isInteger(n) && n > 0 ? n : 16;
}

/** The name of the UserHub shard that holds a user. */
export function hubShardName(userId: string, shards: number): string {
  return `shard-${fnv1a(userId) % shards}`;
}

/** The UserHub stub for a user. */
export function hubFor(env: Env, userId: string) {
  return env.USER_HUB.getByName(hubShardName(userId, hubShards(env)));
}

/** One member's count in one room and, of those, the messages that mention them, with its version (newer wins at the hub). */
export interface CountEntry {
  userId: string;
  n: number;
  /** Absent (a batch from a room older than mentions): 0. */
  mentions?: number;
  version: number;
}

/** A change to a user's rooms list, kept durably by the room until its hub has it. */
export type Notice =
  | { kind: "room_added"; userId: string; room: RoomSummary; version: number }
  | { kind: "room_removed"; userId: string; roomId: string; version: number }
  | { kind: "room_updated"; userIds: string[]; room: { id: string; name: string; dmWith?: User } };

/** A room's latest activity (the rooms list's order and preview). */
export interface Activity {
  lastActivityAt: number;
  preview: RoomPreview | null;
}

/** What a room sends one hub shard in one call. */
export interface HubBatch {
  roomId: string;
  counts: CountEntry[];
  notices: Notice[];
  trigger: CountTrigger;
  /** A new message or file: the room's latest activity, for these users' tabs (`room_activity`; never the author). No hub row. */
  activity?: Activity & { userIds: string[] };
}

/** A hub's answer: who of the batch has no tab open there (the room stops pushing to them). */
export interface HubReply {
  offline: string[];
}

/** A room's count for one user, for a hub building that user's badge or the rooms list, with the room's latest activity (null: not a member). */
export type CountFor = ({ n: number; mentions: number; version: number } & Activity) | null;
