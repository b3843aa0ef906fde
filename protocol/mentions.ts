/**
 * Mentions (issue #15): a mention is written in a message's text as
 * `<@userId>` — the composer turns a chosen `@name` into it, and a client
 * renders it as a pill with that member's current name. The server counts
 * only members of the room (never the author), each once, at most
 * `LIMITS.mentionsPerMessage` per message (the first ones in the text).
 */
import { LIMITS } from "./common.ts";

/** One mention token; user ids are base64url (the server's `newId`). */
const MENTION = /<@([A-Za-z0-9_-]{1,64})>/g;

/** The token for a user id. */
export const mentionToken = (userId: string): string => `<@${userId}>`;

/** The user ids a text mentions, each once, in the order they first appear (uncapped, unfiltered). */
export function mentionedIds(text: string): string[] {
  const ids = new Set<string>();
  for (const m of text.matchAll(MENTION)) ids.add(m[1]!);
  return [...ids];
}

/**
 * Who a message by `authorId` counts as mentioned: members only, not the
 * author, each once, at most `LIMITS.mentionsPerMessage` (the first in the text).
 */
export function countedMentions(text: string, authorId: string, isMember: (userId: string) => boolean): string[] {
  const out: string[] = [];
  for (const id of mentionedIds(text)) {
    if (out.length >= LIMITS.mentionsPerMessage) break;
    if (id !== authorId && isMember(id)) out.push(id);
  }
  return out;
}
