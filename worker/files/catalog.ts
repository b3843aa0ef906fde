/**
 * The file catalog: the `files` rows in D1 and the FileInfo they make. A row
 * is `pending` while its bytes stream into R2 and `ready` once they are
 * stored; only ready files are listed, served or announced. A file's later
 * versions are `file_versions` rows (files/versions.ts); `files.version`
 * points at the latest, and lists, snapshots and downloads show that one.
 */
import { and, type Column, desc, eq, inArray, lt, not, or, type SQL, sql } from "drizzle-orm";
import { alias, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import { files, fileVersions, memberships, users } from "../db/schema";
import { apiError } from "../lib/errors";
import {
  DOCUMENT_MEDIA_PREFIXES,
  DOCUMENT_MEDIA_TYPES,
  type FileCategory,
  type FileInfo,
  type FilesPage,
  TEXT_MEDIA_TYPES,
} from "#protocol";
import type { DB } from "../types";

/** The columns that make a FileInfo of version 1, the upload itself (with `thumbKey`, see toInfo). */
export const fileColumns = {
  file_id: files.id,
  room_id: files.roomId,
  filename: files.name,
  file_type: files.type,
  file_size: files.size,
  uploaded_by: users.username,
  uploader_id: files.uploaderId,
  uploaded_at: files.createdAt,
  description: files.description,
  thumbKey: files.thumbKey,
  seq: files.seq,
  version: sql<number>`1`,
  version_uploaded_at: files.createdAt,
  version_uploaded_by: users.username,
  version_uploader_id: files.uploaderId,
};

/** Who stored a version (a second join of `users`). */
export const versionUsers = alias(users, "version_users");

/** The latest version's value when the file has one (the join below found it), else the upload's. */
const latest = <T>(later: SQLiteColumn, first: SQLiteColumn): SQL<T> => sql<T>`CASE WHEN ${fileVersions.id} IS NULL THEN ${first} ELSE ${later} END`;

/** The columns of a file as of its latest version; select from `withLatest(…)`. */
export const latestColumns = {
  ...fileColumns,
  filename: latest<string>(fileVersions.name, files.name),
  file_type: latest<string>(fileVersions.type, files.type),
  file_size: latest<number>(fileVersions.size, files.size),
  description: latest<string>(fileVersions.description, files.description),
  thumbKey: latest<string | null>(fileVersions.thumbKey, files.thumbKey),
  seq: latest<number | null>(fileVersions.seq, files.seq),
  version: files.version,
  version_uploaded_at: latest<number>(fileVersions.createdAt, files.createdAt),
  version_uploaded_by: sql<string>`coalesce(${versionUsers.username}, ${users.username})`,
  version_uploader_id: latest<string>(fileVersions.uploaderId, files.uploaderId),
  r2Key: latest<string>(fileVersions.r2Key, files.r2Key),
};

/** `files` with their uploader and their latest version (if later than 1) and its uploader. */
export function withLatest(db: DB) {
  return db
    .select(latestColumns)
    .from(files)
    .innerJoin(users, eq(users.id, files.uploaderId))
    .leftJoin(fileVersions, and(eq(fileVersions.fileId, files.id), eq(fileVersions.n, files.version), eq(fileVersions.state, "ready")))
    .leftJoin(versionUsers, eq(versionUsers.id, fileVersions.uploaderId));
}

type FileRow = { thumbKey: string | null; r2Key?: string; versionId?: string } & Omit<FileInfo, "has_thumbnail">;
export const toInfo = ({ thumbKey, r2Key: _r2Key, versionId: _versionId, ...f }: FileRow): FileInfo => ({ ...f, has_thumbnail: thumbKey !== null });

/** A ready file (as of one version) with where its bytes are, and the caller's role in its room. */
export type StoredFile = FileRow & { r2Key: string; version: number; callerRole: "owner" | "member" };

/** `text` for a LIKE pattern with ESCAPE '\\': its own `%`, `_` and `\\` match only themselves. */
const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
const like = (column: Column | SQL, pattern: string): SQL => sql`${column} LIKE ${pattern} ESCAPE '\\'`;

/**
 * The SQL form of `fileCategory` in #protocol (stored types are lower-case,
 * see cleanMediaType): the two must agree, as the SPA files live arrivals
 * with the one and the server filters pages with the other.
 */
function categoryCondition(category: FileCategory): SQL {
  // The latest version's type: what the list shows.
  const type = latestColumns.file_type;
  const image = like(type, "image/%");
  const document = or(
    like(type, "text/%"),
    inArray(type, [...TEXT_MEDIA_TYPES, ...DOCUMENT_MEDIA_TYPES]),
    and(not(image), or(like(type, "%+json"), like(type, "%+xml"))),
    ...DOCUMENT_MEDIA_PREFIXES.map((p) => like(type, `${escapeLike(p)}%`)),
  )!;
  if (category === "image") return image;
  if (category === "document") return document;
  return and(not(image), not(document))!;
}

/**
 * Ready files of a room, newest first; `q` matches the latest version's name
 * or description, or the username of the file's or that version's uploader (case-insensitive for ASCII, as SQLite's LIKE),
 * `type` keeps one category. `next` is the cursor of the next page.
 */
export async function listFiles(db: DB, roomId: string, opts: { q?: string; type?: FileCategory; before?: string; limit: number }): Promise<FilesPage> {
  const conds = [eq(files.roomId, roomId), eq(files.state, "ready")];
  if (opts.q) {
    const pattern = `%${escapeLike(opts.q)}%`;
    // The latest version's name and description (what the list shows), and who uploaded the file or that version.
    conds.push(
      or(like(latestColumns.filename, pattern), like(latestColumns.description, pattern), like(users.username, pattern), like(versionUsers.username, pattern))!,
    );
  }
  if (opts.type) conds.push(categoryCondition(opts.type));
  if (opts.before) {
    const [ts, id] = opts.before.split(":");
    const t = Number(ts);
    if (Number.isFinite(t) && id) conds.push(or(lt(files.createdAt, t), and(eq(files.createdAt, t), lt(files.id, id)))!);
  }
  const rows = await withLatest(db)
    .where(and(...conds))
    .orderBy(desc(files.createdAt), desc(files.id))
    .limit(opts.limit + 1);
  const page = rows.slice(0, opts.limit).map(toInfo);
  const last = page.at(-1);
  return { files: page, next: rows.length > opts.limit && last ? `${last.uploaded_at}:${last.file_id}` : null };
}

/** A ready file (as of its latest version) the caller may see: 404 when missing, 403 when not a member of its room. */
export async function requireFileAccess(db: DB, fileId: string, userId: string): Promise<StoredFile> {
  const file = await withLatest(db)
    .where(and(eq(files.id, fileId), eq(files.state, "ready")))
    .get();
  if (!file) throw apiError(404, "not_found", "File not found");
  const member = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.roomId, file.room_id), eq(memberships.userId, userId)))
    .get();
  if (!member) throw apiError(403, "forbidden", "You are not a member of this file's room");
  return { ...file, callerRole: member.role };
}

