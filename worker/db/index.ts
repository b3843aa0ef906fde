import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";
import type { DB } from "../types";

/** A drizzle client over the D1 binding. Cheap: make one per request. */
export function db(d1: D1Database): DB {
  return drizzle(d1, { schema });
}

export { schema };
