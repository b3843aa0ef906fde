/**
 * Comments on files (issue #16): a file's comments are the thread on its
 * timeline entry, kept by its room like any thread (room/threads.ts) — the
 * room is their one authority, and also of their count. D1 says only who
 * may see the file (requireFileAccess); the lists merge the room's counts in.
 */
import type { FileInfo, FilesPage } from "#protocol";
import type { DB } from "../types";
import { requireFileAccess, toInfo } from "./catalog";

/** A file the caller may see, as listed (FileInfo), and the room it belongs to. */
export async function commentableFile(db: DB, fileId: string, userId: string): Promise<FileInfo> {
  return toInfo(await requireFileAccess(db, fileId, userId));
}

/**
 * Put the room's comment counts on a page of its files (one RPC, rows read
 * only). The counts are an extra: if the room does not answer, the page is
 * still served (without them) and the next list or event brings them.
 */
export async function withCommentCounts(env: Env, roomId: string, page: FilesPage): Promise<FilesPage> {
  if (!page.files.length) return page;
  try {
    const counts = await env.ROOM.getByName(roomId).commentCounts(page.files.map((f) => f.file_id));
    return { ...page, files: page.files.map((f) => (counts[f.file_id] ? { ...f, comments: counts[f.file_id] } : f)) };
  } catch (err) {
    console.error(`files of room ${roomId}: comment counts unavailable`, err);
    return page;
  }
}
