/**
 * Files: `POST/GET /api/rooms/:id/files` (upload, list),
 * `GET/DELETE /api/files/:id` (download, delete; `?version=n` downloads an
 * older version), `POST/GET /api/files/:id/versions` (add a version, list
 * them) and `GET /api/files/:id/preview` (the start of a text file,
 * preview.ts). The work is in worker/files/:
 * the catalog in D1 (catalog.ts), the upload into R2 and its announcement to
 * the room (upload.ts), serving the bytes (download.ts). A file is announced
 * only once its bytes and metadata are stored (docs/architecture.md#invariants).
 */
import { Hono } from "hono";
import { deleteFile, listFiles, requireFileAccess } from "../files/catalog";
import { fileResponse, thumbnailResponse } from "../files/download";
import { previewResponse } from "../files/preview";
import { receiveUpload } from "../files/upload";
import { receiveVersion } from "../files/version-upload";
import { listVersions, requireVersion } from "../files/versions";
import { requireMembership } from "../middleware/membership";
import { query } from "../middleware/validate";
import { FileVersionQuery, type FileVersions, type FilesPage, FilesQuery, type UploadReply } from "#protocol";
import type { AppEnv } from "../types";

export const roomFiles = new Hono<AppEnv>()
  .get("/:id/files", requireMembership(), query(FilesQuery), async (c) => {
    return c.json((await listFiles(c.var.db, c.var.membership.room.id, c.req.valid("query"))) satisfies FilesPage);
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
  .delete("/:fileId", async (c) => {
    const { user } = c.var.auth;
    const file = await requireFileAccess(c.var.db, c.req.param("fileId"), user.id);
    await deleteFile(c.env, c.var.db, file, user.id);
    return c.body(null, 204);
  });
