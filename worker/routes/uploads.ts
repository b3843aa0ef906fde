/**
 * Resumable uploads (worker/files/resumable.ts): `POST /api/rooms/:id/uploads`
 * starts one (members only), then `PUT /api/uploads/:uploadId/parts/:n`,
 * `GET /api/uploads/:uploadId` (the parts stored), `POST …/complete` and
 * `DELETE /api/uploads/:uploadId` (abort), each only by the user who started
 * it while still a member of the room.
 */
import { Hono } from "hono";
import { StartUploadBody, type UploadParts, type UploadReply, type UploadStarted } from "#protocol";
import { abortUpload, completeUpload, listParts, putPart, requireUpload, startUpload } from "../files/resumable";
import { requireMembership } from "../middleware/membership";
import { jsonBody } from "../middleware/validate";
import type { AppEnv } from "../types";

export const roomUploads = new Hono<AppEnv>().post("/:id/uploads", requireMembership(), ...jsonBody(StartUploadBody), async (c) => {
  const { reply, created } = await startUpload(c.env, c.var.db, c.var.membership.room.id, c.var.auth.user, c.req.valid("json"));
  return c.json(reply satisfies UploadStarted, created ? 201 : 200);
});

export const uploadApi = new Hono<AppEnv>()
  .get("/:uploadId", async (c) => {
    const row = await requireUpload(c.var.db, c.req.param("uploadId"), c.var.auth.user.id);
    return c.json((await listParts(c.var.db, row)) satisfies UploadParts);
  })
  .put("/:uploadId/parts/:n", async (c) => {
    const row = await requireUpload(c.var.db, c.req.param("uploadId"), c.var.auth.user.id);
    const n = /^\d{1,6}$/.test(c.req.param("n")) ? Number(c.req.param("n")) : NaN;
    await putPart(c.env, c.var.db, c.var.auth.user, row, n, c.req.header("Content-Length"), c.req.raw.body);
    return c.json({ part: n });
  })
  .post("/:uploadId/complete", async (c) => {
    const row = await requireUpload(c.var.db, c.req.param("uploadId"), c.var.auth.user.id);
    const { file, duplicate } = await completeUpload(c.env, c.var.db, c.var.auth.user, row, { contentType: c.req.header("Content-Type"), body: c.req.raw.body });
    return c.json({ file, duplicate } satisfies UploadReply, duplicate ? 200 : 201);
  })
  .delete("/:uploadId", async (c) => {
    const row = await requireUpload(c.var.db, c.req.param("uploadId"), c.var.auth.user.id);
    await abortUpload(c.env, c.var.db, c.var.auth.user, row);
    return c.body(null, 204);
  });
