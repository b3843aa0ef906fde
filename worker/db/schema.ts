/**
 * D1 schema — the single source of truth for the relational data.
 * `npm run db:generate` turns changes here into migrations/NNNN_*.sql.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    /** As the user typed it (NFKC-normalised). */
    username: text("username").notNull(),
    /** Lower-cased username: unique, for case-insensitive lookups. */
    usernameKey: text("username_key").notNull().unique(),
    /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` */
    passwordHash: text("password_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Shown instead of the username where set (`PATCH /api/me`); null: none. */
    displayName: text("display_name"),
    /**
     * Set when the account was deleted: the row stays as a tombstone (messages, files and rooms
     * refer to it) with the username "deleted user", a `username_key` no name can have (so the
     * name is free again), and no password.
     */
    deletedAt: integer("deleted_at"),
  },
);

export const sessions = sqliteTable(
  "sessions",
  {
    /** SHA-256 (hex) of the random session token; the token itself is never stored. */
    idHash: text("id_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/**
 * Sign-in attempts per key (`p:<account>@<address>`, `u:<account>`, `ip:<address>`)
 * in 15-minute windows, with the time the key accepts its next attempt
 * (worker/lib/login-throttle.ts). `allowed` is what the last claim decided.
 */
export const loginFailures = sqliteTable("login_failures", {
  key: text("key").primaryKey(),
  windowStart: integer("window_start").notNull(),
  failures: integer("failures").notNull(),
  nextAt: integer("next_at").notNull().default(0),
  allowed: integer("allowed").notNull().default(1),
});

/** Rates over long windows (worker/lib/rate-window.ts): `reg:<address>`, `room:<user>`, `dm:<user>`, `add:<user>`, `profile:<user>`, `up:<user>`, `upb:<user>`. */
export const rateWindows = sqliteTable("rate_windows", {
  key: text("key").primaryKey(),
  windowEnd: integer("window_end").notNull(),
  used: integer("used").notNull(),
});

export const rooms = sqliteTable(
  "rooms",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id),
    createdAt: integer("created_at").notNull(),
    /** Bumped in the same batch as every change of the room's members, name or owner. */
    version: integer("version").notNull().default(0),
    /** The version the room's Durable Object has applied (it writes this after a sync). */
    syncedVersion: integer("synced_version").notNull().default(0),
    /** `room`, or `dm`: a direct-message room of exactly two people, with no owner powers. */
    kind: text("kind", { enum: ["room", "dm"] }).notNull().default("room"),
    /** For a DM: its two user ids, sorted, joined by `:` — unique, so a pair has one DM however many ask at once. */
    dmKey: text("dm_key").unique(),
  },
  // The repair cron finds rooms whose object lags D1 through this small partial index.
  (t) => [index("rooms_unsynced_idx").on(t.id).where(sql`${t.version} != ${t.syncedVersion}`)],
);

export const memberships = sqliteTable(
  "memberships",
  {
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "member"] }).notNull(),
    joinedAt: integer("joined_at").notNull(),
    /** The member muted the room (`PATCH /api/rooms/:id/me`): still counted, but no notification or highlight in clients. */
    muted: integer("muted", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("memberships_user_idx").on(t.userId)],
);

/**
 * Rooms a user was a member of and left (or was removed from): account
 * deletion anonymises their messages there too. Written only on removal.
 */
export const formerMembers = sqliteTable(
  "former_members",
  {
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    leftAt: integer("left_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("former_members_user_idx").on(t.userId)],
);

/**
 * Shared files' metadata. The bytes live in R2 under `r2Key` (a server-made
 * key, never the user's file name). A row is `pending` while its bytes are
 * being stored and becomes `ready` only after the R2 write succeeded; only
 * ready files are listed or served, and a sweep removes stale pending rows
 * and their bytes.
 */
export const files = sqliteTable(
  "files",
  {
    id: text("id").primaryKey(),
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    uploaderId: text("uploader_id")
      .notNull()
      .references(() => users.id),
    clientId: text("client_id").notNull(),
    r2Key: text("r2_key").notNull(),
    thumbKey: text("thumb_key"),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    type: text("type").notNull(),
    description: text("description").notNull(),
    state: text("state", { enum: ["pending", "ready"] }).notNull(),
    /** The room event that announced it (null until announced). */
    seq: integer("seq"),
    createdAt: integer("created_at").notNull(),
    /** While `pending`: when the upload last made progress (the sweep judges by this, not by `createdAt`). */
    progressAt: integer("progress_at"),
    /**
     * The file's latest ready version: 1 is this row's own bytes and metadata
     * (the upload); n > 1 is the `file_versions` row with that `n`.
     */
    version: integer("version").notNull().default(1),
  },
  (t) => [
    uniqueIndex("files_client_idx").on(t.roomId, t.uploaderId, t.clientId),
    index("files_room_idx").on(t.roomId, t.state, t.createdAt),
    index("files_state_idx").on(t.state, t.createdAt),
  ],
);

/**
 * A file's later versions (`POST /api/files/:id/versions`): version 1 is the
 * `files` row itself, each later one a row here with its own bytes in R2.
 * Like an upload, a row is `pending` while its bytes stream in (`n` is null
 * then) and gets the next `n` when it becomes `ready`; the file's `version`
 * then points at it. Deleting the file deletes its versions (cascade) after
 * their bytes.
 */
export const fileVersions = sqliteTable(
  "file_versions",
  {
    id: text("id").primaryKey(),
    fileId: text("file_id")
      .notNull()
      .references(() => files.id, { onDelete: "cascade" }),
    /** 2, 3, …: set when the version becomes ready. */
    n: integer("n"),
    uploaderId: text("uploader_id")
      .notNull()
      .references(() => users.id),
    clientId: text("client_id").notNull(),
    r2Key: text("r2_key").notNull(),
    thumbKey: text("thumb_key"),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    type: text("type").notNull(),
    description: text("description").notNull(),
    state: text("state", { enum: ["pending", "ready"] }).notNull(),
    /** The room event that announced it (`file_version_added`; null until announced). */
    seq: integer("seq"),
    createdAt: integer("created_at").notNull(),
    progressAt: integer("progress_at"),
  },
  (t) => [
    uniqueIndex("file_versions_n_idx").on(t.fileId, t.n),
    uniqueIndex("file_versions_client_idx").on(t.fileId, t.uploaderId, t.clientId),
    index("file_versions_state_idx").on(t.state, t.createdAt),
  ],
);

/**
 * Resumable uploads in progress (`POST /api/rooms/:id/uploads`,
 * worker/files/resumable.ts): an R2 multipart upload the client sends part by
 * part, resuming after a lost connection from the parts stored. The `files`
 * row (id `fileId`, bytes at `r2Key`) is made only when it completes; this row
 * then stays `done` (pointing at it) so a repeated complete, or a start with
 * the same clientId, answers the stored file. The sweep aborts one still
 * `uploading` a day after it started and drops `done` ones after a day.
 */
export const uploads = sqliteTable(
  "uploads",
  {
    id: text("id").primaryKey(),
    roomId: text("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    uploaderId: text("uploader_id")
      .notNull()
      .references(() => users.id),
    clientId: text("client_id").notNull(),
    /** The `files` row it becomes (made at completion). */
    fileId: text("file_id").notNull(),
    r2Key: text("r2_key").notNull(),
    /** R2's multipart upload id (never shown to the client). */
    r2UploadId: text("r2_upload_id").notNull(),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    type: text("type").notNull(),
    description: text("description").notNull(),
    partSize: integer("part_size").notNull(),
    state: text("state", { enum: ["uploading", "done"] }).notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("uploads_client_idx").on(t.roomId, t.uploaderId, t.clientId), index("uploads_state_idx").on(t.state, t.createdAt)],
);

/** The parts of a resumable upload R2 has stored, with the etags its completion needs (one row per 5 MiB part). */
export const uploadParts = sqliteTable(
  "upload_parts",
  {
    uploadId: text("upload_id")
      .notNull()
      .references(() => uploads.id, { onDelete: "cascade" }),
    n: integer("n").notNull(),
    etag: text("etag").notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.n] })],
);
