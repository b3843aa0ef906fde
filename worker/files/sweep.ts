/**
 * The scheduled clean-up behind uploads (HARDENING U4, R9):
 * - a `pending` row that has made no progress for PENDING_MAX_AGE_MS is an
 *   upload that died half-way (the Worker was killed, the client vanished):
 *   its bytes, if any, and the row are removed, so nothing half-stored stays.
 *   Judged by last progress, not by start, so a long upload still streaming
 *   is never swept (U9); should one be, its finish sees the row gone and
 *   deletes its bytes instead of announcing them;
 * - a `ready` row never announced to its room (the room call failed after the
 *   row was committed) is announced now, by file id, which is idempotent.
 * The same for a file's later versions (`file_versions`): a version upload
 * that died half-way loses its bytes and row (the file keeps pointing at its
 * newest ready version), an unannounced ready one is announced.
 * And resumable uploads (files/resumable.ts) not completed within a day are
 * aborted (R2 drops their parts), completed ones forgotten after a day.
 */
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { files, fileVersions, users } from "../db/schema";
import { announce, fileColumns, toInfo } from "./catalog";
import { announceVersion, deleteVersionRow, unannouncedVersions } from "./versions";
import { sweepUploads } from "./resumable";
import type { DB } from "../types";

export const PENDING_MAX_AGE_MS = 60 * 60 * 1000;
export const ANNOUNCE_AFTER_MS = 60 * 1000;

export async function sweepFiles(env: Env, db: DB, now = Date.now()): Promise<{ removed: number; announced: number }> {
  const stale = await db
    .select({ id: files.id, r2Key: files.r2Key })
    .from(files)
    .where(and(eq(files.state, "pending"), lt(sql`coalesce(${files.progressAt}, ${files.createdAt})`, now - PENDING_MAX_AGE_MS)))
    .limit(500);
  for (const f of stale) {
    await env.FILES.delete([f.r2Key, `${f.r2Key}.thumb`]);
    await db.delete(files).where(eq(files.id, f.id));
  }
  const unannounced = await db
    .select(fileColumns)
    .from(files)
    .innerJoin(users, eq(users.id, files.uploaderId))
    .where(and(eq(files.state, "ready"), isNull(files.seq), lt(files.createdAt, now - ANNOUNCE_AFTER_MS)))
    .limit(500);
  for (const row of unannounced) await announce(env, db, toInfo(row));

  const staleVersions = await db
    .select({ id: fileVersions.id, fileId: fileVersions.fileId, r2Key: fileVersions.r2Key })
    .from(fileVersions)
    .where(and(eq(fileVersions.state, "pending"), lt(sql`coalesce(${fileVersions.progressAt}, ${fileVersions.createdAt})`, now - PENDING_MAX_AGE_MS)))
    .limit(500);
  for (const v of staleVersions) {
    await env.FILES.delete([v.r2Key, `${v.r2Key}.thumb`]);
    await deleteVersionRow(db, v.id, v.fileId);
  }
  const quiet = await unannouncedVersions(db, now - ANNOUNCE_AFTER_MS, 500);
  for (const v of quiet) await announceVersion(env, db, { ...toInfo(v), version: v.version }, v.versionId, v.r2Key);
  const expired = await sweepUploads(env, db, now);
  return { removed: stale.length + staleVersions.length + expired, announced: unannounced.length + quiet.length };
}
