/**
 * The protocol's base: limits, error codes, the error body and text
 * normalisation. Importing it first configures zod for the SPA's CSP.
 */
import { z } from "zod";
// Parse without `new Function`: the SPA's CSP forbids eval, and zod would probe
// for it when the first object schema below is built. (Workers skip that path anyway.)
z.config({ jitless: true });

/** Limits shared by server and client. */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 256,
  roomNameMax: 80,
  messageMax: 4000,
  descriptionMax: 500,
  /** Largest WebSocket frame the app accepts, in bytes. */
  frameMaxBytes: 64 * 1024,
  /** Largest JSON request body, in bytes. */
  jsonBodyMaxBytes: 64 * 1024,
  /**
   * Largest upload, in bytes (100 MiB): the server's default. An operator
   * may change the server's limit with `MAX_UPLOAD_BYTES`.
   */
  uploadMaxBytes: 100 * 1024 * 1024,
  /** Largest thumbnail attached to an upload, in bytes. */
  thumbnailMaxBytes: 256 * 1024,
  /** Longest side of a thumbnail, in px (clients make them; see docs/protocol.md, Files). */
  thumbnailMaxSide: 320,
  /** Longest file-name search (`GET /api/rooms/:id/files?q=`). */
  fileSearchMax: 100,
  /** Different emoji on one message (a reaction with a new emoji beyond this is refused). */
  reactionsPerMessage: 20,
  /** Longest message search (`GET /api/search?q=`), in characters. */
  searchMax: 200,
  /** Members one message counts as mentioned (`<@userId>` tokens beyond these stay text). */
  mentionsPerMessage: 50,
} as const;

/** The media types a thumbnail may have. */
export const THUMBNAIL_TYPES = ["image/webp", "image/jpeg", "image/png"] as const;
export type ThumbnailType = (typeof THUMBNAIL_TYPES)[number];

const BYTE_UNITS = ["KB", "MB", "GB", "TB"] as const;

/**
 * A byte count for people, in powers of 1024: "812 B", "4.2 KB", "12 MB",
 * "1.5 GB" (one decimal below 10, whole numbers above). The one formatter of
 * sizes, used by the SPA and in the server's error messages.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let n = bytes / 1024;
  let unit = 0;
  for (;;) {
    const rounded = n < 10 ? Math.round(n * 10) / 10 : Math.round(n);
    // 1023.7 KB would round to "1024 KB": say "1 MB" instead.
    if (rounded < 1024 || unit === BYTE_UNITS.length - 1) return `${rounded} ${BYTE_UNITS[unit]}`;
    n /= 1024;
    unit++;
  }
}

/** Error codes carried in `{ error: { code, message } }`. */
export const ERROR_CODES = [
  "bad_request",
  "invalid_json",
  "unsupported_media_type",
  "payload_too_large",
  "unauthorized",
  "forbidden",
  "bad_origin",
  "not_found",
  "conflict",
  "username_taken",
  "invalid_credentials",
  "rate_limited",
  "resync_required",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    retryAfter: z.number().optional(),
    /** With `resync_required`: the head to reload at. */
    seq: z.number().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** NFKC-normalise user-entered text so equal-looking input compares equal. */
export const normalize = (s: string): string => s.normalize("NFKC");
