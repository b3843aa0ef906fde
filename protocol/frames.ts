/**
 * Frames: room events (the log), the badge socket's frames, and the room
 * socket's client and server frames, close codes and timing.
 */
import { z } from "zod";
import { ClientId, FileInfo, Member, Message, MessageId, MessageText, Receipt, RoomPreview, RoomSummary, User } from "./model.ts";

// ------------------------------------------------------------------ badges

/** Totals and per-room counts (rooms at 0 omitted, except in a badge frame's changed rooms). */
export const Counts = z.object({ total: z.number().int().min(0), rooms: z.record(z.string(), z.number().int().min(0)) });
export type Counts = z.infer<typeof Counts>;

/** The badge: total unread and per-room counts, and beside them the messages that mention me (`GET /api/me/unread`). */
export const UnreadCounts = Counts.extend({ mentions: Counts.optional() });
export type UnreadCounts = z.infer<typeof UnreadCounts>;

/** What changed a count (the original app's `trigger` values, plus Parley's). */
export const CountTrigger = z.enum([
  "new_message",
  "message_read",
  "file_upload",
  "message_deleted",
  "file_deleted",
  "membership",
  "connect",
  "recount",
  /** An edit added or removed a mention (only `mentions` moved, and for a thread reply the unread count of those it mentions). */
  "message_edited",
]);
export type CountTrigger = z.infer<typeof CountTrigger>;

/**
 * The badge frame on `/api/me/ws`: the new numbers themselves, never a "go
 * re-fetch". `rooms` holds only the rooms whose count changed, except when
 * `full` is true (sent on connect): then it is every room with unread items
 * and any room not listed is 0.
 */
export const NotificationCountUpdate = z.object({
  type: z.literal("notification_count_update"),
  total: z.number().int().min(0),
  rooms: z.record(z.string(), z.number().int().min(0)),
  trigger: CountTrigger,
  full: z.boolean().optional(),
  /** The mention counts, the same way: `rooms` lists the same rooms as the unread `rooms` (all with mentions when `full`). */
  mentions: Counts.optional(),
});
export type NotificationCountUpdate = z.infer<typeof NotificationCountUpdate>;

/** `room_added` on the badge socket: I became a member of a room (it carries the list entry). */
export const RoomAdded = z.object({ type: z.literal("room_added"), room: RoomSummary });
/** `room_removed`: I am no longer a member (removed, or I left); drop it from my list and badge. */
export const RoomRemoved = z.object({ type: z.literal("room_removed"), roomId: z.string() });
/** `room_updated`: a room of mine changed (renamed; for a DM: the other person changed their display name, then `dmWith` is set). */
export const RoomUpdated = z.object({ type: z.literal("room_updated"), room: z.object({ id: z.string(), name: z.string(), dmWith: User.optional() }) });

/** Frames on the badge socket `/api/me/ws` (it accepts only pings from clients). */
/**
 * `room_activity`: a new message or file in a room of mine, for the rooms
 * list's order and preview. Sent with the count push to the members it goes
 * to (never the author, whose own page knows); also when the newest
 * message's edit or deletion changes the preview.
 */
export const RoomActivity = z.object({
  type: z.literal("room_activity"),
  roomId: z.string(),
  lastActivityAt: z.number(),
  preview: RoomPreview.nullable(),
});
export type RoomActivity = z.infer<typeof RoomActivity>;

/** `room_muted`: I muted or unmuted a room (in this tab or another). */
export const RoomMuted = z.object({ type: z.literal("room_muted"), roomId: z.string(), muted: z.boolean() });
export type RoomMuted = z.infer<typeof RoomMuted>;

export const HubFrame = z.discriminatedUnion("type", [
  NotificationCountUpdate,
  RoomAdded,
  RoomRemoved,
  RoomUpdated,
  RoomActivity,
  RoomMuted,
  z.object({ type: z.literal("pong") }),
]);
export type HubFrame = z.infer<typeof HubFrame>;

// ------------------------------------------------------------ room events


/** The fields of `file_comment_added` / `file_comment_removed`: the file, the comment, and the file's counts now. */
const fileComments = {
  seq: z.number().int(),
  ts: z.number(),
  fileId: z.string(),
  messageId: z.string(),
  commentCount: z.number().int().min(0),
  lastCommentAt: z.number().nullable(),
};

