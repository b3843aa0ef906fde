/**
 * A file's versions in D1. Version 1 is the `files` row itself; each later
 * one is a `file_versions` row, `pending` (no number yet) while its bytes
 * stream into R2, then `ready` with the next number, at which moment the
 * file's `version` points at it — both in one batch, so two versions that
 * finish together get distinct numbers. Only ready versions are listed,
 * served or announced (`file_version_added`).
 */
import { and, desc, eq, isNotNull, sql } from "drizzle-orm";
import { files, fileVersions, users } from "../db/schema";
import { apiError } from "../lib/errors";
import type { FileInfo } from "#protocol";
import type { DB } from "../types";
import { fileColumns, type StoredFile, toInfo, versionUsers } from "./catalog";

/** The columns of a later version as a FileInfo (the file's own uploader and first upload time stay). */
export const versionColumns = {
  ...fileColumns,
  filename: fileVersions.name,
  file_type: fileVersions.type,
  file_size: fileVersions.size,
  description: fileVersions.description,
  thumbKey: fileVersions.thumbKey,
  seq: fileVersions.seq,
  version: sql<number>`${fileVersions.n}`,
  version_uploaded_at: fileVersions.createdAt,
  version_uploaded_by: versionUsers.username,
  version_uploader_id: fileVersions.uploaderId,
  r2Key: fileVersions.r2Key,
  versionId: fileVersions.id,
};

function laterVersions(db: DB) {
  return db
    .select(versionColumns)
    .from(fileVersions)
    .innerJoin(files, eq(files.id, fileVersions.fileId))
    .innerJoin(users, eq(users.id, files.uploaderId))
    .innerJoin(versionUsers, eq(versionUsers.id, fileVersions.uploaderId));
}

/** 403 unless the caller uploaded the file or owns its room (a DM has no owner: there only the uploader may). */
export function requireManager(file: StoredFile, userId: string, what: string): void {
  if (file.uploader_id !== userId && file.callerRole !== "owner") throw apiError(403, "forbidden", `Only the uploader or the room's owner can ${what}`);
}

/** Every ready version of a file, newest first. */
export async function listVersions(db: DB, fileId: string): Promise<FileInfo[]> {
  const later = await laterVersions(db)
    .where(and(eq(fileVersions.fileId, fileId), eq(fileVersions.state, "ready")))
    .orderBy(desc(fileVersions.n));
  const first = await db.select(fileColumns).from(files).innerJoin(users, eq(users.id, files.uploaderId)).where(eq(files.id, fileId)).get();
  return [...later, ...(first ? [first] : [])].map(toInfo);
}

/** The file as of version `n` (the caller has access to the file); 404 for a version it does not have. */
export async function requireVersion(db: DB, file: StoredFile, n: number): Promise<StoredFile> {
  if (n === file.version) return file;
  const row =
    n === 1
      ? await db
          .select({ ...fileColumns, r2Key: files.r2Key })
          .from(files)
          .innerJoin(users, eq(users.id, files.uploaderId))
          .where(eq(files.id, file.file_id))
          .get()
      : await laterVersions(db)
          .where(and(eq(fileVersions.fileId, file.file_id), eq(fileVersions.n, n), eq(fileVersions.state, "ready")))
          .get();
  if (!row || n > file.version) throw apiError(404, "not_found", "This file has no such version");
  return { ...row, callerRole: file.callerRole };
}

/** The ready version a user already added to this file with this clientId (a retry), if any. */
export async function findVersion(db: DB, fileId: string, uploaderId: string, clientId: string) {
  return laterVersions(db)
    .where(and(eq(fileVersions.fileId, fileId), eq(fileVersions.uploaderId, uploaderId), eq(fileVersions.clientId, clientId), eq(fileVersions.state, "ready")))
    .get();
}

