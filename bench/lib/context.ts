/** What every scenario gets: the sizes, the two servers, the seeded users and the report. */
import type { Sizes } from "./config.ts";
import { wsUrl } from "./harness.ts";
import type { BenchUser, Parley } from "./parley.ts";
import type { Report } from "./report.ts";

export interface Ctx {
  sizes: Sizes;
  /** A random tag of this run, in every label (so rooms and floor objects are fresh). */
  tag: string;
  parley: Parley;
  /** `users[0]`, who creates every room. */
  owner: BenchUser;
  users: BenchUser[];
  /** The floor's base URL. */
  floorUrl: string;
  report: Report;
  /** The fan-out room (the largest fan-out's members), made on first use; the storm reuses it. */
  fanRoom(): Promise<string>;
}

/** The floor's socket for the room (Durable Object) named `label`. */
export const floorSocketUrl = (ctx: Ctx, label: string): string => wsUrl(ctx.floorUrl, `/ws?room=${label}`);
