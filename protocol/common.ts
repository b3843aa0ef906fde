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
} as const;

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
