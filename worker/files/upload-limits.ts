/** The Worker's reading of the upload limits, which live in #protocol (LIMITS, THUMBNAIL_TYPES). */
import { LIMITS, THUMBNAIL_TYPES } from "#protocol";

/** Largest thumbnail a client may attach (made in the browser, see README). */
export const MAX_THUMBNAIL_BYTES = LIMITS.thumbnailMaxBytes;
/** The media types a thumbnail may have (and is served as). */
export const THUMB_TYPES: ReadonlySet<string> = new Set<string>(THUMBNAIL_TYPES);

/** The upload limit: `MAX_UPLOAD_BYTES` from [vars], or the protocol's default. */
export function maxUploadBytes(env: Env): number {
  const n = Number(env.MAX_UPLOAD_BYTES);
  return Number.isSafeInteger(n) && n >= 0 ? n : LIMITS.uploadMaxBytes;
}