/** Events in a room's log. Each has the room's next `seq` and a server timestamp. */
export const RoomEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("message"), seq: z.number().int(), ts: z.number(), message: Message }),
  z.object({ type: z.literal("message_edited"), seq: z.number().int(), ts: z.number(), message: Message }),
  z.object({ type: z.literal("message_deleted"), seq: z.number().int(), ts: z.number(), messageId: z.string(), userId: z.string() }),
  z.object({ type: z.literal("file_uploaded"), seq: z.number().int(), ts: z.number(), file: FileInfo }),
  /** A new version of a file (same `file_id`, `file.version` its number): it replaces the file in lists; counts as unread like an upload. */
  z.object({ type: z.literal("file_version_added"), seq: z.number().int(), ts: z.number(), file: FileInfo }),
  z.object({ type: z.literal("file_deleted"), seq: z.number().int(), ts: z.number(), file_id: z.string(), uploader_id: z.string() }),
  /** Someone became a member (added by the owner, or created the room). */
  z.object({ type: z.literal("member_joined"), seq: z.number().int(), ts: z.number(), member: Member }),
  /** Someone stopped being a member (removed by the owner, or left; `accountDeleted` when their account was deleted). */
  z.object({
    type: z.literal("member_left"),
    seq: z.number().int(),
    ts: z.number(),
    userId: z.string(),
    username: z.string(),
    accountDeleted: z.boolean().optional(),
  }),
  /** A member's display name (or username, or role) changed: replace them in the members list. */
  z.object({ type: z.literal("member_updated"), seq: z.number().int(), ts: z.number(), member: Member }),
  /** The room has a new name. */
  z.object({ type: z.literal("room_renamed"), seq: z.number().int(), ts: z.number(), name: z.string() }),
  /** `userId` reacted to a message with `emoji` (once per user, emoji and message). */
  z.object({ type: z.literal("reaction_added"), seq: z.number().int(), ts: z.number(), messageId: z.string(), emoji: z.string(), userId: z.string() }),
  /** `userId` took that reaction back. */
  z.object({ type: z.literal("reaction_removed"), seq: z.number().int(), ts: z.number(), messageId: z.string(), emoji: z.string(), userId: z.string() }),
  /**
   * A thread's counts changed (a reply was sent or deleted): set the parent's `replyCount` and
   * `lastReplyAt` to these (absolute values, so applying it twice or after a replay is harmless).
   */
  z.object({
    type: z.literal("thread_updated"),
    seq: z.number().int(),
    ts: z.number(),
    messageId: z.string(),
    replyCount: z.number().int().min(0),
    lastReplyAt: z.number().nullable(),
  }),
  /**
   * A comment on a file was stored: its `message` event carries the comment (a thread reply whose
   * `threadOf` is the file's id); this one carries the file's new live count (absolute, like `thread_updated`).
   */
  z.object({ ...fileComments, type: z.literal("file_comment_added") }),
  /** A comment on a file was deleted: the file's new live count. */
  z.object({ ...fileComments, type: z.literal("file_comment_removed") }),
]);
export type RoomEvent = z.infer<typeof RoomEvent>;
export type RoomEventType = RoomEvent["type"];

/** The `type`s of stored events, whatever the protocol adds later. */
const STORED_EVENT_TYPES: ReadonlySet<string> = new Set(RoomEvent.options.map((o) => o.shape.type.value));

/**
 * Whether a frame from the room socket is a stored event (it has the room's
 * `seq` and a `ts`, and is applied in `seq` order) rather than an ephemeral
 * frame. Read receipts (`message_read`, `receipts`) are not stored events:
 * they carry no `seq`, so they never move a client's `seq` or look like a gap.
 */
export const isStoredEvent = (frame: { type: string }): frame is RoomEvent => STORED_EVENT_TYPES.has(frame.type);

/** `GET /api/rooms/:id/events?after=` */
export const EventsPage = z.object({ events: z.array(RoomEvent), seq: z.number().int() });
export type EventsPage = z.infer<typeof EventsPage>;

/**
 * `GET /api/rooms/:id/messages?before=&limit=`: top-level messages, oldest first; `hasMore` when older
 * ones exist. With `thread=`: that thread's replies after `after`, oldest first, `hasMore` when newer
 * ones exist, and `parent` (the thread's message as it is now).
 */
export const HistoryPage = z.object({ messages: z.array(Message), hasMore: z.boolean(), parent: Message.optional() });
export type HistoryPage = z.infer<typeof HistoryPage>;

/** The answer to a send (HTTP or socket): the stored message and whether it was a retry. */
export const SendResult = z.object({ message: Message, seq: z.number().int(), duplicate: z.boolean() });
export type SendResult = z.infer<typeof SendResult>;

// ------------------------------------------------------------ room socket

