import { sValidator } from "@hono/standard-validator";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { apiError } from "../lib/errors";
import { LIMITS } from "#protocol";
import type { AppEnv } from "../types";

const JSON_TYPE = /^application\/json$/i;

/** Refuse a body that is not declared as JSON (a form or text/plain post) with 415. */
function requireJsonContentType(): MiddlewareHandler<AppEnv> {
  return async function requireJsonContentType(c, next) {
    const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(mediaType)) {
      throw apiError(415, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json)");
    }
    return next();
  };
}

/** First issue of a failed validation, as one readable sentence. */
function describe(issues: readonly StandardSchemaV1.Issue[]): string {
  const issue = issues[0];
  if (!issue) return "Invalid request";
  const path = (issue.path ?? []).map((p) => (typeof p === "object" ? String(p.key) : String(p))).join(".");
  return path && !/^[A-Z]/.test(issue.message) ? `${path}: ${issue.message}` : issue.message;
}

/**
 * Validate a JSON body (or the query) against a schema. Every failure is a 400
 * in the standard error shape; handlers read the result with `c.req.valid()`.
 */
export function jsonBody<S extends StandardSchemaV1>(schema: S) {
  return [
    requireJsonContentType(),
    bodyLimit({
      maxSize: LIMITS.jsonBodyMaxBytes,
      onError: () => {
        throw apiError(413, "payload_too_large", `Request body too large (at most ${LIMITS.jsonBodyMaxBytes / 1024} KiB)`);
      },
    }),
    sValidator("json", schema, (result) => {
      if (!result.success) throw apiError(400, "bad_request", describe(result.error));
    }),
  ] as const;
}

export function query<S extends StandardSchemaV1>(schema: S) {
  return sValidator("query", schema, (result) => {
    if (!result.success) throw apiError(400, "bad_request", describe(result.error));
  });
}
