/**
 * Resumable uploads (`/api/rooms/:id/uploads`, `/api/uploads/:uploadId…`):
 * a large file goes up as an R2 multipart upload, one UPLOAD_PART_SIZE part
 * per request, so a client that loses its connection asks which parts are
 * stored and sends only the missing ones. The state lives in D1 (`uploads`,
 * one `upload_parts` row with R2's etag per stored part): any isolate can
 * take the next part, and nothing is written per room member.
 *
 * Only the user who started an upload sees it (anyone else: 404, as if it
 * did not exist), and only while still a member of its room (403). On
 * completion the bytes are keyed and catalogued exactly like a form upload
 * (files/upload.ts): a `files` row `pending` → `ready` under
 * `rooms/<room>/<fileId>`, then `file_uploaded` through the same announce
 * path, so downloads, deletion, versions and the sweep treat it like any
 * other file. The sweep aborts uploads not completed within UPLOAD_MAX_AGE_MS.
 */
import { and, asc, eq, lt } from "drizzle-orm";
import { formatBytes, type FileInfo, StartUploadBody, UPLOAD_PART_SIZE, type UploadParts, type UploadReply, type UploadStarted, type User } from "#protocol";
import { uploadParts, uploads } from "../db/schema";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { accountRates } from "../lib/limits";
import { loadMembership } from "../lib/membership";
import { requireWindow, returnToWindow } from "../lib/rate-window";
import type { DB } from "../types";
import { announce, deleteRow, findUpload, insertPending, markReady } from "./catalog";
import { cleanFileName, cleanMediaType } from "./names";
import { announceStored } from "./upload";
import { MAX_THUMBNAIL_BYTES, maxUploadBytes, THUMB_TYPES } from "./upload-limits";

/** An upload not completed this long after it started is aborted by the sweep (and a completed one forgotten). */
export const UPLOAD_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export type UploadRow = typeof uploads.$inferSelect;

const notFound = () => apiError(404, "not_found", "Upload not found");

/** How many parts an upload of `size` has, and the size of part `n`. */
export const partCount = (row: Pick<UploadRow, "size" | "partSize">): number => Math.ceil(row.size / row.partSize);
const partBytes = (row: Pick<UploadRow, "size" | "partSize">, n: number): number => (n < partCount(row) ? row.partSize : row.size - row.partSize * (partCount(row) - 1));

/** The stored file of a completed upload, announced (a retry repairs a failed announce). */
async function storedFile(env: Env, db: DB, row: UploadRow): Promise<FileInfo | null> {
  const file = await findUpload(db, row.roomId, row.uploaderId, row.clientId);
  return file ? announce(env, db, file) : null;
}

const storedParts = async (db: DB, uploadId: string): Promise<{ partNumber: number; etag: string }[]> =>
  (await db.select({ partNumber: uploadParts.n, etag: uploadParts.etag }).from(uploadParts).where(eq(uploadParts.uploadId, uploadId)).orderBy(asc(uploadParts.n)));

/**
 * Start an upload (201), or answer the one this user started with the same
 * clientId in this room (200: with the parts stored, or the stored `file`
 * once completed; a form upload with that clientId counts too). 413 over the
 * limit; 429 over the uploads or bytes per hour (S11, taken here for the
 * declared size and given back on abort).
 */
export async function startUpload(env: Env, db: DB, roomId: string, user: User, body: StartUploadBody): Promise<{ reply: UploadStarted; created: boolean }> {
  const max = maxUploadBytes(env);
  if (body.size > max) throw apiError(413, "payload_too_large", `The file is larger than the limit of ${formatBytes(max)}`);
  const again = await db
    .select()
    .from(uploads)
    .where(and(eq(uploads.roomId, roomId), eq(uploads.uploaderId, user.id), eq(uploads.clientId, body.clientId)))
    .get();
  if (again) {
    const reply: UploadStarted = { uploadId: again.id, partSize: again.partSize };
    if (again.state === "done") {
      const file = await storedFile(env, db, again);
      if (file) return { reply: { ...reply, file }, created: false };
      // The file was deleted since: this clientId starts afresh.
      await db.delete(uploads).where(eq(uploads.id, again.id));
    } else {
      if (again.size !== body.size) throw apiError(409, "conflict", "This clientId belongs to an upload of another size; start with a new one");
      return { reply: { ...reply, parts: (await storedParts(db, again.id)).map((p) => p.partNumber) }, created: false };
    }
  }
  const formUpload = await findUpload(db, roomId, user.id, body.clientId);
  if (formUpload) return { reply: { uploadId: "", partSize: UPLOAD_PART_SIZE, file: await announce(env, db, formUpload) }, created: false };

  const rates = accountRates(env);
  await requireWindow(db, `up:${user.id}`, rates.uploadCount, "uploads");
  try {
    await requireWindow(db, `upb:${user.id}`, rates.uploadBytes, "uploaded bytes", body.size);
  } catch (err) {
    await returnToWindow(db, `up:${user.id}`);
    throw err;
  }
  const fileId = newId();
  const r2Key = `rooms/${roomId}/${fileId}`;
  const type = cleanMediaType(body.type);
  const multipart = await env.FILES.createMultipartUpload(r2Key, { httpMetadata: { contentType: type } });
  const row: UploadRow = {
    id: newId(),
    roomId,
    uploaderId: user.id,
    clientId: body.clientId,
    fileId,
    r2Key,
    r2UploadId: multipart.uploadId,
    name: cleanFileName(body.name),
    size: body.size,
    type,
    description: body.description ?? "",
    partSize: UPLOAD_PART_SIZE,
    state: "uploading",
    createdAt: Date.now(),
  };
  try {
    await db.insert(uploads).values(row);
  } catch (err) {
    await multipart.abort().catch(() => undefined);
    await giveBack(db, row);
    // The same clientId started at the same moment: answer that one.
    if (String(err).includes("UNIQUE")) return startUpload(env, db, roomId, user, body);
    throw err;
  }
  await env.ROOM.getByName(roomId)
    .setUploading(user, true)
    .catch(() => undefined);
  return { reply: { uploadId: row.id, partSize: row.partSize, parts: [] }, created: true };
}

