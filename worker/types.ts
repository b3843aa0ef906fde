/** Types shared by the Worker's routes and middleware. */
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./db/schema";
import type { User } from "#protocol";

export type DB = DrizzleD1Database<typeof schema>;

/** The signed-in user and the hash of the session that proved it. */
export interface Auth {
  user: User;
  sessionHash: string;
}

/** Hono's environment for this app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: { db: DB; auth: Auth };
}
