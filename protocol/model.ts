/**
 * The data the API carries: accounts, rooms, messages, files, snapshots and
 * the HTTP payloads that create and change them.
 */
import { z } from "zod";
import { LIMITS, normalize } from "./common.ts";
import { FILE_CATEGORIES } from "./file-types.ts";

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

/** How a deleted account appears: as the author of its messages and files, and in a DM with it. */
export const DELETED_USER_NAME = "deleted user";

export const User = z.object({
  id: z.string(),
  username: z.string(),
  /** Shown instead of the username where it is set (settings, `PATCH /api/me`). */
  displayName: z.string().nullable().optional(),
});
export type User = z.infer<typeof User>;

/** A display name: 1–64 characters after NFKC normalisation and trimming; no control or bidi-override characters. */
export const DisplayName = z
  .string()
  .max(64 * 4)
  .transform(normalize)
  .pipe(
    z
      .string()
      .trim()
      .min(1, "Display name must not be empty")
      .max(64, "Display name must be at most 64 characters")
      .refine((s) => ![...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch === "\u007f"), "Display name may not contain control characters")
      .refine((s) => !BIDI_OVERRIDES.test(s), "Display name may not contain bidirectional override characters"),
  );

/** `PATCH /api/me`: `displayName: null` clears it. */
export const UpdateMeBody = z.object({ displayName: DisplayName.nullable() });
export type UpdateMeBody = z.infer<typeof UpdateMeBody>;

/** `POST /api/me/password`: other sessions are signed out; this one stays. */
export const ChangePasswordBody = z.object({ currentPassword: LoginBody.shape.password, newPassword: Password });
export type ChangePasswordBody = z.infer<typeof ChangePasswordBody>;

/** `DELETE /api/me`: the password again, so a left-open tab cannot delete the account. */
export const DeleteMeBody = z.object({ password: LoginBody.shape.password });
export type DeleteMeBody = z.infer<typeof DeleteMeBody>;

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
/** `POST /api/dm`: open (or create) the direct-message room with that user; answers `{ room: RoomSummary }`. */
export const OpenDmBody = AddMemberBody;

export const Role = z.enum(["owner", "member"]);
export type Role = z.infer<typeof Role>;

export const Member = z.object({
  id: z.string(),
  username: z.string(),
  role: Role,
  joinedAt: z.number(),
  /** Shown instead of the username where it is set; a change arrives as `member_updated`. */
  displayName: z.string().nullable().optional(),
});
export type Member = z.infer<typeof Member>;

/** A group room, or a direct-message room of exactly two people. */
export const RoomKind = z.enum(["room", "dm"]);
export type RoomKind = z.infer<typeof RoomKind>;

/** The start of a room's latest message, for the rooms list. */
export const RoomPreview = z.object({
  userId: z.string(),
  /** The author's username when they sent it ("deleted user" once the account is deleted). */
  username: z.string(),
  /** The author's display name when they sent it, if they had one. */
  displayName: z.string().nullable().optional(),
  /** The first 160 UTF-16 units of the text (never a lone surrogate half). */
  text: z.string().max(160),
  ts: z.number(),
});
export type RoomPreview = z.infer<typeof RoomPreview>;

