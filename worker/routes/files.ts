/**
 * Files: `POST/GET /api/rooms/:id/files` (upload, list),
 * `GET/DELETE /api/files/:id` (download, delete; `?version=n` downloads an
 * older version), `POST/GET /api/files/:id/versions` (add a version, list
 * them), `GET/POST /api/files/:id/comments` (its comments, comments.ts)
 * and `GET /api/files/:id/preview` (the start of a text file, preview.ts). The work is in worker/files/:
 * the catalog in D1 (catalog.ts), the upload into R2 and its announcement to
 * the room (upload.ts), serving the bytes (download.ts). A file is announced
 * only once its bytes and metadata are stored (docs/architecture.md#invariants).
 */
import { Hono } from "hono";
import { deleteFile, listFiles, requireFileAccess } from "../files/catalog";
import { commentableFile, withCommentCounts } from "../files/comments";
import { fileResponse, thumbnailResponse } from "../files/download";
import { previewResponse } from "../files/preview";
import { receiveUpload } from "../files/upload";
import { receiveVersion } from "../files/version-upload";
import { listVersions, requireVersion } from "../files/versions";
import { requireMembership } from "../middleware/membership";
import { jsonBody, query } from "../middleware/validate";
import { roomFailure } from "./timeline";
import {
  CommentBody,
  CommentsQuery,
  type FileComments,
  FileVersionQuery,
  type FileVersions,
  type FilesPage,
  FilesQuery,
  type SendResult,
  type UploadReply,
} from "#protocol";
import type { AppEnv } from "../types";

export const roomFiles = new Hono<AppEnv>()
  .get("/:id/files", requireMembership(), query(FilesQuery), async (c) => {
    const roomId = c.var.membership.room.id;
    return c.json((await withCommentCounts(c.env, roomId, await listFiles(c.var.db, roomId, c.req.valid("query")))) satisfies FilesPage);
  })
  .post("/:id/files", requireMembership(), async (c) => {
    const { file, duplicate } = await receiveUpload(c.env, c.var.db, {
      roomId: c.var.membership.room.id,
      user: c.var.auth.user,
      contentType: c.req.header("Content-Type"),
      contentLength: c.req.header("Content-Length"),
      body: c.req.raw.body,
    });
    return c.json({ file, duplicate } satisfies UploadReply, duplicate ? 200 : 201);
  });

export const fileApi = new Hono<AppEnv>()
  .get("/:fileId", query(FileVersionQuery), async (c) => {
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    const { version } = c.req.valid("query");
    return fileResponse(c.env.FILES, version === undefined ? file : await requireVersion(c.var.db, file, version), c.req.raw.headers);
  })
  .get("/:fileId/preview", async (c) => {
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    return previewResponse(c.env.FILES, file);
  })
  .get("/:fileId/thumbnail", query(FileVersionQuery), async (c) => {
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    const { version } = c.req.valid("query");
    return thumbnailResponse(c.env.FILES, version === undefined ? file : await requireVersion(c.var.db, file, version));
  })
  .get("/:fileId/versions", async (c) => {
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    return c.json({ versions: await listVersions(c.var.db, file.file_id) } satisfies FileVersions);
  })
  .post("/:fileId/versions", async (c) => {
    const { file, duplicate } = await receiveVersion(c.env, c.var.db, {
      fileId: c.req.param("fileId"),
      user: c.var.auth.user,
      contentType: c.req.header("Content-Type"),
      contentLength: c.req.header("Content-Length"),
      body: c.req.raw.body,
    });
    return c.json({ file, duplicate } satisfies UploadReply, duplicate ? 200 : 201);
  })
  // Comments: the thread on the file's timeline entry, in its room (worker/files/comments.ts).
  .get("/:fileId/comments", query(CommentsQuery), async (c) => {
    const file = await commentableFile(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    const { after, limit } = c.req.valid("query");
    const res = await c.env.ROOM.getByName(file.room_id).fileComments(file.file_id, after ?? 0, limit ?? 100);
    if (!res.ok) roomFailure(res);
    return c.json({ file: { ...file, comments: res.count }, messages: res.messages, hasMore: res.hasMore } satisfies FileComments);
  })
  .post("/:fileId/comments", ...jsonBody(CommentBody), async (c) => {
    const file = await commentableFile(c.var.db, c.req.param("fileId"), c.var.auth.user.id);
    const { clientId, text } = c.req.valid("json");
    const res = await c.env.ROOM.getByName(file.room_id).sendMessage(c.var.auth.user, clientId, text, file.file_id);
    if (!res.ok) roomFailure(res);
    return c.json({ message: res.message, seq: res.seq, duplicate: res.duplicate } satisfies SendResult, res.duplicate ? 200 : 201);
  })
  .delete("/:fileId", async (c) => {
    const { user } = c.var.auth;
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), user.id);
    await deleteFile(c.env, c.var.db, file, user.id);
    return c.body(null, 204);
  });
