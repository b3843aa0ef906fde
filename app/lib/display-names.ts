/**
 * What a person is called in a room: their display name where they set one,
 * else their username; "deleted user" once their account is gone. One rule
 * for the message list, the files, the typing line and the receipts. Pure
 * (no runes), so it is tested in Node; the room keeps a {@link Names} of its
 * members (`RoomState.names`), which `member_updated` events change live.
 */
import { DELETED_USER_NAME, type Member } from "#protocol";

/** A member's name to show: the display name where it is set, else the username. */
export const memberName = (member: Pick<Member, "username" | "displayName">): string => member.displayName || member.username;

/**
 * The name to show for `userId` among `members`: their display name if they
 * set one, else their username; `fallbackUsername` (what a message or file
 * carries) for someone who is no longer a member. A message of a deleted
 * account carries "deleted user", so that is what it shows.
 */
export function displayNameOf(members: readonly Member[], userId: string, fallbackUsername: string): string {
  const member = members.find((m) => m.id === userId);
  return member ? memberName(member) : fallbackUsername;
}

/** Names looked up many times (every message of a list): built once per member list. */
export interface Names {
  /** The name to show for `userId`, `fallbackUsername` when they are not a member (see {@link displayNameOf}). */
  of(userId: string, fallbackUsername: string): string;
  /** The name to show for a member known by username (receipts carry usernames); the username itself otherwise. */
  ofUsername(username: string): string;
  /** The members themselves (who can be @mentioned; `@username` ↔ `<@id>`). */
  readonly members: readonly Member[];
}

/**
 * A {@link Names} over `members`. `deleted` are accounts deleted while the
 * room was open (`member_left` with `accountDeleted`): what was loaded
 * before still carries their old username, but they show as "deleted user",
 * as a fresh load would.
 */
export function nameIndex(members: readonly Member[], deleted: Iterable<string> = []): Names {
  const byId = new Map<string, string>();
  const byUsername = new Map<string, string>();
  for (const m of members) {
    byId.set(m.id, memberName(m));
    byUsername.set(m.username, memberName(m));
  }
  for (const id of deleted) if (!byId.has(id)) byId.set(id, DELETED_USER_NAME);
  return {
    of: (userId, fallbackUsername) => byId.get(userId) ?? fallbackUsername,
    ofUsername: (username) => byUsername.get(username) ?? username,
    members,
  };
}

/** Usernames as they are (outside a room). */
export const PLAIN_NAMES: Names = nameIndex([]);
