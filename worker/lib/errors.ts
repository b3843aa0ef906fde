/**
 * The one error shape of the API: `{ error: { code, message } }`.
 * Throw `apiError(...)` anywhere in a handler; `app.onError` turns it into
 * the response. Nothing else (no stack, no internals) reaches a client.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorBody, ErrorCode } from "#protocol";

/** An error response in the standard shape, as an exception to throw. */
export function apiError(
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): HTTPException {
  return new HTTPException(status, { message, res: errorResponse(status, code, message, headers, extra) });
}

/** A JSON error response in the standard shape. */
export function errorResponse(
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Response {
  const body: ErrorBody = { error: { code, message, ...extra } };
  const retry = headers["Retry-After"];
  if (retry !== undefined) body.error.retryAfter = Number(retry);
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

/** The error code for a bare HTTP status (exceptions thrown by Hono itself). */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 429:
      return "rate_limited";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}
