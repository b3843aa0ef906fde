/**
 * The rows of a room's message list, worked out from its state: stored
 * messages and shared files in `seq` order, then my unsent messages; each
 * row knows whether it continues the previous author's group and whether a
 * new day starts above it. Also where each member's "Seen by" receipt goes.
 * Pure functions, so the list component only renders.
 */
import type { FileInfo, Message, Receipt } from "#protocol";
import type { OutboxEntry } from "./outbox.svelte.ts";
import { dayKey, dayLabel } from "./time.ts";

/** Rows by one author closer together than this are grouped. */
export const GROUP_MS = 5 * 60_000;

/** Where a row sits: in its author's group, and the day label above it (null when the day goes on). */
interface Placing {
  continued: boolean;
  day: string | null;
}

/** One row of the list, keyed for `{#each}`. */
export type Row =
  | ({ kind: "message"; key: string; message: Message } & Placing)
  | ({ kind: "file"; key: string; file: FileInfo & { seq: number } } & Placing)
  | ({ kind: "pending"; key: string; entry: OutboxEntry } & Placing);

/** What the rows are made of. */
export interface RowsInput {
  /** Stored messages loaded, oldest first. */
  messages: readonly Message[];
  /** Whether older messages exist than the first loaded one (files older than it wait for that page). */
  hasMore: boolean;
  /** The room's files, any order. */
  files: readonly FileInfo[];
  /** My unsent messages, oldest first. */
  pending: readonly OutboxEntry[];
  /** My user id (the author of the pending rows). */
  me: string;
}

/** The list's rows: stored messages and files by seq, then my pending messages. */
export function messageRows({ messages, hasMore, files, pending, me }: RowsInput): Row[] {
  const out: Row[] = [];
  let prevUser = "";
  let prevTime = 0;
  let prevDay = "";
  const place = (userId: string, time: number): Placing => {
    const day = dayKey(time);
    const newDay = day !== prevDay;
    const continued = !newDay && userId === prevUser && time - prevTime < GROUP_MS;
    prevUser = userId;
    prevTime = time;
    prevDay = day;
    return { continued, day: newDay ? dayLabel(time) : null };
  };
  // Shared files sit among the messages by seq (those older than the loaded page wait for it).
  const from = hasMore ? (messages[0]?.seq ?? Infinity) : 0;
  const shared = files.filter((f): f is FileInfo & { seq: number } => f.seq !== null && f.seq > from);
  const items = [...messages.map((message) => ({ seq: message.seq, message })), ...shared.map((file) => ({ seq: file.seq, file }))].sort(
    (a, b) => a.seq - b.seq,
  );
  for (const item of items) {
    if ("message" in item) {
      const { message } = item;
      out.push({ kind: "message", key: `m:${message.id}`, message, ...place(message.userId, message.createdAt) });
    } else {
      const { file } = item;
      out.push({ kind: "file", key: `f:${file.file_id}`, file, ...place(file.uploader_id, file.uploaded_at) });
    }
  }
  for (const entry of pending) out.push({ kind: "pending", key: `p:${entry.clientId}`, entry, ...place(me, entry.createdAt) });
  return out;
}

/**
 * "Seen by": message seq → the other members whose read cursor stops there
 * (under the last loaded message their cursor reaches, unless they wrote it).
 */
export function seenAt(messages: readonly Message[], receipts: readonly Receipt[], me: string): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const r of receipts) {
    if (r.userId === me) continue;
    const at = messages.findLast((m) => m.seq <= r.upTo);
    if (!at || at.userId === r.userId) continue;
    out[at.seq] = [...(out[at.seq] ?? []), r.username];
  }
  return out;
}
