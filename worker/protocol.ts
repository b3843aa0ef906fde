/**
 * Parley's wire protocol: every HTTP payload and WebSocket frame as a schema.
 *
 * Imported by the Worker, the Durable Objects, the SPA and the tests. It must
 * not import anything from `cloudflare:*` so the browser bundle can use it.
 * Documented for client authors in docs/protocol.md.
 */
import { z } from "zod";

// Parse without `new Function`: the SPA's CSP forbids eval, and zod would probe
// for it when the first object schema below is built. (Workers skip that path anyway.)
z.config({ jitless: true });

/** Limits shared by server and client. */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 256,
  roomNameMax: 80,
  messageMax: 4000,
  descriptionMax: 500,
  /** Largest WebSocket frame the app accepts, in bytes. */
  frameMaxBytes: 64 * 1024,
  /** Largest JSON request body, in bytes. */
  jsonBodyMaxBytes: 64 * 1024,
} as const;

/** Error codes carried in `{ error: { code, message } }`. */
export const ERROR_CODES = [
  "bad_request",
  "invalid_json",
  "unsupported_media_type",
  "payload_too_large",
  "unauthorized",
  "forbidden",
  "bad_origin",
  "not_found",
  "conflict",
  "username_taken",
  "invalid_credentials",
  "rate_limited",
  "resync_required",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    retryAfter: z.number().optional(),
    /** With `resync_required`: the head to reload at. */
    seq: z.number().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** NFKC-normalise user-entered text so equal-looking input compares equal. */
export const normalize = (s: string): string => s.normalize("NFKC");

// ---------------------------------------------------------------- accounts

export const Username = z
  .string()
  .transform(normalize)
  .pipe(
    z
      .string()
      .trim()
      .min(LIMITS.usernameMin, `Username must be at least ${LIMITS.usernameMin} characters`)
      .max(LIMITS.usernameMax, `Username must be at most ${LIMITS.usernameMax} characters`)
      .regex(/^[A-Za-z0-9_.-]+$/, "Username may use letters, digits, '_', '.' and '-' only"),
  );

export const Password = z
  .string()
  .max(LIMITS.passwordMax * 4, `Password must be at most ${LIMITS.passwordMax} characters`)
  .transform(normalize)
  .pipe(
    z
      .string()
      .min(LIMITS.passwordMin, `Password must be at least ${LIMITS.passwordMin} characters`)
      .max(LIMITS.passwordMax, `Password must be at most ${LIMITS.passwordMax} characters`),
  );

export const Credentials = z.object({ username: Username, password: Password });
export type Credentials = z.infer<typeof Credentials>;

/** Login does not re-validate password rules (they may change); only size. */
export const LoginBody = z.object({
  username: z.string().transform(normalize).pipe(z.string().trim().min(1).max(LIMITS.usernameMax * 4)),
  password: z
    .string()
    .min(1, "Password is required")
    .max(LIMITS.passwordMax, `Password must be at most ${LIMITS.passwordMax} characters`)
    .transform(normalize),
});

export const User = z.object({ id: z.string(), username: z.string() });
export type User = z.infer<typeof User>;

// ------------------------------------------------------------------- rooms

export const RoomName = z
  .string()
  .transform(normalize)
  .pipe(
    z
      .string()
      .trim()
      .min(1, "Room name must not be empty")
      .max(LIMITS.roomNameMax, `Room name must be at most ${LIMITS.roomNameMax} characters`),
  );

export const CreateRoomBody = z.object({ name: RoomName });
export const RenameRoomBody = z.object({ name: RoomName });
export const AddMemberBody = z.object({ username: z.string().transform(normalize).pipe(z.string().trim().min(1).max(128)) });

export const Role = z.enum(["owner", "member"]);
export type Role = z.infer<typeof Role>;

export const Member = z.object({ id: z.string(), username: z.string(), role: Role, joinedAt: z.number() });
export type Member = z.infer<typeof Member>;

export const RoomSummary = z.object({
  id: z.string(),
  name: z.string(),
  ownerId: z.string(),
  role: Role,
  memberCount: z.number(),
  unread: z.number(),
  createdAt: z.number(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;

export const RoomList = z.object({ rooms: z.array(RoomSummary) });
export type RoomList = z.infer<typeof RoomList>;

// ------------------------------------------------------------------ badges

/** The badge: total unread and per-room counts. */
export const UnreadCounts = z.object({ total: z.number().int().min(0), rooms: z.record(z.string(), z.number().int().min(0)) });
export type UnreadCounts = z.infer<typeof UnreadCounts>;

/** What changed a count (the original app's `trigger` values, plus Parley's). */
export const CountTrigger = z.enum(["new_message", "message_read", "file_upload", "message_deleted", "file_deleted", "membership", "connect", "recount"]);
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
});
export type NotificationCountUpdate = z.infer<typeof NotificationCountUpdate>;

/** `room_added` on the badge socket: I became a member of a room (it carries the list entry). */
export const RoomAdded = z.object({ type: z.literal("room_added"), room: RoomSummary });
/** `room_removed`: I am no longer a member (removed, or I left); drop it from my list and badge. */
export const RoomRemoved = z.object({ type: z.literal("room_removed"), roomId: z.string() });
/** `room_updated`: a room of mine changed (renamed). */
export const RoomUpdated = z.object({ type: z.literal("room_updated"), room: z.object({ id: z.string(), name: z.string() }) });

/** Frames on the badge socket `/api/me/ws` (it accepts only pings from clients). */
export const HubFrame = z.discriminatedUnion("type", [NotificationCountUpdate, RoomAdded, RoomRemoved, RoomUpdated, z.object({ type: z.literal("pong") })]);
export type HubFrame = z.infer<typeof HubFrame>;

// ---------------------------------------------------------------- messages

/** A client-made id (UUID) that makes a write idempotent. */
export const ClientId = z.uuid("clientId must be a UUID");

/** Explicit bidi overrides/isolates (U+202A–202E, U+2066–2069) can disguise text; plain RTL text needs none. */
const BIDI_OVERRIDES = /[\u202A-\u202E\u2066-\u2069]/;

/** Message text: 1–4,000 characters after trimming; no NUL. */
export const MessageText = z
  .string()
  .max(LIMITS.messageMax * 2, `Message must be at most ${LIMITS.messageMax} characters`)
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .min(1, "Message must not be empty")
      .max(LIMITS.messageMax, `Message must be at most ${LIMITS.messageMax} characters`)
      .refine((s) => !s.includes("\u0000"), "Message must not contain NUL characters")
      .refine((s) => s.isWellFormed(), "Message must be valid Unicode (no lone surrogates)")
      .refine((s) => !BIDI_OVERRIDES.test(s), "Message must not contain bidirectional override characters"),
  );

/** A stored message as clients see it. `text` is null once deleted. */
export const Message = z.object({
  id: z.string(),
  /** The seq of the event that created it. */
  seq: z.number().int(),
  userId: z.string(),
  username: z.string(),
  clientId: z.string(),
  text: z.string().nullable(),
  createdAt: z.number(),
  editedAt: z.number().nullable(),
  deletedAt: z.number().nullable(),
});
export type Message = z.infer<typeof Message>;

export const SendMessageBody = z.object({ clientId: ClientId, text: MessageText });
export const EditMessageBody = z.object({ text: MessageText });
export const HistoryQuery = z.object({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const ReadBody = z.object({ seq: z.number().int().min(0) });
export const MarkUnreadBody = z.object({ seq: z.number().int().min(1) });
export const EventsQuery = z.object({ after: z.coerce.number().int().min(0) });

// ------------------------------------------------------------------ files

/**
 * A shared file, with the original app's field names (clients written
 * against `file_uploaded` keep working), plus its room `seq` once announced.
 */
export const FileInfo = z.object({
  file_id: z.string(),
  room_id: z.string(),
  filename: z.string(),
  file_type: z.string(),
  file_size: z.number().int().min(0),
  uploaded_by: z.string(),
  uploader_id: z.string(),
  uploaded_at: z.number(),
  description: z.string(),
  has_thumbnail: z.boolean(),
  seq: z.number().int().nullable(),
});
export type FileInfo = z.infer<typeof FileInfo>;

export const FileDescription = z
  .string()
  .max(LIMITS.descriptionMax, `Description must be at most ${LIMITS.descriptionMax} characters`)
  .refine((s) => !s.includes("\u0000"), "Description must not contain NUL characters")
  .refine((s) => s.isWellFormed(), "Description must be valid Unicode");

/** `GET /api/rooms/:id/files?q=&before=&limit=`: newest first. */
export const FilesQuery = z.object({
  q: z.string().max(100).optional(),
  /** Page: files uploaded before this `uploaded_at`/id cursor (`<ms>:<id>`). */
  before: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const FilesPage = z.object({ files: z.array(FileInfo), next: z.string().nullable() });
export type FilesPage = z.infer<typeof FilesPage>;

/** A receipt: `userId` has read everything up to `upTo`. */
export const Receipt = z.object({ userId: z.string(), username: z.string(), upTo: z.number().int().min(0) });
export type Receipt = z.infer<typeof Receipt>;

/** `GET /api/rooms/:id`: everything a room page needs, current at `seq`. */
export const RoomSnapshot = z.object({
  room: z.object({ id: z.string(), name: z.string(), ownerId: z.string(), createdAt: z.number() }),
  role: Role,
  members: z.array(Member),
  /** The latest messages, oldest first; `hasMore` when older ones exist (page with `before`). */
  messages: z.array(Message),
  hasMore: z.boolean(),
  /** The newest files (see `GET /api/rooms/:id/files` for more). */
  files: z.array(FileInfo),
  /** Every member's read cursor ("Seen by …"). */
  receipts: z.array(Receipt),
  /** Your own cursor and unread count in this room. */
  readSeq: z.number().int(),
  unread: z.number().int(),
  /** The head of the room's log this snapshot is current at: subscribe with `after=seq`. */
  seq: z.number(),
});
export type RoomSnapshot = z.infer<typeof RoomSnapshot>;

// ------------------------------------------------------------ room events


/** Events in a room's log. Each has the room's next `seq` and a server timestamp. */
export const RoomEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("message"), seq: z.number().int(), ts: z.number(), message: Message }),
  z.object({ type: z.literal("message_edited"), seq: z.number().int(), ts: z.number(), message: Message }),
  z.object({ type: z.literal("message_deleted"), seq: z.number().int(), ts: z.number(), messageId: z.string(), userId: z.string() }),
  z.object({ type: z.literal("file_uploaded"), seq: z.number().int(), ts: z.number(), file: FileInfo }),
  z.object({ type: z.literal("file_deleted"), seq: z.number().int(), ts: z.number(), file_id: z.string(), uploader_id: z.string() }),
  /** Someone became a member (added by the owner, or created the room). */
  z.object({ type: z.literal("member_joined"), seq: z.number().int(), ts: z.number(), member: Member }),
  /** Someone stopped being a member (`removed` by the owner, or left). */
  z.object({ type: z.literal("member_left"), seq: z.number().int(), ts: z.number(), userId: z.string(), username: z.string() }),
  /** The room has a new name. */
  z.object({ type: z.literal("room_renamed"), seq: z.number().int(), ts: z.number(), name: z.string() }),
]);
export type RoomEvent = z.infer<typeof RoomEvent>;
export type RoomEventType = RoomEvent["type"];

/** `GET /api/rooms/:id/events?after=` */
export const EventsPage = z.object({ events: z.array(RoomEvent), seq: z.number().int() });
export type EventsPage = z.infer<typeof EventsPage>;

/** `GET /api/rooms/:id/messages?before=&limit=`: oldest first; `hasMore` when older ones exist. */
export const HistoryPage = z.object({ messages: z.array(Message), hasMore: z.boolean() });
export type HistoryPage = z.infer<typeof HistoryPage>;

/** The answer to a send (HTTP or socket): the stored message and whether it was a retry. */
export const SendResult = z.object({ message: Message, seq: z.number().int(), duplicate: z.boolean() });
export type SendResult = z.infer<typeof SendResult>;

// ------------------------------------------------------------ room socket

/** Frames a client sends on `/api/rooms/:id/ws`. `ref` is echoed in the answer. */
export const ClientFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("send"), clientId: ClientId, text: MessageText }),
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
      activity: z.enum(["typing", "uploading"]).optional(),
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
/** Send rate limit per user per room (HTTP and socket share it): a token bucket. */
export const RATE_LIMIT = { burst: 20, perSecond: 10 } as const;
/** Read / mark-unread rate limit per user per room (HTTP and socket share it). */
export const READ_RATE_LIMIT = { burst: 10, perSecond: 4 } as const;
/** How many events a room keeps for replay; older `after` values get `resync_required`. */
export const REPLAY_WINDOW = 1000;
/** Typing indicators expire this long after the last "typing" frame. */
export const TYPING_TTL_MS = 6000;
