/**
 * The benchmark's command line and sizes: `npm run bench [-- --quick] [-- --only=fanout,cost]`.
 * `--quick` is a smoke run of a few minutes (results in latest-quick.json); the full run is the
 * record (latest.json). `--only` runs just the named scenarios and writes `…-partial.json`, so a
 * partial run never replaces the record of a whole one.
 */

/** The scenarios, in the order they run. */
export const SCENARIOS = ["fanout", "badge", "throughput", "storm", "files", "payload", "cost", "search"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Sizes {
  /** Room sizes for fan-out, and messages per size. */
  fanout: number[];
  fanCount: number;
  /** Badge watchers (members on another page), and messages. */
  badgeN: number;
  badgeCount: number;
  /** Throughput: listeners, the rates tried (msg/s), seconds per rate. */
  tputListeners: number;
  tputRates: number[];
  tputSeconds: number;
  /** Reconnect storm: clients. */
  stormN: number;
  /** Files: upload size and watchers. */
  fileMB: number;
  fileWatchers: number;
  /** Cost: room sizes, messages per run, the room with badge sockets and how many, the idle room. */
  costSizes: number[];
  costMessages: number;
  costBadgeN: number;
  costBadgeK: number;
  idleSockets: number;
  idleSeconds: number;
  /** Search: rooms of one user, messages per room, queries. */
  searchRooms: number;
  searchMessages: number;
  searchQueries: number;
}

const QUICK: Sizes = { fanout: [50], fanCount: 10, badgeN: 50, badgeCount: 10, tputListeners: 20, tputRates: [100, 200], tputSeconds: 2, stormN: 100, fileMB: 1, fileWatchers: 20, costSizes: [10, 100], costMessages: 20, costBadgeN: 100, costBadgeK: 10, idleSockets: 10, idleSeconds: 35, searchRooms: 10, searchMessages: 200, searchQueries: 12 };
const FULL: Sizes = { fanout: [100, 1000], fanCount: 100, badgeN: 200, badgeCount: 100, tputListeners: 100, tputRates: [250, 500, 750, 1000], tputSeconds: 3, stormN: 1000, fileMB: 10, fileWatchers: 100, costSizes: [10, 100, 1000], costMessages: 20, costBadgeN: 100, costBadgeK: 10, idleSockets: 10, idleSeconds: 65, searchRooms: 50, searchMessages: 1000, searchQueries: 60 };

/** Messages per second from one sender (under the per-user send limit of 10/s). */
export const SEND_RATE = 5;

export interface Options {
  quick: boolean;
  /** The scenarios named by `--only`, or undefined for all. */
  only: Scenario[] | undefined;
  sizes: Sizes;
  /** "quick" / "full", plus " (only a, b)" for a partial run (the `mode` of the results). */
  mode: string;
  /** The results file's name, without `.json`. */
  outName: string;
  want(name: Scenario): boolean;
}

const isScenario = (s: string): s is Scenario => (SCENARIOS as readonly string[]).includes(s);

/** Read the options from `argv` (process.argv.slice(2)); throws on an unknown scenario name. */
export function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const names = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
  const unknown = names?.filter((n) => !isScenario(n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
  const only = names?.filter(isScenario);
  return {
    quick,
    only,
    sizes: quick ? QUICK : FULL,
    mode: (quick ? "quick" : "full") + (only ? ` (only ${only.join(", ")})` : ""),
    outName: `${quick ? "latest-quick" : "latest"}${only ? "-partial" : ""}`,
    want: (name) => !only || only.includes(name),
  };
}