const giveBack = (db: DB, row: UploadRow) =>
  Promise.all([returnToWindow(db, `up:${row.uploaderId}`), returnToWindow(db, `upb:${row.uploaderId}`, row.size)]).catch(() => undefined);

/** The caller's upload: 404 when there is none (or it is someone else's), 403 when no longer a member of its room. */
export async function requireUpload(db: DB, uploadId: string, userId: string): Promise<UploadRow> {
  const row = await db.select().from(uploads).where(eq(uploads.id, uploadId)).get();
  if (!row || row.uploaderId !== userId) throw notFound();
  await loadMembership(db, row.roomId, userId);
  return row;
}

/** Read at most `max` bytes of a body; null when it holds more. */
async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(max);
  let fill = 0;
  if (!body) return out.subarray(0, 0);
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out.subarray(0, fill);
    if (fill + value.length > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    out.set(value, fill);
    fill += value.length;
  }
}

/**
 * Store part `n` (from 1): every part but the last exactly `partSize` bytes,
 * the last the remainder; anything else (or `n` out of range) is a 400 and
 * stores nothing. Sending a stored part again replaces it.
 */
export async function putPart(env: Env, db: DB, user: User, row: UploadRow, n: number, contentLength: string | undefined, body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (row.state === "done") throw apiError(409, "conflict", "The upload is already complete");
  const count = partCount(row);
  if (!Number.isSafeInteger(n) || n < 1 || n > count) throw apiError(400, "bad_request", `Part number must be from 1 to ${count}`);
  const expected = partBytes(row, n);
  const wrongSize = (got: number | string) => apiError(400, "bad_request", `Part ${n} must be exactly ${expected} bytes (got ${got})`);
  const declared = contentLength === undefined ? NaN : Number(contentLength);
  if (Number.isFinite(declared) && declared !== expected) {
    await body?.cancel().catch(() => undefined);
    throw wrongSize(declared);
  }
  const bytes = await readAtMost(body, expected);
  if (!bytes) throw wrongSize("more");
  if (bytes.length !== expected) throw wrongSize(bytes.length);
  const part = await env.FILES.resumeMultipartUpload(row.r2Key, row.r2UploadId).uploadPart(n, bytes);
  try {
    await db
      .insert(uploadParts)
      .values({ uploadId: row.id, n, etag: part.etag })
      .onConflictDoUpdate({ target: [uploadParts.uploadId, uploadParts.n], set: { etag: part.etag } });
  } catch (err) {
    // Aborted (or swept) while the part was on its way.
    if (String(err).includes("FOREIGN KEY")) throw notFound();
    throw err;
  }
  await env.ROOM.getByName(row.roomId)
    .setUploading(user, true)
    .catch(() => undefined);
}

/** The parts stored so far (once completed: all of them, so a client that lost the answer only completes again). */
export async function listParts(db: DB, row: UploadRow): Promise<UploadParts> {
  const parts = row.state === "done" ? Array.from({ length: partCount(row) }, (_, i) => i + 1) : (await storedParts(db, row.id)).map((p) => p.partNumber);
  return { uploadId: row.id, partSize: row.partSize, size: row.size, parts };
}

/**
 * Finish: with every part stored, R2 joins them into the object, the `files`
 * row goes pending → ready (with an optional thumbnail: the body, as
 * image/webp, jpeg or png) and the room announces it. 400 naming the parts
 * still missing. A repeat answers the same file with `duplicate: true`.
 */
