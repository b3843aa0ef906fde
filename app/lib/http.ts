/**
 * The JSON-over-fetch transport for Parley's HTTP API.
 *
 * Every request is same-origin with the session cookie; every failure becomes
 * an {@link ApiError} whose `message` is fit to show to the user. A 401 also
 * calls the handler registered with {@link onUnauthorized} (unless the caller
 * opts out), so any page can drop a signed-out visitor back to `/`.
 */
import type { z } from "zod";
import { ErrorBody } from "#protocol";

/** A failed API call: HTTP status (0 for network failures), error code and a human message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before retrying, when the server said so (429). */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Options for a single request. */
export interface RequestOptions {
  /** Do not call the unauthorized handler on 401 (login, the `/api/me` probe). */
  allow401?: boolean;
  signal?: AbortSignal;
}

let unauthorizedHandler: (() => void) | null = null;

/** Register what to do when the server says the session is gone (401). Returns an unregister function. */
export function onUnauthorized(handler: () => void): () => void {
  unauthorizedHandler = handler;
  return () => {
    if (unauthorizedHandler === handler) unauthorizedHandler = null;
  };
}

/** Tell the app the session is gone (as a 401 would): e.g. after a request that opted out of the handler with `allow401`. */
export function notifyUnauthorized(): void {
  unauthorizedHandler?.();
}

/** Turn anything thrown into a sentence for an alert region. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong. Please try again.";
}

function retryAfterSeconds(res: Response, fromBody: number | undefined): number | undefined {
  if (fromBody !== undefined) return fromBody;
  const header = res.headers.get("Retry-After");
  const n = header === null ? NaN : Number(header);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy error page, say): fall through to a generic message.
  }
  const parsed = ErrorBody.safeParse(body);
  if (parsed.success) {
    const { code, message, retryAfter } = parsed.data.error;
    return new ApiError(res.status, code, message, retryAfterSeconds(res, retryAfter));
  }
  const generic =
    res.status >= 500
      ? "The server had a problem. Please try again in a moment."
      : `The request failed (HTTP ${res.status}).`;
  return new ApiError(res.status, res.status >= 500 ? "internal" : "bad_request", generic, retryAfterSeconds(res, undefined));
}

/**
 * Send one request and parse the JSON reply with `schema` (or ignore the body
 * when `schema` is null, e.g. for 204 replies).
 * @throws {ApiError} on network failure, an error status, or an unexpected reply.
 */
export async function request<T>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  schema: z.ZodType<T> | null,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    signal: options.signal,
  };
  if (method !== "GET") {
    // The server only accepts JSON for state-changing requests, even empty ones.
    init.headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (body !== undefined) init.body = JSON.stringify(body);
  }

  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "Could not reach Parley. Check your connection and try again.");
  }

  if (!res.ok) {
    const error = await toApiError(res);
    if (res.status === 401 && !options.allow401) unauthorizedHandler?.();
    throw error;
  }

  if (schema === null) return undefined as T;
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(res.status, "internal", "The server sent an unreadable reply.");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ApiError(res.status, "internal", "The server sent an unexpected reply.");
  return parsed.data;
}
