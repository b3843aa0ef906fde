/** Serving a stored file or its thumbnail: inert on our origin, with `Range`. */
import { apiError } from "../lib/errors";
import type { StoredFile } from "./catalog";
import { THUMB_TYPES } from "./upload-limits";
import { contentDisposition, INLINE_IMAGE_TYPES } from "./names";

/** Headers that keep a user's file inert on our origin (HARDENING U1). */
export function downloadHeaders(name: string, type: string, inline: boolean): Headers {
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

/**
 * The file's bytes, with R2 doing the HTTP semantics from the request's own
 * headers: `Range` (206, or 416 when unsatisfiable), `If-None-Match` /
 * `If-Modified-Since` (304), `If-Match` / `If-Unmodified-Since` (412), and
 * `If-Range` (a range only while the ETag still matches). Images a browser
 * may show are inline.
 */
export async function fileResponse(bucket: R2Bucket, file: StoredFile, request: Headers): Promise<Response> {
  const inline = INLINE_IMAGE_TYPES.has(file.file_type);
  const headers = downloadHeaders(file.filename, inline ? file.file_type : "application/octet-stream", inline);
  const wantsRange = request.has("Range") && (await rangeStillValid(bucket, file, request.get("If-Range")));
  if (wantsRange && unsatisfiable(request.get("Range")!, file.file_size)) {
    headers.set("Content-Range", `bytes */${file.file_size}`);
    return new Response(null, { status: 416, headers });
  }
  let object: R2Object | R2ObjectBody | null;
  try {
    object = await bucket.get(file.r2Key, { onlyIf: request, ...(wantsRange ? { range: request } : {}) });
  } catch (err) {
    // R2 refuses a range that lies outside the object.
    if (wantsRange && /range/i.test(String(err))) {
      headers.set("Content-Range", `bytes */${file.file_size}`);
      return new Response(null, { status: 416, headers });
    }
    throw err;
  }
  if (!object) throw apiError(404, "not_found", "File not found");
  headers.set("ETag", object.httpEtag);
  headers.set("Last-Modified", object.uploaded.toUTCString());
  if (!("body" in object)) {
    // A precondition failed: 304 for the cache validators of a GET, 412 for If-Match / If-Unmodified-Since.
    const cached = request.has("If-None-Match") || request.has("If-Modified-Since");
    return new Response(null, { status: cached ? 304 : 412, headers });
  }
  const range = object.range as { offset?: number; length?: number; suffix?: number } | undefined;
  if (wantsRange && range) {
    const length = range.length ?? (range.suffix !== undefined ? Math.min(range.suffix, object.size) : object.size - (range.offset ?? 0));
    const offset = range.suffix !== undefined ? object.size - length : (range.offset ?? 0);
    if (offset !== 0 || length !== object.size) {
      headers.set("Content-Range", `bytes ${offset}-${offset + length - 1}/${object.size}`);
      headers.set("Content-Length", String(length));
      return new Response(object.body, { status: 206, headers });
    }
  }
  headers.set("Content-Length", String(object.size));
  return new Response(object.body, { status: 200, headers });
}

/**
 * A range that starts past the end (or asks for the last 0 bytes): 416.
 * R2 parses and applies the rest; local R2 (Miniflare) would answer these
 * with the whole object instead of refusing them as R2 does.
 */
function unsatisfiable(range: string, size: number): boolean {
  const m = /^\s*bytes=(\d*)-(\d*)\s*$/.exec(range);
  if (!m) return false;
  return m[1] === "" ? m[2] === "0" || size === 0 : Number(m[1]) >= size;
}

/** `If-Range`: a range is honoured only if the validator (ETag or date) still names this version. */
async function rangeStillValid(bucket: R2Bucket, file: StoredFile, ifRange: string | null): Promise<boolean> {
  if (ifRange === null) return true;
  const head = await bucket.head(file.r2Key);
  if (!head) return false;
  if (ifRange.startsWith('"') || ifRange.startsWith("W/")) return ifRange === head.httpEtag;
  const date = Date.parse(ifRange);
  return Number.isFinite(date) && Math.floor(head.uploaded.getTime() / 1000) <= Math.floor(date / 1000);
}

/** The file's thumbnail; 404 when it has none. */
export async function thumbnailResponse(bucket: R2Bucket, file: StoredFile): Promise<Response> {
  if (!file.thumbKey) throw apiError(404, "not_found", "This file has no thumbnail");
  const object = await bucket.get(file.thumbKey);
  if (!object) throw apiError(404, "not_found", "This file has no thumbnail");
  const type = object.httpMetadata?.contentType ?? "image/webp";
  const headers = downloadHeaders(`${file.filename}.thumbnail`, THUMB_TYPES.has(type) ? type : "application/octet-stream", true);
  return new Response(object.body, { headers });
}