export async function completeUpload(
  env: Env,
  db: DB,
  user: User,
  row: UploadRow,
  thumbnail: { contentType: string | undefined; body: ReadableStream<Uint8Array> | null },
): Promise<UploadReply> {
  // Completed before (perhaps only half-way through the bookkeeping below): the same file.
  const before = await storedFile(env, db, row);
  if (before) {
    if (row.state !== "done") await markDone(db, row.id);
    return { file: before, duplicate: true };
  }
  if (row.state === "done") throw notFound();
  const parts = await storedParts(db, row.id);
  const have = new Set(parts.map((p) => p.partNumber));
  const missing = Array.from({ length: partCount(row) }, (_, i) => i + 1).filter((n) => !have.has(n));
  if (missing.length > 0) {
    const list = missing.length > 10 ? `${missing.slice(0, 10).join(", ")} and ${missing.length - 10} more` : missing.join(", ");
    throw apiError(400, "bad_request", `The upload is missing part${missing.length > 1 ? "s" : ""} ${list}`);
  }
  const thumb = await readThumbnail(thumbnail);
  const thumbKey = thumb ? `${row.r2Key}.thumb` : null;

  await insertPending(db, { id: row.fileId, roomId: row.roomId, uploaderId: user.id, clientId: row.clientId, r2Key: row.r2Key, name: row.name, type: row.type, description: row.description });
  let readyAt: number;
  try {
    try {
      await env.FILES.resumeMultipartUpload(row.r2Key, row.r2UploadId).complete(parts);
    } catch (err) {
      // A completion whose answer was lost has already made the object: go on with it.
      const made = await env.FILES.head(row.r2Key);
      if (made?.size !== row.size) throw err;
    }
    if (thumb) await env.FILES.put(thumbKey!, thumb.bytes, { httpMetadata: { contentType: thumb.type } });
    readyAt = Date.now();
    if (!(await markReady(db, row.fileId, { size: row.size, description: row.description, thumbKey, createdAt: readyAt }))) {
      throw apiError(409, "conflict", "The upload stalled and was discarded; try again");
    }
  } catch (err) {
    // The upload stays resumable (its parts are still R2's unless it completed): a retry of complete can still succeed.
    await deleteRow(db, row.fileId);
    throw err;
  }
  await markDone(db, row.id);
  const stored = { name: row.name, type: row.type, size: row.size, description: row.description, thumbKey, createdAt: readyAt };
  return { file: await announceStored(env, db, { fileId: row.fileId, roomId: row.roomId, user, stored }), duplicate: false };
}

/** A completed upload keeps its row (a repeat answers the file) but not its parts'. */
const markDone = (db: DB, uploadId: string) =>
  db.batch([db.update(uploads).set({ state: "done" }).where(eq(uploads.id, uploadId)), db.delete(uploadParts).where(eq(uploadParts.uploadId, uploadId))]);

/** The thumbnail carried by a complete request (none for an empty or JSON body). */
async function readThumbnail(t: { contentType: string | undefined; body: ReadableStream<Uint8Array> | null }): Promise<{ bytes: Uint8Array; type: string } | null> {
  const type = cleanMediaType(t.contentType);
  if (!t.body || !t.contentType || type === "application/json") {
    await t.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!THUMB_TYPES.has(type)) throw apiError(400, "bad_request", "A thumbnail must be WebP, JPEG or PNG");
  const bytes = await readAtMost(t.body, MAX_THUMBNAIL_BYTES);
  if (!bytes) throw apiError(400, "bad_request", `A thumbnail must be at most ${formatBytes(MAX_THUMBNAIL_BYTES)}`);
  return bytes.length > 0 ? { bytes, type } : null;
}

/** Abort: R2 drops the parts, the row goes, the S11 allowance comes back. A completed upload's file stays (delete it as a file). */
export async function abortUpload(env: Env, db: DB, user: User, row: UploadRow): Promise<void> {
  if (row.state === "uploading") {
    await env.FILES.resumeMultipartUpload(row.r2Key, row.r2UploadId)
      .abort()
      .catch(() => undefined);
    await giveBack(db, row);
    await env.ROOM.getByName(row.roomId)
      .setUploading(user, false)
      .catch(() => undefined);
  }
  await db.delete(uploads).where(eq(uploads.id, row.id));
}

/** The sweep's part: abort uploads older than UPLOAD_MAX_AGE_MS, forget completed ones as old. */
export async function sweepUploads(env: Env, db: DB, now = Date.now()): Promise<number> {
  const old = await db
    .select({ id: uploads.id, r2Key: uploads.r2Key, r2UploadId: uploads.r2UploadId, state: uploads.state })
    .from(uploads)
    .where(lt(uploads.createdAt, now - UPLOAD_MAX_AGE_MS))
    .limit(500);
  for (const u of old) {
    if (u.state === "uploading") {
      await env.FILES.resumeMultipartUpload(u.r2Key, u.r2UploadId)
        .abort()
        .catch(() => undefined);
    }
    await db.delete(uploads).where(eq(uploads.id, u.id));
  }
  return old.length;
}