/** Frames a client sends on `/api/rooms/:id/ws`. `ref` is echoed in the answer. */
export const ClientFrame = z.discriminatedUnion("type", [
  /** `threadOf`: a reply in that message's thread. */
  z.object({ type: z.literal("send"), clientId: ClientId, text: MessageText, threadOf: MessageId.optional() }),
  z.object({ type: z.literal("edit"), ref: z.string().max(64).optional(), messageId: z.string().max(64), text: MessageText }),
  z.object({ type: z.literal("delete"), ref: z.string().max(64).optional(), messageId: z.string().max(64) }),
  z.object({ type: z.literal("typing"), typing: z.boolean() }),
  /** Mark read up to `seq` (forward only). */
  z.object({ type: z.literal("read"), seq: z.number().int().min(0) }),
  /** Mark unread from `seq` on: the cursor moves back to `seq - 1`. */
  z.object({ type: z.literal("mark_unread"), seq: z.number().int().min(1) }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

/** The literal ping a client sends; the runtime answers `PONG_FRAME` without waking the room. */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

export const SOCKET_ERROR_CODES = [
  "invalid_frame",
  "frame_too_large",
  "rate_limited",
  "not_found",
  "forbidden",
  "internal",
] as const;
export type SocketErrorCode = (typeof SOCKET_ERROR_CODES)[number];

/** What a `typing` frame says someone is busy with: typing, or uploading a file. */
export const Activity = z.enum(["typing", "uploading"]);
export type Activity = z.infer<typeof Activity>;

/** Frames the room sends. Events (with `seq`) come in order; the rest are ephemeral. */
export const ServerFrame = z.union([
  RoomEvent,
  z.discriminatedUnion("type", [
    /** First frame on every connection: the head and who you are. Replay (if any) follows. */
    z.object({ type: z.literal("hello"), seq: z.number().int(), userId: z.string(), connectionId: z.string() }),
    /** Replay is done; everything after this is live. */
    z.object({ type: z.literal("live"), seq: z.number().int() }),
    /** `after` was older than the room keeps or ahead of head: reload the snapshot. The socket stays open. */
    z.object({ type: z.literal("resync_required"), seq: z.number().int() }),
    /** Your send was stored (or had been: `duplicate`). */
    z.object({ type: z.literal("ack"), clientId: z.string(), messageId: z.string(), seq: z.number().int(), duplicate: z.boolean() }),
    /** An edit or delete you asked for (by `ref`) was applied. */
    z.object({ type: z.literal("done"), ref: z.string(), seq: z.number().int() }),
    z.object({
      type: z.literal("error"),
      code: z.enum(SOCKET_ERROR_CODES),
      message: z.string(),
      clientId: z.string().optional(),
      ref: z.string().optional(),
      retryAfter: z.number().optional(),
    }),
    z.object({
      type: z.literal("typing"),
      userId: z.string(),
      username: z.string(),
      typing: z.boolean(),
      /** "typing" (default) or "uploading" (a file upload is in flight). */
      activity: Activity.optional(),
    }),
    /** Who has the room open: the full list, sent to a socket when it connects. */
    z.object({ type: z.literal("presence"), users: z.array(z.object({ userId: z.string(), username: z.string() })) }),
    /** Changes since: users who opened the room (their first socket) or left it (their last), batched. */
    z.object({
      type: z.literal("presence_changed"),
      online: z.array(z.object({ userId: z.string(), username: z.string() })),
      offline: z.array(z.string()),
    }),
    /**
     * A read receipt: `receipt.userId` has read up to `receipt.upTo`. Receipts are not stored
     * events (they would crowd real messages out of the replay window): they carry no `seq`, and
     * a (re)connecting socket gets the receipts that moved since its `after` in one `receipts` frame.
     */
    z.object({ type: z.literal("message_read"), ts: z.number(), receipt: Receipt }),
    /** Receipts that moved at or after the socket's `after` (all of them when it gave none); sent before `live`. */
    z.object({ type: z.literal("receipts"), receipts: z.array(Receipt) }),
    z.object({ type: z.literal("pong") }),
  ]),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/** WebSocket close codes Parley uses. */
export const CLOSE = {
  /** Removed from the room, or the session ended: do not reconnect. */
  policy: 1008,
  /** A frame over the protocol's size limit. */
  tooBig: 1009,
  /** The room is restarting: reconnect. */
  restart: 1012,
  /** Too many sockets for this user: back off. */
  tooManyConnections: 4029,
  /** No ping for too long (half-open). */
  idle: 4000,
} as const;

/** Heartbeat: clients ping this often, and the room drops a socket silent for `idleMs`. */
export const HEARTBEAT = { pingMs: 15_000, pongTimeoutMs: 10_000, idleMs: 35_000 } as const;
/** At most this many sockets per user per room. */
export const MAX_SOCKETS_PER_USER = 20;
/** How many events a room keeps for replay; older `after` values get `resync_required`. */
export const REPLAY_WINDOW = 1000;
/** Typing indicators expire this long after the last "typing" frame. */
export const TYPING_TTL_MS = 6000;
