/**
 * Files: `POST/GET /api/rooms/:id/files` (upload, list) and
 * `GET/DELETE /api/files/:id` (download, delete).
 *
 * An upload streams the `file` part straight into R2 under a server-made key.
 * Its metadata row is `pending` until the bytes are stored, then `ready`; only
 * then does the room append `file_uploaded` (DESIGN.md invariant 6).
 */
import { and, desc, eq, lt, or, sql } from "drizzle-orm";
import { Hono } from "hono";
import { files, memberships, rooms, users } from "../db/schema";
import { MultipartError, MultipartReader, multipartBoundary } from "../files/multipart";
import { cleanFileName, cleanMediaType, contentDisposition, INLINE_IMAGE_TYPES, parseRange } from "../files/names";
import { putStream, TooLargeError } from "../files/store-object";
import { newId } from "../lib/encoding";
import { apiError } from "../lib/errors";
import { query } from "../middleware/validate";
import { ClientId, FileDescription, type FileInfo, FilesQuery } from "#protocol";
import type { AppEnv, DB } from "../types";
import { requireMembership } from "../lib/membership";

/** Largest thumbnail a client may attach (made in the browser, see README). */
export const MAX_THUMBNAIL_BYTES = 256 * 1024;
const THUMB_TYPES = new Set(["image/webp", "image/jpeg", "image/png"]);

export function maxUploadBytes(env: Env): number {
  const n = Number(env.MAX_UPLOAD_BYTES);
  return Number.isSafeInteger(n) && n >= 0 ? n : 104_857_600;
}

/** The columns that make a FileInfo (with `thumbKey`, see toInfo). */
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
};

type FileRow = { thumbKey: string | null } & Omit<FileInfo, "has_thumbnail">;
export const toInfo = ({ thumbKey, ...f }: FileRow): FileInfo => ({ ...f, has_thumbnail: thumbKey !== null });

/** Ready files of a room, newest first, optionally filtered by name. */
export async function listFiles(db: DB, roomId: string, opts: { q?: string; before?: string; limit: number }) {
  const conds = [eq(files.roomId, roomId), eq(files.state, "ready")];
  if (opts.q) conds.push(sql`${files.name} LIKE ${`%${opts.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`} ESCAPE '\\'`);
  if (opts.before) {
    const [ts, id] = opts.before.split(":");
    const t = Number(ts);
    if (Number.isFinite(t) && id) conds.push(or(lt(files.createdAt, t), and(eq(files.createdAt, t), lt(files.id, id)))!);
  }
  const rows = await db
    .select(fileColumns)
    .from(files)
    .innerJoin(users, eq(users.id, files.uploaderId))
    .where(and(...conds))
    .orderBy(desc(files.createdAt), desc(files.id))
    .limit(opts.limit + 1);
  const page = rows.slice(0, opts.limit).map(toInfo);
  const last = page.at(-1);
  return { files: page, next: rows.length > opts.limit && last ? `${last.uploaded_at}:${last.file_id}` : null };
}

async function fileWithRoom(db: DB, fileId: string) {
  return db
    .select({ ...fileColumns, r2Key: files.r2Key, ownerId: rooms.ownerId })
    .from(files)
    .innerJoin(users, eq(users.id, files.uploaderId))
    .innerJoin(rooms, eq(rooms.id, files.roomId))
    .where(and(eq(files.id, fileId), eq(files.state, "ready")))
    .get();
}

/** A file the caller may see: 404 when missing, 403 when not a member of its room. */
async function requireFileAccess(db: DB, fileId: string, userId: string) {
  const file = await fileWithRoom(db, fileId);
  if (!file) throw apiError(404, "not_found", "File not found");
  const member = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.roomId, file.room_id), eq(memberships.userId, userId)))
    .get();
  if (!member) throw apiError(403, "forbidden", "You are not a member of this file's room");
  return file;
}

