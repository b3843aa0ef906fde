/**
 * What the Worker's routes need to know of the Room object besides its RPC
 * methods: the internal headers of the socket upgrade it forwards (set by
 * the Worker from the verified session, never taken from a client), and the
 * result types its RPC methods answer with.
 */
export const UPGRADE_HEADERS = {
  roomId: "X-Parley-Room",
  userId: "X-Parley-User-Id",
  username: "X-Parley-Username",
  session: "X-Parley-Session",
  /** When that session expires (ms since epoch): its sockets close then (A9). */
  expires: "X-Parley-Session-Expires",
} as const;

/** The same for the badge socket (`/api/me/ws`) forwarded to a UserHub shard. */
export const HUB_UPGRADE_HEADERS = { userId: "X-Parley-User-Id", session: "X-Parley-Session", expires: "X-Parley-Session-Expires" } as const;

/** A refused write or read, as data (`{ ok: false, code, message, retryAfter?, seq? }`). */
export type { Failure } from "./log";
export type { ReactOutcome, ReadOutcome, SendOutcome } from "./writes";
