/**
 * A cost meter for a Durable Object: the SQL rows read and written as
 * Cloudflare bills them (from each cursor's `rowsRead` / `rowsWritten`), the
 * statements run, and the requests, hub calls and alarms the object handled.
 * Cheap enough to stay on; read through the benchmark hooks (BENCH_HOOKS=1)
 * and by the tests that bound the rows one message writes (R17).
 */

export interface MeterReading {
  rowsRead: number;
  rowsWritten: number;
  statements: number;
  /** Requests the object received: RPC calls, socket upgrades, WebSocket messages, alarms. */
  requests: number;
  /** RPC calls the object made to UserHub shards. */
  hubCalls: number;
  /** Alarm invocations. */
  alarms: number;
}

export type Counter = "requests" | "hubCalls" | "alarms";

/** The one part of `SqlStorage` the objects' modules use. */
export interface Sql {
  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T>;
}

const zero = (): MeterReading => ({ rowsRead: 0, rowsWritten: 0, statements: 0, requests: 0, hubCalls: 0, alarms: 0 });

/** How many cursors to hold before settling the oldest (they are consumed long before). */
const SETTLE_EVERY = 64;

export class Meter {
  #reading = zero();
  #open: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];

  /** Count one event. */
  count(counter: Counter, n = 1): void {
    this.#reading[counter] += n;
  }

  /** Wrap a `SqlStorage` so every statement it runs is metered. */
  wrap(sql: SqlStorage): Sql {
    return {
      exec: <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]) => {
        const cursor = sql.exec<T>(query, ...bindings);
        this.#reading.statements++;
        this.#open.push(cursor as unknown as SqlStorageCursor<Record<string, SqlStorageValue>>);
        if (this.#open.length > SETTLE_EVERY) this.#settle();
        return cursor;
      },
    };
  }

  /** Everything counted since the last {@link Meter.reset}. */
  read(): MeterReading {
    this.#settle();
    return { ...this.#reading };
  }

  reset(): void {
    this.#settle();
    this.#reading = zero();
  }

  #settle(): void {
    for (const c of this.#open) {
      this.#reading.rowsRead += c.rowsRead;
      this.#reading.rowsWritten += c.rowsWritten;
    }
    this.#open = [];
  }
}

/** Add readings (e.g. over every hub shard). */
export function sumReadings(readings: MeterReading[]): MeterReading {
  const total = zero();
  for (const r of readings) for (const k of Object.keys(total) as (keyof MeterReading)[]) total[k] += r[k];
  return total;
}
