/**
 * The room's latest activity, for the rooms list (issue #14): when its
 * newest message or file arrived (else when the room was created), and a
 * preview of its newest message (null when there is none, or it is deleted).
 * Thread replies are not the room's activity: only top-level messages count.
 *
 * Cost rule: nothing here writes a row. It is read from the log once after
 * a wake (the newest message and the newest file, by their `seq` indexes:
 * a few rows read) and then kept in memory, changed by the writes that
 * change it. The rooms list and the hubs ask for it with `countFor`; pushes
 * carry it to watching members' tabs as `room_activity`.
 */
import type { Sql } from "../lib/meter";
import type { Message, RoomPreview } from "#protocol";

/** The rooms list's view of the room. */
export interface LatestActivity {
  lastActivityAt: number;
  preview: RoomPreview | null;
}

/** Preview text: at most this many UTF-16 units (the protocol's `RoomPreview.text` limit). */
export const PREVIEW_MAX = 160;

/** The start of a text, at most PREVIEW_MAX UTF-16 units, never ending in half a surrogate pair. */
export function previewText(text: string): string {
  if (text.length <= PREVIEW_MAX) return text;
  const cut = text.slice(0, PREVIEW_MAX);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

interface State {
  messageAt: number;
  /** The newest message's id (its edits and deletion change the preview). */
  messageId: string | null;
  preview: RoomPreview | null;
  fileAt: number;
}

type MessageRow = { id: string; user_id: string; username: string; text: string | null; created_at: number };

export class Latest {
  #state: State | undefined;

  constructor(
    private readonly sql: Sql,
    /** The room's creation time (ms), the activity of a room with nothing in it. */
    private readonly createdAt: () => number,
    /** A member's current display name (the preview shows it). */
    private readonly displayNameOf: (userId: string) => string | null,
  ) {}

  /** The room's latest activity (reads the log only on first use after a wake). */
  get(): LatestActivity {
    const s = this.#load();
    return { lastActivityAt: Math.max(s.messageAt, s.fileAt) || this.createdAt(), preview: s.preview };
  }

  /** Forget (after a failed transaction, or a rewrite of the log); the next use reads it again. */
  invalidate(): void {
    this.#state = undefined;
  }

  /** A new message was stored. */
  message(m: Message, displayName: string | null): void {
    const s = this.#load();
    s.messageAt = Math.max(s.messageAt, m.createdAt);
    s.messageId = m.id;
    s.preview = m.text === null ? null : { userId: m.userId, username: m.username, displayName, text: previewText(m.text), ts: m.createdAt };
  }

  /** A message was edited or deleted (only the newest one's matters). Answers whether the preview changed. */
  changed(m: Message): boolean {
    const s = this.#state;
    if (!s || s.messageId !== m.id || !s.preview) return false;
    s.preview = m.text === null || m.deletedAt !== null ? null : { ...s.preview, text: previewText(m.text) };
    return true;
  }

  /** A file was announced at `at`. */
  file(at: number): void {
    const s = this.#load();
    s.fileAt = Math.max(s.fileAt, at);
  }

  /** A member's names changed (display name; or "deleted user"): the preview follows. */
  author(userId: string, username: string, displayName: string | null): void {
    const p = this.#state?.preview;
    if (p && p.userId === userId) this.#state!.preview = { ...p, username, displayName };
  }

  #load(): State {
    if (this.#state) return this.#state;
    const m = this.sql.exec<MessageRow>("SELECT id, user_id, username, text, created_at FROM messages WHERE thread_of IS NULL ORDER BY seq DESC LIMIT 1").toArray()[0];
    const f = this.sql.exec<{ seq: number; created_at: number | null }>("SELECT seq, created_at FROM files ORDER BY seq DESC LIMIT 1").toArray()[0];
    const v = this.sql.exec<{ at: number | null }>("SELECT MAX(created_at) AS at FROM file_versions").one().at;
    let fileAt = Math.max(f?.created_at ?? 0, v ?? 0);
    // Files announced before migration 3 have no time of their own: their event has it (while in the window).
    if (f && f.created_at === null && !v) {
      fileAt = this.sql.exec<{ ts: number | null }>("SELECT json_extract(data, '$.ts') AS ts FROM events WHERE seq = ?", f.seq).toArray()[0]?.ts ?? 0;
    }
    this.#state = {
      messageAt: m?.created_at ?? 0,
      messageId: m?.id ?? null,
      preview:
        m && m.text !== null
          ? { userId: m.user_id, username: m.username, displayName: this.displayNameOf(m.user_id), text: previewText(m.text), ts: m.created_at }
          : null,
      fileAt,
    };
    return this.#state;
  }
}
