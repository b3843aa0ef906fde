/**
 * `GET /api/files/:id/preview`: the start of a text or code file, as plain
 * text. Only the first PREVIEW_MAX_BYTES are read from R2 (a range read),
 * cut back to a whole UTF-8 character, and served with the download's inert
 * headers (HARDENING U1) as `text/plain; charset=utf-8`, so markup in the
 * file is shown, never run.
 */
import { isPreviewable, PREVIEW_MAX_BYTES } from "#protocol";
import { apiError } from "../lib/errors";
import type { StoredFile } from "./catalog";
import { downloadHeaders } from "./download";

/**
 * The length of the longest prefix of `bytes` that does not end inside a
 * UTF-8 sequence (a lead byte whose continuation bytes were cut off).
 * Invalid bytes elsewhere are left to the decoder (they become U+FFFD).
 */
export function utf8Boundary(bytes: Uint8Array): number {
  const end = bytes.length;
  // A sequence is at most 4 bytes: look back over up to 3 continuation bytes for its lead.
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + need > end ? i : end;
  }
  return end;
}

/** The preview of `file`; 415 `unsupported_media_type` unless it is text (see `isPreviewable`). */
export async function previewResponse(bucket: R2Bucket, file: StoredFile): Promise<Response> {
  if (!isPreviewable(file.file_type, file.filename)) {
    throw apiError(415, "unsupported_media_type", "Only text and code files have a preview; download this one instead");
  }
  const truncated = file.file_size > PREVIEW_MAX_BYTES;
  let bytes = new Uint8Array(0);
  if (file.file_size > 0) {
    const object = await bucket.get(file.r2Key, { range: { offset: 0, length: Math.min(file.file_size, PREVIEW_MAX_BYTES) } });
    if (!object) throw apiError(404, "not_found", "File not found");
    bytes = new Uint8Array(await object.arrayBuffer());
  }
  const text = new TextDecoder("utf-8").decode(truncated ? bytes.subarray(0, utf8Boundary(bytes)) : bytes);
  const body = new TextEncoder().encode(text);
  const headers = downloadHeaders(file.filename, "text/plain; charset=utf-8", true);
  headers.delete("Accept-Ranges");
  headers.set("Content-Length", String(body.byteLength));
  headers.set("X-Parley-Truncated", String(truncated));
  return new Response(body, { status: 200, headers });
}