export const RoomSummary = z.object({
  id: z.string(),
  /** For a DM, the other person's display name or username. */
  name: z.string(),
  ownerId: z.string(),
  role: Role,
  memberCount: z.number(),
  unread: z.number(),
  createdAt: z.number(),
  kind: RoomKind.optional(),
  /** For a DM: the other person. */
  dmWith: User.optional(),
  /** For a DM: the same as `dmWith` (the name /work/shared/CONTRACT.md gives it). */
  peer: User.optional(),
  /** The time of the latest message or file (ms), else `createdAt`: the rooms list is sorted by it, newest first. */
  lastActivityAt: z.number().optional(),
  preview: RoomPreview.nullable().optional(),
  /** Messages after my read cursor that mention me (a subset of `unread`). */
  mentions: z.number().optional(),
  /** I muted this room: it still counts unread and mentions, but clients give it no notification or highlight (mentions still notify). */
  muted: z.boolean().optional(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;

export const RoomList = z.object({ rooms: z.array(RoomSummary) });
export type RoomList = z.infer<typeof RoomList>;

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

/** One emoji on a message: how many members reacted with it, and who (oldest first). */
export const Reaction = z.object({ emoji: z.string(), count: z.number().int(), userIds: z.array(z.string()) });
export type Reaction = z.infer<typeof Reaction>;

/** A reaction's emoji: exactly one emoji (with its skin tone, ZWJ sequence or flag), nothing else. */
export const ReactionEmoji = z
  .string()
  .max(64, "A reaction is one emoji")
  .regex(/^\p{RGI_Emoji}$/v, "A reaction is one emoji");
export const ReactionBody = z.object({ emoji: ReactionEmoji });

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
  /**
   * Its reactions, in the order each emoji was first used (history, snapshots and replays carry
   * them; a new message has none; `message_edited` carries none: keep what you have).
   */
  reactions: z.array(Reaction).optional(),
  /** For a thread reply: the id of the top-level message it answers; null for a top-level message. */
  threadOf: z.string().nullable().optional(),
  /** Live (not deleted) replies in this message's thread (0 for a reply). A change arrives as `thread_updated`. */
  replyCount: z.number().int().min(0).optional(),
  /** When the newest live reply was sent (ms), or null. */
  lastReplyAt: z.number().nullable().optional(),
});
export type Message = z.infer<typeof Message>;

/** A message id in a body or query. */
export const MessageId = z.string().min(1).max(64);

/** `threadOf`: reply in the thread of that (live, top-level) message of the same room. */
export const SendMessageBody = z.object({ clientId: ClientId, text: MessageText, threadOf: MessageId.optional() });

/** `GET /api/search?q=&room=`: `q` as typed (the server makes it safe); `room` limits it to one room of mine. */
export const SearchQuery = z.object({
  q: z.string(),
  room: z.string().min(1).max(64).optional(),
});
/** A found message: where it is (`roomId`, `seq` to load the history around it) and a snippet with the matches marked. */
export const SearchHit = z.object({
  roomId: z.string(),
  seq: z.number().int(),
  messageId: z.string(),
  userId: z.string(),
  username: z.string(),
  createdAt: z.number(),
  /** Set when the hit is a thread reply: the thread's top-level message (open the thread to show it). */
  threadOf: z.string().nullable().optional(),
  /** The snippet as plain text ("…" where text was left out). */
  snippet: z.string(),
  /** The same snippet in pieces, `hit` on the matched words (render as text; never as HTML). */
  parts: z.array(z.object({ text: z.string(), hit: z.boolean() })),
});
export type SearchHit = z.infer<typeof SearchHit>;
/** Newest first; `partial` when a room did not answer in time (its hits are missing). */
export const SearchReply = z.object({ hits: z.array(SearchHit), partial: z.boolean() });
export type SearchReply = z.infer<typeof SearchReply>;
export const EditMessageBody = z.object({ text: MessageText });
/**
 * `GET /api/rooms/:id/messages`: top-level messages before `before`, newest page first; or, with
 * `thread=<messageId>`, that thread's replies after `after`, oldest first.
 */
export const HistoryQuery = z.object({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  thread: MessageId.optional(),
  after: z.coerce.number().int().min(0).optional(),
});

/** `PATCH /api/rooms/:id/me`: my own settings for one room. */
export const RoomSettingsBody = z.object({ muted: z.boolean() });
export type RoomSettingsBody = z.infer<typeof RoomSettingsBody>;
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
  /**
   * The room event that announced this version (`file_uploaded` for version 1,
   * `file_version_added` for a later one); null until announced. Lists carry
   * the latest version's, so "new" and unread follow the latest version.
   */
  seq: z.number().int().nullable(),
  /**
   * Which version this is (absent: 1). `filename`, `file_type`, `file_size`,
   * `description`, `has_thumbnail` and `seq` are this version's;
   * `uploaded_by`, `uploader_id` and `uploaded_at` stay the file's own
   * (its uploader, who may add versions and delete it, and its first upload).
   */
  version: z.number().int().min(1).optional(),
  /** When this version was stored (absent: `uploaded_at`). */
  version_uploaded_at: z.number().optional(),
  /** Who stored this version (absent: the uploader) — the uploader or the room's owner. */
  version_uploaded_by: z.string().optional(),
  version_uploader_id: z.string().optional(),
  /**
   * Live comments on the file (its thread; absent: 0). Lists carry the room's count;
   * a change arrives as `file_comment_added` / `file_comment_removed`.
   */
  comments: z.number().int().min(0).optional(),
});
export type FileInfo = z.infer<typeof FileInfo>;

