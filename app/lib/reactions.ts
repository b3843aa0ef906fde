/**
 * Reactions on the client (issue #15): applying `reaction_added` /
 * `reaction_removed` to a message's chips as set operations (a replay may
 * repeat what a message already carries), and the two HTTP calls. The
 * frequent emoji are the quick row of the picker.
 */
import { z } from "zod";
import { Reaction, type RoomEvent } from "#protocol";
import { request } from "./http.ts";

/** The quick row of the picker, most used first. */
export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"] as const;

type ReactionEvent = Extract<RoomEvent, { type: "reaction_added" | "reaction_removed" }>;

/** The chips after one reaction event (a new array; the input is not changed). */
export function applyReaction(list: readonly Reaction[] | undefined, e: Pick<ReactionEvent, "type" | "emoji" | "userId">): Reaction[] {
  const out = (list ?? []).map((r) => ({ ...r, userIds: [...r.userIds] }));
  const chip = out.find((r) => r.emoji === e.emoji);
  if (e.type === "reaction_added") {
    if (!chip) out.push({ emoji: e.emoji, count: 1, userIds: [e.userId] });
    else if (!chip.userIds.includes(e.userId)) {
      chip.userIds.push(e.userId);
      chip.count = chip.userIds.length;
    }
    return out;
  }
  if (!chip || !chip.userIds.includes(e.userId)) return out;
  chip.userIds = chip.userIds.filter((id) => id !== e.userId);
  chip.count = chip.userIds.length;
  return chip.count ? out : out.filter((r) => r !== chip);
}

const Reply = z.object({ reactions: z.array(Reaction) });
const enc = encodeURIComponent;

/** Add (`on`) or take back my reaction; answers the message's reactions as the server has them. */
export async function setReaction(roomId: string, messageId: string, emoji: string, on: boolean): Promise<Reaction[]> {
  const path = `/api/rooms/${enc(roomId)}/messages/${enc(messageId)}/reactions`;
  const reply = on ? await request("POST", path, Reply, { emoji }) : await request("DELETE", `${path}/${enc(emoji)}`, Reply);
  return reply.reactions;
}

/**
 * React (or take it back) as `me` in a room's list: shown at once, undone if the server refuses
 * (the refusal is thrown to the caller, which shows it on the message).
 */
export async function react(
  room: { readonly id: string; reactLocally(messageId: string, emoji: string, userId: string, on: boolean): void },
  messageId: string,
  emoji: string,
  me: string,
  on: boolean,
): Promise<void> {
  room.reactLocally(messageId, emoji, me, on);
  try {
    await setReaction(room.id, messageId, emoji, on);
  } catch (err) {
    room.reactLocally(messageId, emoji, me, !on);
    throw err;
  }
}

/** "Ann, Bob and 3 others reacted with 👍" — for the chip's tooltip and label. */
export function reactorsLabel(r: Reaction, nameOf: (userId: string) => string, me: string): string {
  const names = r.userIds.map((id) => (id === me ? "You" : nameOf(id)));
  const shown = names.length > 3 ? [...names.slice(0, 3), `${names.length - 3} other${names.length - 3 === 1 ? "" : "s"}`] : names;
  const list = shown.length > 1 ? `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}` : (shown[0] ?? "");
  return `${list} reacted with ${r.emoji}`;
}
