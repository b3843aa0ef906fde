/** Parsing client frames and writing server frames on the room socket. */
import { type ClientFrame, ClientFrame as ClientFrameSchema, LIMITS, type ServerFrame, type SocketErrorCode } from "#protocol";
import { trySend } from "../lib/ws";
import type { ActiveUser } from "./activity";
import type { Failure } from "./log";

/** The socket error code for a room failure. */
export function socketCode(code: Failure["code"]): SocketErrorCode {
  return code === "rate_limited" || code === "forbidden" || code === "not_found" ? code : "invalid_frame";
}

export function activityFrame(a: ActiveUser, on: boolean): ServerFrame {
  return { type: "typing", userId: a.id, username: a.username, typing: on, activity: a.activity };
}

export function send(ws: WebSocket, frame: ServerFrame): void {
  trySend(ws, JSON.stringify(frame));
}

export function sendError(ws: WebSocket, code: SocketErrorCode, message: string, extra: { clientId?: string; ref?: string; retryAfter?: number } = {}): void {
  send(ws, {
    type: "error",
    code,
    message,
    ...(extra.clientId ? { clientId: extra.clientId } : {}),
    ...(extra.ref ? { ref: extra.ref } : {}),
    ...(extra.retryAfter ? { retryAfter: extra.retryAfter } : {}),
  });
}

/** A frame's size in bytes (a cheap upper bound first: UTF-8 takes at most 3 bytes per UTF-16 unit). */
export function frameSize(raw: string | ArrayBuffer): number {
  if (typeof raw !== "string") return raw.byteLength;
  if (raw.length * 3 <= LIMITS.frameMaxBytes) return raw.length;
  return new TextEncoder().encode(raw).byteLength;
}

/** Parse and validate a client frame; never throws. */
export function parseFrame(raw: string): { ok: true; value: ClientFrame } | { ok: false; message: string; clientId?: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: "Frames must be JSON" };
  }
  const parsed = ClientFrameSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const clientId =
    typeof json === "object" && json !== null && "clientId" in json && typeof json.clientId === "string" ? json.clientId.slice(0, 64) : undefined;
  const issue = parsed.error.issues[0];
  // Our own messages are sentences for the user; zod's generic ones get the field name.
  const mine = issue && /^[A-Z]/.test(issue.message);
  const where = !mine && issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, message: `${where}${issue?.message ?? "Invalid frame"}`, ...(clientId ? { clientId } : {}) };
}