/** The row of a version upload that has begun; 409 when the same clientId is already uploading. */
export async function insertPendingVersion(
  db: DB,
  row: Omit<typeof fileVersions.$inferInsert, "state" | "size" | "createdAt" | "n" | "seq" | "progressAt">,
): Promise<void> {
  try {
    const now = Date.now();
    await db.insert(fileVersions).values({ ...row, size: 0, state: "pending", createdAt: now, progressAt: now });
  } catch (err) {
    if (String(err).includes("UNIQUE")) throw apiError(409, "conflict", "An upload with this clientId is already in progress");
    throw err;
  }
}

export async function touchPendingVersion(db: DB, id: string, now = Date.now()): Promise<boolean> {
  const rows = await db
    .update(fileVersions)
    .set({ progressAt: now })
    .where(and(eq(fileVersions.id, id), eq(fileVersions.state, "pending")))
    .returning({ id: fileVersions.id });
  return rows.length > 0;
}

/**
 * The bytes are stored: the pending version takes the file's next number and
 * the file points at it, in one batch. The number, or null when the row is
 * gone (swept as dead, or its file deleted).
 */
export async function markVersionReady(
  db: DB,
  id: string,
  fileId: string,
  set: { size: number; description: string; thumbKey: string | null; createdAt: number },
): Promise<number | null> {
  const [rows] = await db.batch([
    db
      .update(fileVersions)
      .set({ ...set, state: "ready", progressAt: null, n: sql`(SELECT f.version + 1 FROM files f WHERE f.id = ${fileId} AND f.state = 'ready')` })
      .where(and(eq(fileVersions.id, id), eq(fileVersions.state, "pending"), sql`EXISTS (SELECT 1 FROM files f WHERE f.id = ${fileId} AND f.state = 'ready')`))
      .returning({ n: fileVersions.n }),
    db
      .update(files)
      .set({ version: sql`${files.version} + 1` })
      .where(and(eq(files.id, fileId), sql`EXISTS (SELECT 1 FROM file_versions v WHERE v.id = ${id} AND v.state = 'ready' AND v.n = files.version + 1)`)),
  ]);
  return rows[0]?.n ?? null;
}

/** Drop a version's row (a version upload that failed, or one its deleted file's room refused); the file points at its newest remaining version. */
export async function deleteVersionRow(db: DB, id: string, fileId: string): Promise<void> {
  await db.batch([
    db.delete(fileVersions).where(eq(fileVersions.id, id)),
    db
      .update(files)
      .set({ version: sql`coalesce((SELECT MAX(v.n) FROM file_versions v WHERE v.file_id = ${fileId} AND v.state = 'ready'), 1)` })
      .where(eq(files.id, fileId)),
  ]);
}

/** Whether a ready file with this id is still there. */
export async function fileExists(db: DB, fileId: string): Promise<boolean> {
  return (await db.select({ id: files.id }).from(files).where(and(eq(files.id, fileId), eq(files.state, "ready"))).get()) !== undefined;
}

/**
 * Make sure a ready version has been announced to its room. Null when the
 * room refuses it because the file is deleted there: its bytes and row are
 * then removed here.
 */
export async function announceVersion(env: Env, db: DB, info: FileInfo & { version: number }, versionId: string, r2Key: string): Promise<FileInfo | null> {
  if (info.seq !== null) return info;
  const { seq: _unused, ...rest } = info;
  const res = await env.ROOM.getByName(info.room_id).announceVersion({
    ...rest,
    version: info.version,
    version_uploader_id: info.version_uploader_id ?? info.uploader_id,
    version_uploaded_at: info.version_uploaded_at ?? info.uploaded_at,
  });
  if (!res.ok) {
    await env.FILES.delete([r2Key, `${r2Key}.thumb`]);
    await deleteVersionRow(db, versionId, info.file_id);
    return null;
  }
  await db.update(fileVersions).set({ seq: res.seq }).where(eq(fileVersions.id, versionId));
  return { ...info, seq: res.seq };
}

/** Ready versions never announced (the room call failed), older than `before`. */
export async function unannouncedVersions(db: DB, before: number, limit: number) {
  return laterVersions(db)
    .where(and(eq(fileVersions.state, "ready"), isNotNull(fileVersions.n), sql`${fileVersions.seq} IS NULL`, sql`${fileVersions.createdAt} < ${before}`))
    .limit(limit);
}
