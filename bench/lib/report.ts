/**
 * The results: the rows of the printed table, the record written to
 * bench/results/*.json, and facts about the run (machine, sources touched).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";

/** One line of the table: Parley's figure beside the floor's, the target and whether it was met. */
export interface Row {
  scenario: string;
  metric: string;
  parley: string | number;
  floor: string | number;
  ratio: number | "";
  target: string;
  ok: "" | "yes" | "NO";
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  wrangler: string;
}

/** What bench/results/*.json holds (the keys bench/RESULTS.md is compared on). */
export interface Results {
  mode: string;
  startedAt: string;
  machine: Machine;
  /** fanout, badge, throughput, reconnectStorm, files, payload, cost: each scenario's own record. */
  scenarios: Record<string, unknown>;
  finishedAt?: string;
  sourcesChangedDuringRun?: string[];
  /** Frames that failed the protocol's schemas, when there were any. */
  invalidFrames?: { count: number; examples: string[] };
  table?: Row[];
  dollarTable?: string;
}

/** The table's rows, in the order they were added. */
export class Report {
  readonly rows: Row[] = [];

  /** Add a row; the ratio is computed when both figures are numbers. `ok` undefined: no verdict. */
  row(scenario: string, metric: string, parley: string | number, floor?: string | number | null, target?: string | null, ok?: boolean): void {
    const ratio = typeof parley === "number" && typeof floor === "number" && floor > 0 ? Math.round((parley / floor) * 100) / 100 : "";
    this.rows.push({ scenario, metric, parley, floor: floor ?? "", ratio, target: target ?? "", ok: ok === undefined ? "" : ok ? "yes" : "NO" });
  }

  /** The table as markdown. */
  markdown(): string {
    const header = "| scenario | metric | Parley | floor | ratio | target | met |\n|---|---|---|---|---|---|---|";
    return [header, ...this.rows.map((r) => `| ${r.scenario} | ${r.metric} | ${r.parley} | ${r.floor} | ${r.ratio} | ${r.target} | ${r.ok} |`)].join("\n");
  }
}

/** The machine and tool versions the run used. */
export function machine(root: string): Machine {
  let wrangler = "?";
  try {
    wrangler = execFileSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "--version"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    // leave unknown
  }
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?", memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, wrangler };
}

/**
 * Source files of the Worker (worker/, the protocol/ it bundles, wrangler.toml) changed after
 * `since` (ms). `wrangler dev` reloads the Worker when its sources change, which drops every
 * socket: a run during which that happened is not a clean run.
 */
export function changedSources(root: string, since: number): string[] {
  const out: string[] = [];
  const visit = (path: string) => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) for (const e of readdirSync(path)) visit(`${path}/${e}`);
    else if (st && st.mtimeMs > since) out.push(path.slice(root.length));
  };
  for (const p of ["worker", "protocol", "wrangler.toml"]) visit(`${root}${p}`);
  return out;
}

/** Write `bench/results/<name>.json`; returns its path relative to the root. */
export function writeResults(root: string, name: string, results: Results): string {
  mkdirSync(`${root}bench/results`, { recursive: true });
  const path = `bench/results/${name}.json`;
  writeFileSync(`${root}${path}`, JSON.stringify(results, null, 2));
  return path;
}