/** `GET /api/files/:id?version=n` (and `…/thumbnail?version=n`): that version instead of the latest. */
export const FileVersionQuery = z.object({ version: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional() });

/** `POST /api/files/:id/comments`: a comment (idempotent by `clientId`, like a message). */
export const CommentBody = z.object({ clientId: ClientId, text: MessageText });

/** `GET /api/files/:id/comments?after=&limit=`: the file's comments after `after` (a seq), oldest first. */
export const CommentsQuery = z.object({
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

/** The answer of `GET /api/files/:id/comments`: the file as listed, its comments (messages), `hasMore` when newer ones exist. */
export const FileComments = z.object({ file: FileInfo, messages: z.array(Message), hasMore: z.boolean() });
export type FileComments = z.infer<typeof FileComments>;

/** `GET /api/files/:id/versions`: every version of the file, newest first. */
export const FileVersions = z.object({ versions: z.array(FileInfo) });
export type FileVersions = z.infer<typeof FileVersions>;

export const FileDescription = z
  .string()
  .max(LIMITS.descriptionMax, `Description must be at most ${LIMITS.descriptionMax} characters`)
  .refine((s) => !s.includes("\u0000"), "Description must not contain NUL characters")
  .refine((s) => s.isWellFormed(), "Description must be valid Unicode");

/** `GET /api/rooms/:id/files?q=&type=&before=&limit=`: newest first. */
export const FilesQuery = z.object({
  /** Part of a file's name, description or uploader's username (case-insensitive). */
  q: z.string().max(LIMITS.fileSearchMax).optional(),
  /** Only files of this category (see `fileCategory`). */
  type: z.enum(FILE_CATEGORIES).optional(),
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
  /** For a DM: `name` is the other person's display name or username, `dmWith` the other person. */
  room: z.object({ id: z.string(), name: z.string(), ownerId: z.string(), createdAt: z.number(), kind: RoomKind.optional(), dmWith: User.optional() }),
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
  /** Of those, the messages that mention you. */
  mentions: z.number().int().optional(),
  /** You muted this room (`PATCH /api/rooms/:id/me`). */
  muted: z.boolean().optional(),
  /** The head of the room's log this snapshot is current at: subscribe with `after=seq`. */
  seq: z.number(),
});
export type RoomSnapshot = z.infer<typeof RoomSnapshot>;

/** `POST /api/rooms/:id/read` and `…/unread`: my cursor and count after the move. */
export const ReadReply = z.object({ readSeq: z.number().int(), unread: z.number().int(), changed: z.boolean() });
export type ReadReply = z.infer<typeof ReadReply>;

/**
 * `POST /api/rooms/:id/files`: the stored file (201), or the original for a retry of a stored upload (200).
 * `POST /api/files/:id/versions` answers the same: the file as of its new version.
 */
export const UploadReply = z.object({ file: FileInfo, duplicate: z.boolean() });
export type UploadReply = z.infer<typeof UploadReply>;

// ------------------------------------------------------------------ resumable uploads

/** The size of every part of a resumable upload but the last (R2's multipart minimum, 5 MiB). */
export const UPLOAD_PART_SIZE = 5 * 1024 * 1024;

/** `POST /api/rooms/:id/uploads`: start (or, with the same clientId, find again) a resumable upload. */
export const StartUploadBody = z.object({
  clientId: ClientId,
  name: z.string().max(1024, "name must be at most 1024 characters"),
  size: z.number().int("size must be a whole number of bytes").min(1, "size must be at least 1 byte").max(Number.MAX_SAFE_INTEGER),
  type: z.string().max(255, "type must be at most 255 characters"),
  description: FileDescription.optional(),
});
export type StartUploadBody = z.infer<typeof StartUploadBody>;

/**
 * The upload to send parts to, in parts of `partSize` bytes (the last holds
 * the remainder). `parts`: those already stored (a start again with the same
 * clientId). `file`: set when the upload was already completed — the stored file.
 */
export const UploadStarted = z.object({
  uploadId: z.string(),
  partSize: z.number().int(),
  parts: z.array(z.number().int()).optional(),
  file: FileInfo.optional(),
});
export type UploadStarted = z.infer<typeof UploadStarted>;

/** `GET /api/uploads/:uploadId`: the part numbers stored, ascending. */
export const UploadParts = z.object({
  uploadId: z.string(),
  partSize: z.number().int(),
  size: z.number().int(),
  parts: z.array(z.number().int()),
});
export type UploadParts = z.infer<typeof UploadParts>;
