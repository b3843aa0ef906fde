/**
 * Numbered, append-only schema migrations for a Durable Object's SQLite.
 * Migration i (0-based in the list) is applied once, in its own transaction,
 * and recorded in `_migrations`; a list only ever grows (never edit a
 * migration that has shipped: add the next one).
 */
import type { Sql } from "./meter";

/**
 * Apply the migrations this object has not applied yet. Call from the
 * constructor (synchronous SQL: nothing else runs meanwhile).
 * @returns the schema version now (the number of migrations applied).
 */
export function migrate(storage: DurableObjectStorage, sql: Sql, migrations: readonly string[]): number {
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const done = Number(sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one().v ?? 0);
  for (let v = done + 1; v <= migrations.length; v++) {
    storage.transactionSync(() => {
      sql.exec(migrations[v - 1]!);
      sql.exec("INSERT INTO _migrations (version, applied_at) VALUES (?, ?)", v, Date.now());
    });
  }
  return migrations.length;
}
