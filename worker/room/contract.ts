/**
 * What the Worker's routes need to know of the Room object besides its RPC
 * methods: the internal headers of the socket upgrade it forwards (set by
 * the Worker from the verified session, never taken from a client).
 */
export const UPGRADE_HEADERS = {
  roomId: "X-Parley-Room",
  userId: "X-Parley-User-Id",
  username: "X-Parley-Username",
  session: "X-Parley-Session",
} as const;

/** The same for the badge socket (`/api/me/ws`) forwarded to a UserHub shard. */
export const HUB_UPGRADE_HEADERS = { userId: "X-Parley-User-Id", session: "X-Parley-Session" } as const;
