/**
 * The rooms list's order and previews (docs/protocol.md "The rooms list"):
 * pure functions over `RoomSummary`, used by {@link Rooms} for the server's
 * `room_activity` frames and for the open room's own events (the author of a
 * message gets no `room_activity`: their own page moves the room up).
 */
import type { Message, RoomEvent, RoomPreview, RoomSummary, User } from "#protocol";

/** The preview's text limit (the protocol's `RoomPreview.text`). */
export const PREVIEW_MAX = 160;

/** When a room last had activity: its latest message or file, else its creation. */
export const activityAt = (room: RoomSummary): number => room.lastActivityAt ?? room.createdAt;

/** Newest activity first, then newest created, then by id (ties never reshuffle). */
export function byActivity(a: RoomSummary, b: RoomSummary): number {
  return activityAt(b) - activityAt(a) || b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The other person of a DM (the server sends it as `peer` and as `dmWith`). */
export const peerOf = (room: Pick<RoomSummary, "peer" | "dmWith">): User | undefined => room.peer ?? room.dmWith;

/** How a room is called in lists and headings: a DM by the other person, a room by its name. */
export function titleOf(room: RoomSummary): string {
  const peer = room.kind === "dm" ? peerOf(room) : undefined;
  return peer ? peer.displayName || peer.username : room.name;
}

/** The start of a text, at most {@link PREVIEW_MAX} UTF-16 units, never ending in half a surrogate pair. */
export function previewText(text: string): string {
  if (text.length <= PREVIEW_MAX) return text;
  const cut = text.slice(0, PREVIEW_MAX);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** A message as the rooms list previews it (null once deleted). */
export function previewOf(message: Message, displayName?: string | null): RoomPreview | null {
  if (message.text === null || message.deletedAt !== null) return null;
  return {
    userId: message.userId,
    username: message.username,
    displayName: displayName ?? null,
    text: previewText(message.text),
    ts: message.createdAt,
  };
}

/** Whether a preview shows this message (previews carry no message id: author and time identify it). */
const shows = (preview: RoomPreview | null | undefined, message: Pick<Message, "userId" | "createdAt">): preview is RoomPreview =>
  !!preview && preview.userId === message.userId && preview.ts === message.createdAt;

/**
 * A `room_activity` frame applied to a list entry. Frames and the open room's
 * events may arrive in either order, so time only moves forward and an older
 * preview never replaces a newer one.
 */
export function withActivity(room: RoomSummary, lastActivityAt: number, preview: RoomPreview | null): RoomSummary {
  const at = Math.max(activityAt(room), lastActivityAt);
  const current = room.preview ?? null;
  // A null preview (the latest message deleted, or none) is news only if the frame is at least as new as what we know.
  const take = preview ? !current || preview.ts >= current.ts : lastActivityAt >= activityAt(room);
  return { ...room, lastActivityAt: at, preview: take ? preview : current };
}

/** Looks a loaded message up by id (the open room's, after it applied the event). */
export type MessageLookup = (messageId: string) => Message | undefined;

/**
 * What one of the open room's events does to its list entry: a message moves
 * it up and becomes its preview, a file moves it up, an edit or a deletion of
 * the previewed message changes the preview. Null when nothing changes.
 */
export function withEvent(
  room: RoomSummary,
  event: RoomEvent,
  displayNameOf: (userId: string) => string | null | undefined,
  messageById: MessageLookup,
): RoomSummary | null {
  switch (event.type) {
    case "message":
      return withActivity(room, event.message.createdAt, previewOf(event.message, displayNameOf(event.message.userId)));
    case "file_uploaded":
      return { ...room, lastActivityAt: Math.max(activityAt(room), event.file.uploaded_at) };
    case "message_edited": {
      if (!shows(room.preview, event.message)) return null;
      const next = previewOf(event.message, room.preview.displayName);
      return { ...room, preview: next };
    }
    case "message_deleted": {
      const message = messageById(event.messageId);
      return message && shows(room.preview, message) ? { ...room, preview: null } : null;
    }
    default:
      return null;
  }
}
