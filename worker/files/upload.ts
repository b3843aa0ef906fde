/**
 * An upload (`POST /api/rooms/:id/files`): the multipart form is read part by
 * part and the `file` part streams straight into R2 under a server-made key,
 * never held whole. Its catalog row is `pending` until the bytes are stored,
 * then `ready`; only then does the room append `file_uploaded`
 * (docs/architecture.md#invariants). A failure leaves nothing stored.
 */
import { ClientId, FileDescription, type FileInfo, formatBytes, LIMITS, type UploadReply, type User } from "#protocol";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import type { DB } from "../types";
import { accountRates } from "../lib/limits";
import { requireWindow, returnToWindow } from "../lib/rate-window";
import { announce, deleteRow, findUpload, insertPending, markReady, touchPending } from "./catalog";
import { MAX_THUMBNAIL_BYTES, maxUploadBytes, THUMB_TYPES } from "./upload-limits";
import { MultipartError, MultipartReader, multipartBoundary } from "./multipart";
import { cleanFileName, cleanMediaType } from "./names";
import { putStream, TooLargeError } from "./store-object";

/** Room for the form around the file (fields, part headers) when judging a declared Content-Length. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

/** A streaming upload notes its progress in its row at most this often (the sweep keeps it while it moves). */
export const PROGRESS_EVERY_MS = 60 * 1000;

const orderError = () =>
  apiError(400, "bad_request", "Form fields (clientId, description, thumbnail) must come before the file, as in an S3 POST form");

export interface UploadRequest {
  roomId: string;
  /** The uploader (of the file, or of a new version of it), a member of the room. */
  user: User;
  contentType: string | undefined;
  contentLength: string | undefined;
  body: ReadableStream<Uint8Array> | null;
}

function checkDescription(description: string): void {
  const parsed = FileDescription.safeParse(description);
  if (!parsed.success) throw apiError(400, "bad_request", parsed.error.issues[0]?.message ?? "Invalid description");
}

const swept = () => apiError(409, "conflict", "The upload stalled and was discarded; try again");

const tooLarge = (max: number) => apiError(413, "payload_too_large", `The file is larger than the limit of ${formatBytes(max)}`);

/** The stored bytes of a form, as the catalog row now has them. */
export interface StoredForm {
  name: string;
  type: string;
  size: number;
  description: string;
  thumbKey: string | null;
  createdAt: number;
}

/** Where a form's file goes: an upload's `files` row, or a version's `file_versions` row (files/version-upload.ts). */
export interface FormTarget {
  /** The R2 key of the bytes; the thumbnail goes to `${key}.thumb`. */
  key: string;
  /** A stored upload by this user with this clientId (a retry): answered before any bytes are read. */
  existing(clientId: string): Promise<FileInfo | null>;
  /** The pending row (409 while the same clientId is uploading). */
  begin(row: { clientId: string; name: string; type: string; description: string }): Promise<void>;
  /** The upload is still moving; false when its row is gone. */
  touch(now: number): Promise<boolean>;
  /** Pending becomes ready; false when the row is gone. */
  ready(set: { size: number; description: string; thumbKey: string | null; createdAt: number }): Promise<boolean>;
  drop(): Promise<void>;
  /** Why the row went away (the sweep took it; or, for a version, its file was deleted). */
  lost(): Promise<Error>;
}

/**
 * Store an upload: the form's `clientId` (idempotency: a retry of a stored
 * upload answers the original before its bytes are read), `description`,
 * `thumbnail`, then `file` — in that order, as in an S3 POST form: a field
 * after the file is a 400 and nothing of the upload stays (HARDENING U8).
 * 415 for a non-multipart body, 413 over the limit, 400 for a malformed
 * form, 409 while the same clientId is uploading, 429 over the uploads or
 * bytes per hour (S11), 409 if the sweep removed the upload as dead (U9).
 */
export async function receiveUpload(env: Env, db: DB, req: UploadRequest): Promise<UploadReply> {
  const { roomId, user } = req;
  const fileId = newId();
  const key = `rooms/${roomId}/${fileId}`;
  const out = await storeForm(env, db, req, {
    key,
    existing: (clientId) => findUpload(db, roomId, user.id, clientId),
    begin: (row) => insertPending(db, { ...row, id: fileId, roomId, uploaderId: user.id, r2Key: key }),
    touch: (now) => touchPending(db, fileId, now),
    ready: (set) => markReady(db, fileId, set),
    drop: () => deleteRow(db, fileId),
    lost: async () => swept(),
  });
  if ("duplicate" in out) return { file: await announce(env, db, out.duplicate), duplicate: true };
  return { file: await announceStored(env, db, { fileId, roomId, user, stored: out.stored }), duplicate: false };
}

/**
 * A new file's row is ready: announce it to its room (`file_uploaded`,
 * counted as unread) and answer it. Shared by the form upload and the
 * resumable one (files/resumable.ts).
 */
export function announceStored(env: Env, db: DB, up: { fileId: string; roomId: string; user: User; stored: StoredForm }): Promise<FileInfo> {
  const { fileId, roomId, user, stored } = up;
  const info: FileInfo = {
    file_id: fileId,
    room_id: roomId,
    filename: stored.name,
    file_type: stored.type,
    file_size: stored.size,
    uploaded_by: user.username,
    uploader_id: user.id,
    uploaded_at: stored.createdAt,
    description: stored.description,
    has_thumbnail: stored.thumbKey !== null,
    seq: null,
    version: 1,
    version_uploaded_at: stored.createdAt,
    version_uploaded_by: user.username,
    version_uploader_id: user.id,
  };
  return announce(env, db, info);
}

