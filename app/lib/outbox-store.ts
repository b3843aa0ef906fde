/**
 * Where an {@link Outbox} keeps my unsent messages across a reload
 * (HARDENING R18): IndexedDB through idb-keyval, one key per user and room
 * in Parley's own database. A restored message is resent with its original
 * `clientId` (and a thread reply with its `threadOf`), so two tabs restoring
 * the same entry still store it once, where it was written.
 * Signing out clears every key of the user.
 */
import { createStore, delMany, get, keys, set, del, type UseStore } from "idb-keyval";
import { ClientId, MessageId, MessageText } from "#protocol";
import type { OutboxEntry, OutboxStore } from "./outbox.svelte.ts";

let db: UseStore | undefined;

/** Parley's outbox database, or undefined where IndexedDB is unavailable (private modes, old browsers). */
function outboxDb(): UseStore | undefined {
  try {
    if (typeof indexedDB === "undefined") return undefined;
    return (db ??= createStore("parley", "outbox"));
  } catch {
    return undefined;
  }
}

/** Keep the fields a reload needs; a rate-limit pause does not survive one. */
function revive(raw: unknown): OutboxEntry | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  const clientId = ClientId.safeParse(r.clientId);
  const text = MessageText.safeParse(r.text);
  if (!clientId.success || !text.success || typeof r.createdAt !== "number") return null;
  const failed = r.state === "failed";
  const threadOf = MessageId.safeParse(r.threadOf);
  return {
    ...(threadOf.success ? { threadOf: threadOf.data } : {}),
    clientId: clientId.data,
    text: text.data,
    createdAt: r.createdAt,
    state: failed ? "failed" : "pending",
    error: failed && typeof r.error === "string" ? r.error : null,
    retryAt: null,
    ackedSeq: typeof r.ackedSeq === "number" ? r.ackedSeq : null,
  };
}

const keyOf = (userId: string, roomId: string) => `${userId}:${roomId}`;

/** The outbox store of `userId` in `roomId`, or undefined where there is no IndexedDB. */
export function savedOutbox(userId: string, roomId: string, store = outboxDb()): OutboxStore | undefined {
  if (!store) return undefined;
  const key = keyOf(userId, roomId);
  return {
    async load() {
      try {
        const saved: unknown = await get(key, store);
        return Array.isArray(saved) ? saved.map(revive).filter((e): e is OutboxEntry => e !== null) : [];
      } catch {
        return [];
      }
    },
    save(entries) {
      const plain = entries.map(({ clientId, text, createdAt, state, error, ackedSeq, threadOf }) => ({
        clientId,
        text,
        createdAt,
        state,
        error,
        ackedSeq,
        ...(threadOf ? { threadOf } : {}),
      }));
      // Transactions on one store run in the order they were made, so the last save wins.
      (plain.length ? set(key, plain, store) : del(key, store)).catch(() => undefined);
    },
  };
}

/** Forget every saved outbox of a user: on sign-out (a shared computer keeps nothing). */
export async function clearSavedOutboxes(userId: string, store = outboxDb()): Promise<void> {
  if (!store) return;
  try {
    const mine = (await keys(store)).filter((k) => String(k).startsWith(`${userId}:`));
    await delMany(mine, store);
  } catch {
    // nothing to clear, or storage unavailable
  }
}