/** Make sure a ready file has been announced to its room (a retry, or the sweep, repairs a failed announce). */
export async function announce(env: Env, db: DB, info: FileInfo): Promise<FileInfo> {
  if (info.seq !== null) return info;
  const { seq: _unused, ...rest } = info;
  const { seq } = await env.ROOM.getByName(info.room_id).announceFile(rest);
  await db.update(files).set({ seq }).where(eq(files.id, info.file_id));
  return { ...info, seq };
}

export const roomFiles = new Hono<AppEnv>()
  .get("/:id/files", query(FilesQuery), async (c) => {
    const roomId = c.req.param("id");
    await requireMembership(c.var.db, roomId, c.var.auth.user.id);
    return c.json(await listFiles(c.var.db, roomId, c.req.valid("query")));
  })
  .post("/:id/files", async (c) => {
    const roomId = c.req.param("id");
    const { user } = c.var.auth;
    const db = c.var.db;
    await requireMembership(db, roomId, user.id);
    const max = maxUploadBytes(c.env);
    const boundary = multipartBoundary(c.req.header("Content-Type"));
    if (!boundary || !c.req.raw.body) throw apiError(415, "unsupported_media_type", "Send the file as multipart/form-data");
    const declared = Number(c.req.header("Content-Length"));
    // Form overhead (fields, thumbnail, part headers) is small; anything far past the limit is refused unread.
    if (Number.isFinite(declared) && declared > max + MAX_THUMBNAIL_BYTES + 64 * 1024) {
      throw apiError(413, "payload_too_large", `The file is larger than the limit of ${formatBytes(max)}`);
    }

    const room = c.env.ROOM.getByName(roomId);
    const reader = new MultipartReader(c.req.raw.body, boundary);
    const fileId = newId();
    const key = `rooms/${roomId}/${fileId}`;
    let clientId: string | undefined;
    let description = "";
    let thumb: { bytes: Uint8Array; type: string } | undefined;
    let stored: { name: string; type: string; size: number } | undefined;
    let rowCreated = false;
    const cleanup = async () => {
      await c.env.FILES.delete([key, `${key}.thumb`]).catch(() => undefined);
      if (rowCreated) await db.delete(files).where(eq(files.id, fileId));
    };

    try {
      for (let part = await reader.nextPart(); part; part = await reader.nextPart()) {
        if (part.name === "clientId") {
          const parsed = ClientId.safeParse((await reader.text(100)).trim());
          if (!parsed.success) throw apiError(400, "bad_request", "clientId must be a UUID");
          clientId = parsed.data;
          const existing = await db
            .select(fileColumns)
            .from(files)
            .innerJoin(users, eq(users.id, files.uploaderId))
            .where(and(eq(files.roomId, roomId), eq(files.uploaderId, user.id), eq(files.clientId, clientId), eq(files.state, "ready")))
            .get();
          if (existing) {
            await reader.cancel();
            // A retry of an upload that was stored: the original, announced (again, if that had failed).
            return c.json({ file: await announce(c.env, db, toInfo(existing)), duplicate: true }, 200);
          }
        } else if (part.name === "description") {
          description = await reader.text(4 * 500 + 16).catch(() => {
            throw apiError(400, "bad_request", "Description must be at most 500 characters");
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
          if (stored) throw apiError(400, "bad_request", "One file per upload");
          const name = cleanFileName(part.filename);
          const type = cleanMediaType(part.contentType);
          clientId ??= crypto.randomUUID();
          try {
            await db.insert(files).values({
              id: fileId,
              roomId,
              uploaderId: user.id,
              clientId,
              r2Key: key,
              name,
              size: 0,
              type,
              description,
              state: "pending",
              createdAt: Date.now(),
            });
            rowCreated = true;
          } catch (err) {
            if (String(err).includes("UNIQUE")) throw apiError(409, "conflict", "An upload with this clientId is already in progress");
            throw err;
          }
          await room.setUploading(user, true).catch(() => undefined);
          const { size } = await putStream(c.env.FILES, key, reader.body(), { maxBytes: max, contentType: type });
          stored = { name, type, size };
        }
      }
      if (!stored) throw apiError(400, "bad_request", "The upload has no file (form field “file”)");
      checkDescription(description);
      if (thumb) await c.env.FILES.put(`${key}.thumb`, thumb.bytes, { httpMetadata: { contentType: thumb.type } });
    } catch (err) {
      await reader.cancel();
      await cleanup();
      await room.setUploading(user, false).catch(() => undefined);
      if (err instanceof TooLargeError) throw apiError(413, "payload_too_large", `The file is larger than the limit of ${formatBytes(max)}`);
      if (err instanceof MultipartError) throw apiError(400, "bad_request", `The upload could not be read: ${err.message}`);
      throw err;
    }

    const createdAt = Date.now();
    await db
      .update(files)
      .set({ state: "ready", size: stored.size, description, thumbKey: thumb ? `${key}.thumb` : null, createdAt })
      .where(eq(files.id, fileId));
    const info: FileInfo = {
      file_id: fileId,
      room_id: roomId,
      filename: stored.name,
      file_type: stored.type,
      file_size: stored.size,
      uploaded_by: user.username,
      uploader_id: user.id,
      uploaded_at: createdAt,
      description,
      has_thumbnail: thumb !== undefined,
      seq: null,
    };
    return c.json({ file: await announce(c.env, db, info), duplicate: false }, 201);
  });

export const fileApi = new Hono<AppEnv>()
  .get("/:fileId", async (c) => {
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    const inline = INLINE_IMAGE_TYPES.has(file.file_type);
    const range = parseRange(c.req.header("Range"), file.file_size);
    const headers = downloadHeaders(file.filename, inline ? file.file_type : "application/octet-stream", inline);
    if (range === "invalid") {
      headers.set("Content-Range", `bytes */${file.file_size}`);
      return new Response(null, { status: 416, headers });
    }
    const object = await c.env.FILES.get(file.r2Key, range ? { range } : {});
    if (!object) throw apiError(404, "not_found", "File not found");
    headers.set("ETag", object.httpEtag);
    if (range) {
      headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${file.file_size}`);
      headers.set("Content-Length", String(range.length));
      return new Response(object.body, { status: 206, headers });
    }
    headers.set("Content-Length", String(file.file_size));
    return new Response(object.body, { status: 200, headers });
  })
  .get("/:fileId/thumbnail", async (c) => {
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    if (!file.thumbKey) throw apiError(404, "not_found", "This file has no thumbnail");
    const object = await c.env.FILES.get(file.thumbKey);
    if (!object) throw apiError(404, "not_found", "This file has no thumbnail");
    const type = object.httpMetadata?.contentType ?? "image/webp";
    const headers = downloadHeaders(`${file.filename}.thumbnail`, THUMB_TYPES.has(type) ? type : "application/octet-stream", true);
    return new Response(object.body, { headers });
  })
  .delete("/:fileId", async (c) => {
    const { user } = c.var.auth;
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), user.id);
    if (file.uploader_id !== user.id && file.ownerId !== user.id) {
      throw apiError(403, "forbidden", "Only the uploader or the room's owner can delete this file");
    }
    // The room first (idempotent), then the bytes and the row: a retry after a failure converges.
    await c.env.ROOM.getByName(file.room_id).removeFile(file.file_id);
    await c.env.FILES.delete([file.r2Key, ...(file.thumbKey ? [file.thumbKey] : [])]);
    await c.var.db.delete(files).where(eq(files.id, file.file_id));
    return c.body(null, 204);
  });

function checkDescription(description: string): void {
  const parsed = FileDescription.safeParse(description);
  if (!parsed.success) throw apiError(400, "bad_request", parsed.error.issues[0]?.message ?? "Invalid description");
}

/** Headers that keep a user's file inert on our origin (HARDENING U1). */
function downloadHeaders(name: string, type: string, inline: boolean): Headers {
  return new Headers({
    "Content-Type": type,
    "Content-Disposition": contentDisposition(name, inline),
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Accept-Ranges": "bytes",
    "Cross-Origin-Resource-Policy": "same-origin",
  });
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}
