/**
 * A new version of a file (`POST /api/files/:id/versions`): a form like an
 * upload's (same fields, order, limits and S11 accounting, files/upload.ts),
 * by the file's uploader or its room's owner. The file keeps its id; the
 * version's bytes get their own R2 key, and only once they and their row are
 * stored does the room append `file_version_added`. A file that is deleted
 * (before, or while the version streams in) answers 404 and keeps nothing
 * of it (HARDENING U10).
 */
import { and, eq, isNull } from "drizzle-orm";
import type { FileInfo, UploadReply, User } from "#protocol";
import { files, users } from "../db/schema";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import type { DB } from "../types";
import { announce, fileColumns, requireFileAccess, toInfo } from "./catalog";
import { storeForm } from "./upload";
import {
  announceVersion,
  deleteVersionRow,
  fileExists,
  findVersion,
  insertPendingVersion,
  markVersionReady,
  requireManager,
  touchPendingVersion,
} from "./versions";

export interface VersionRequest {
  fileId: string;
  user: User;
  contentType: string | undefined;
  contentLength: string | undefined;
  body: ReadableStream<Uint8Array> | null;
}

const gone = () => apiError(404, "not_found", "File not found");

export async function receiveVersion(env: Env, db: DB, req: VersionRequest): Promise<UploadReply> {
  const { user } = req;
  // Refused before anything is read or counted: unknown or deleted file 404, not a member 403, not the uploader or owner 403.
  const file = await requireFileAccess(db, req.fileId, user.id);
  requireManager(file, user.id, "add a version of this file");
  const roomId = file.room_id;
  // The room must know the file before it hears of a version (its own announce may have failed).
  const first = await db
    .select(fileColumns)
    .from(files)
    .innerJoin(users, eq(users.id, files.uploaderId))
    .where(and(eq(files.id, file.file_id), isNull(files.seq)))
    .get();
  if (first) await announce(env, db, toInfo(first));

  const versionId = newId();
  const key = `rooms/${roomId}/${file.file_id}.v/${versionId}`;
  const lost = async () => ((await fileExists(db, file.file_id)) ? apiError(409, "conflict", "The upload stalled and was discarded; try again") : gone());
  let n: number | null = null;
  let retried: Awaited<ReturnType<typeof findVersion>>;
  const out = await storeForm(env, db, { ...req, roomId }, {
    key,
    existing: async (clientId) => {
      retried = await findVersion(db, file.file_id, user.id, clientId);
      return retried ? toInfo(retried) : null;
    },
    begin: (row) => insertPendingVersion(db, { ...row, id: versionId, fileId: file.file_id, uploaderId: user.id, r2Key: key }),
    touch: (now) => touchPendingVersion(db, versionId, now),
    ready: async (set) => (n = await markVersionReady(db, versionId, file.file_id, set)) !== null,
    drop: () => deleteVersionRow(db, versionId, file.file_id),
    lost,
  });
  if ("duplicate" in out && retried) {
    // A retry of a stored version: the original (announced again, if that had failed).
    const announced = await announceVersion(env, db, { ...toInfo(retried), version: retried.version }, retried.versionId, retried.r2Key);
    if (!announced) throw gone();
    return { file: announced, duplicate: true };
  }
  if ("duplicate" in out) throw gone();
  const { stored } = out;
  const info: FileInfo & { version: number } = {
    file_id: file.file_id,
    room_id: roomId,
    filename: stored.name,
    file_type: stored.type,
    file_size: stored.size,
    uploaded_by: file.uploaded_by,
    uploader_id: file.uploader_id,
    uploaded_at: file.uploaded_at,
    description: stored.description,
    has_thumbnail: stored.thumbKey !== null,
    seq: null,
    version: n!,
    version_uploaded_at: stored.createdAt,
    version_uploaded_by: user.username,
    version_uploader_id: user.id,
  };
  const announced = await announceVersion(env, db, info, versionId, key);
  if (!announced) throw gone();
  return { file: announced, duplicate: false };
}