/** The ready upload a user already made in a room with this clientId, if any (a retried upload). */
export async function findUpload(db: DB, roomId: string, uploaderId: string, clientId: string): Promise<FileInfo | null> {
  const row = await db
    .select(fileColumns)
    .from(files)
    .innerJoin(users, eq(users.id, files.uploaderId))
    .where(and(eq(files.roomId, roomId), eq(files.uploaderId, uploaderId), eq(files.clientId, clientId), eq(files.state, "ready")))
    .get();
  return row ? toInfo(row) : null;
}

/** The row of an upload that has begun; 409 when the same clientId is already uploading. */
export async function insertPending(db: DB, row: Omit<typeof files.$inferInsert, "state" | "size" | "createdAt">): Promise<void> {
  try {
    const now = Date.now();
    await db.insert(files).values({ ...row, size: 0, state: "pending", createdAt: now, progressAt: now });
  } catch (err) {
    if (String(err).includes("UNIQUE")) throw apiError(409, "conflict", "An upload with this clientId is already in progress");
    throw err;
  }
}

/**
 * The bytes are stored: the pending row becomes `ready` (and listable) with
 * its final size, description and thumbnail. False when the row is gone
 * (swept as dead): the caller must then delete the bytes, not announce them.
 */
export async function markReady(db: DB, fileId: string, set: { size: number; description: string; thumbKey: string | null; createdAt: number }): Promise<boolean> {
  const rows = await db
    .update(files)
    .set({ state: "ready", progressAt: null, ...set })
    .where(and(eq(files.id, fileId), eq(files.state, "pending")))
    .returning({ id: files.id });
  return rows.length > 0;
}

/** A long upload is still moving (the sweep keeps it). False when its row is gone. */
export async function touchPending(db: DB, fileId: string, now = Date.now()): Promise<boolean> {
  const rows = await db
    .update(files)
    .set({ progressAt: now })
    .where(and(eq(files.id, fileId), eq(files.state, "pending")))
    .returning({ id: files.id });
  return rows.length > 0;
}

/** Drop a file's row (an upload that failed half-way). */
export async function deleteRow(db: DB, fileId: string): Promise<void> {
  await db.delete(files).where(eq(files.id, fileId));
}

/** Make sure a ready file has been announced to its room (a retry, or the sweep, repairs a failed announce). */
export async function announce(env: Env, db: DB, info: FileInfo): Promise<FileInfo> {
  if (info.seq !== null) return info;
  const { seq: _unused, ...rest } = info;
  const { seq } = await env.ROOM.getByName(info.room_id).announceFile(rest);
  await db.update(files).set({ seq }).where(eq(files.id, info.file_id));
  return { ...info, seq };
}

/**
 * Delete a file: 403 unless the caller uploaded it or owns its room (a DM
 * has no owner: there only the uploader may). The room first (idempotent,
 * members drop it live, and it refuses any version announced after), then
 * the bytes and thumbnails of every version, then the row (its versions'
 * rows go with it), so a retry after a failure converges. Versions are read
 * after the room marked the file deleted: one that becomes ready later is
 * refused there and removes its own bytes.
 */
export async function deleteFile(env: Env, db: DB, file: StoredFile, userId: string): Promise<void> {
  if (file.uploader_id !== userId && file.callerRole !== "owner") {
    throw apiError(403, "forbidden", "Only the uploader or the room's owner can delete this file");
  }
  await env.ROOM.getByName(file.room_id).removeFile(file.file_id);
  const first = await db.select({ r2Key: files.r2Key }).from(files).where(eq(files.id, file.file_id)).get();
  const later = await db.select({ r2Key: fileVersions.r2Key }).from(fileVersions).where(eq(fileVersions.fileId, file.file_id));
  const keys = [...(first ? [first.r2Key] : []), ...later.map((v) => v.r2Key)].flatMap((k) => [k, `${k}.thumb`]);
  // R2 deletes at most 1,000 keys per call.
  for (let i = 0; i < keys.length; i += 1000) await env.FILES.delete(keys.slice(i, i + 1000));
  await deleteRow(db, file.file_id);
}
