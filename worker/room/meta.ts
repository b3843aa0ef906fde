/**
 * The room's own facts in its `meta` table — its id, name, owner, kind
 * (`room` or `dm`), creation time and the D1 membership version it applied — cached in memory (they are
 * read on every push and every upgrade).
 */
import type { Sql } from "../lib/meter";

export type MetaKey = "room_id" | "name" | "owner_id" | "created_at" | "synced_version" | "kind";

export class RoomMeta {
  #cache: Map<string, string> | undefined;

  constructor(private readonly sql: Sql) {}

  get(key: MetaKey): string | undefined {
    if (!this.#cache) {
      const rows = this.sql.exec<{ key: string; value: SqlStorageValue }>("SELECT key, value FROM meta").toArray();
      this.#cache = new Map(rows.filter((r) => r.value !== null).map((r) => [r.key, String(r.value)]));
    }
    return this.#cache.get(key);
  }

  /** Write a value (no row when it is unchanged). Call inside the write's transaction. */
  set(key: MetaKey, value: string | number): void {
    if (this.get(key) === String(value)) return;
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
    this.#cache!.set(key, String(value));
  }

  /** Forget the cache (after a failed transaction). */
  invalidate(): void {
    this.#cache = undefined;
  }
}
