/** Types shared by the Worker's routes and middleware. */
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./db/schema";
import type { Role, RoomKind, RoomSnapshot, User } from "#protocol";

export type DB = DrizzleD1Database<typeof schema>;

/** The signed-in user (with their display name) and the hash of the session that proved it. */
export interface Auth {
  user: User & { displayName: string | null };
  sessionHash: string;
  /** When the session expires (ms since epoch). */
  expiresAt: number;
}

/** A room as its members see it, and the caller's role in it (set by `requireMembership()`). */
export interface Membership {
  /** As stored (for a DM, `name` is empty: each side sees the other's name, see lib/rooms-list.ts). */
  room: RoomSnapshot["room"] & { kind: RoomKind };
  role: Role;
  /** For a DM: its two user ids, sorted, joined by `:`. */
  dmKey: string | null;
  /** The caller muted this room. */
  muted: boolean;
}

/** Hono's environment for this app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: { db: DB; auth: Auth };
}

/** The environment of a route of one room, after `requireMembership()`: `c.var.membership` is set. */
export interface RoomEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { membership: Membership };
}