/**
 * Read a multipart form into R2 and a catalog row (see receiveUpload for the
 * rules; versions follow the same ones). A failure leaves nothing stored:
 * not the bytes, not the thumbnail, not the row, and the S11 allowance is
 * given back.
 */
export async function storeForm(env: Env, db: DB, req: UploadRequest, target: FormTarget): Promise<{ duplicate: FileInfo } | { stored: StoredForm }> {
  const { roomId, user } = req;
  const max = maxUploadBytes(env);
  const boundary = multipartBoundary(req.contentType);
  if (!boundary || !req.body) throw apiError(415, "unsupported_media_type", "Send the file as multipart/form-data");
  const declared = Number(req.contentLength);
  // Form overhead (fields, thumbnail, part headers) is small; anything far past the limit is refused unread.
  if (Number.isFinite(declared) && declared > max + MAX_THUMBNAIL_BYTES + FORM_OVERHEAD_BYTES) throw tooLarge(max);
  // S11: uploads and bytes per user per hour, taken up front (the declared size) and given back if nothing is stored.
  const rates = accountRates(env);
  const bytesTaken = Number.isFinite(declared) && declared > 0 ? declared : 0;
  await requireWindow(db, `up:${user.id}`, rates.uploadCount, "uploads");
  try {
    await requireWindow(db, `upb:${user.id}`, rates.uploadBytes, "uploaded bytes", bytesTaken);
  } catch (err) {
    await returnToWindow(db, `up:${user.id}`);
    throw err;
  }
  const giveBack = () => Promise.all([returnToWindow(db, `up:${user.id}`), returnToWindow(db, `upb:${user.id}`, bytesTaken)]).catch(() => undefined);

  const room = env.ROOM.getByName(roomId);
  const reader = new MultipartReader(req.body, boundary);
  const { key } = target;
  let clientId: string | undefined;
  let description = "";
  let thumb: { bytes: Uint8Array; type: string } | undefined;
  let stored: { name: string; type: string; size: number } | undefined;
  let rowCreated = false;
  let readyAt: number;

  try {
    for (let part = await reader.nextPart(); part; part = await reader.nextPart()) {
      if (stored) throw orderError();
      if (part.name === "clientId") {
        const parsed = ClientId.safeParse((await reader.text(100)).trim());
        if (!parsed.success) throw apiError(400, "bad_request", "clientId must be a UUID");
        clientId = parsed.data;
        const existing = await target.existing(clientId);
        if (existing) {
          await reader.cancel();
          await giveBack();
          // A retry of an upload that was stored: the original (the caller announces it again if that had failed).
          return { duplicate: existing };
        }
      } else if (part.name === "description") {
        // At most 4 UTF-8 bytes per character, and a little for a trailing newline.
        description = await reader.text(4 * LIMITS.descriptionMax + 16).catch(() => {
          throw apiError(400, "bad_request", `Description must be at most ${LIMITS.descriptionMax} characters`);
        });
        checkDescription(description);
      } else if (part.name === "thumbnail") {
        const type = cleanMediaType(part.contentType);
        if (!THUMB_TYPES.has(type)) throw apiError(400, "bad_request", "A thumbnail must be WebP, JPEG or PNG");
        const bytes = await reader.bytes(MAX_THUMBNAIL_BYTES).catch(() => {
          throw apiError(400, "bad_request", `A thumbnail must be at most ${formatBytes(MAX_THUMBNAIL_BYTES)}`);
        });
        thumb = { bytes, type };
      } else if (part.name === "file") {
        const name = cleanFileName(part.filename);
        const type = cleanMediaType(part.contentType);
        clientId ??= crypto.randomUUID();
        await target.begin({ clientId, name, type, description });
        rowCreated = true;
        await room.setUploading(user, true).catch(() => undefined);
        let noted = Date.now();
        const onPart = async () => {
          if (Date.now() - noted < PROGRESS_EVERY_MS) return;
          noted = Date.now();
          if (!(await target.touch(noted))) throw await target.lost();
        };
        const { size } = await putStream(env.FILES, key, reader.body(), { maxBytes: max, contentType: type, onPart });
        stored = { name, type, size };
      }
    }
    if (!stored) throw apiError(400, "bad_request", "The upload has no file (form field “file”)");
    checkDescription(description);
    if (thumb) await env.FILES.put(`${key}.thumb`, thumb.bytes, { httpMetadata: { contentType: thumb.type } });
    // U9: finishing checks that the row is still there; if the sweep took it, nothing is announced.
    readyAt = Date.now();
    if (!(await target.ready({ size: stored.size, description, thumbKey: thumb ? `${key}.thumb` : null, createdAt: readyAt }))) throw await target.lost();
  } catch (err) {
    await reader.cancel();
    await env.FILES.delete([key, `${key}.thumb`]).catch(() => undefined);
    if (rowCreated) await target.drop();
    await room.setUploading(user, false).catch(() => undefined);
    await giveBack();
    if (err instanceof TooLargeError) throw tooLarge(max);
    if (err instanceof MultipartError) throw apiError(400, "bad_request", `The upload could not be read: ${err.message}`);
    throw err;
  }
  return { stored: { ...stored, description, thumbKey: thumb ? `${key}.thumb` : null, createdAt: readyAt } };
}
