/**
 * One open thread (issue #15): its top-level message and replies, loaded
 * with `GET …/messages?thread=<id>` and kept live by the room's events
 * (RoomState hands the thread's `message`, edit, delete, reaction and
 * `thread_updated` events here). Replies are sent like messages, through the
 * room's outbox with `threadOf` (RoomSync.send): shown as unsent until
 * stored, kept across a reload, resent with the same client id.
 *
 * A file's comments are the same thread, hung on the file instead of a
 * message ({@link ThreadState.forFile}): `file` holds the file as listed, kept
 * live by its version and comment events, and `gone` is set when it is deleted.
 */
import { FileComments, type FileInfo, type Message, type RoomEvent } from "#protocol";
import { HistoryPage } from "#protocol";
import { errorMessage, request } from "./http.ts";
import { applyReaction } from "./reactions.ts";

const enc = encodeURIComponent;
const PAGE = 100;

/** A page of a thread: replies after a seq, and what they hang on (a message, or a file). */
export interface ThreadPage {
  messages: Message[];
  hasMore: boolean;
  parent?: Message | undefined;
  file?: FileInfo | undefined;
}

export class ThreadState {
  parent = $state.raw<Message | null>(null);
  /** For a file's comments: the file (its latest version, with its comment count). */
  file = $state.raw<FileInfo | null>(null);
  /** The file was deleted: its comments are gone, and no more can be added. */
  gone = $state(false);
  replies = $state.raw<Message[]>([]);
  status = $state<"loading" | "ready" | "error">("loading");
  error = $state<string | null>(null);

  constructor(
    readonly roomId: string,
    readonly parentId: string,
    private readonly fetchPage = (after: number): Promise<ThreadPage> =>
      request("GET", `/api/rooms/${enc(roomId)}/messages?thread=${enc(parentId)}&after=${after}&limit=${PAGE}`, HistoryPage),
  ) {}

  /** A file's comments: its thread, loaded with `GET /api/files/:id/comments`. */
  static forFile(roomId: string, file: FileInfo): ThreadState {
    const t = new ThreadState(roomId, file.file_id, (after) =>
      request("GET", `/api/files/${enc(file.file_id)}/comments?after=${after}&limit=${PAGE}`, FileComments),
    );
    t.file = file;
    return t;
  }

  /** Load the whole thread (page by page, oldest first). */
  async load(): Promise<void> {
    this.status = "loading";
    this.error = null;
    try {
      let after = 0;
      const all: Message[] = [];
      for (;;) {
        const page = await this.fetchPage(after);
        if (page.parent) this.parent = page.parent;
        if (page.file) this.file = page.file;
        all.push(...page.messages);
        if (!page.hasMore || !page.messages.length) break;
        after = page.messages.at(-1)!.seq;
      }
      // Events that arrived while loading are already in `replies`: keep them, without repeats.
      const byId = Object.fromEntries([...all, ...this.replies].map((m) => [m.id, m]));
      this.replies = Object.values(byId).sort((a, b) => a.seq - b.seq);
      this.status = "ready";
    } catch (err) {
      this.error = errorMessage(err);
      this.status = "error";
    }
  }

  /** A room event; only what concerns this thread changes anything. */
  apply(event: RoomEvent): void {
    switch (event.type) {
      case "message":
        if (event.message.threadOf === this.parentId) this.#add(event.message);
        break;
      case "message_edited":
        this.#change(event.message.id, (m) => ({ ...event.message, reactions: event.message.reactions ?? m.reactions }));
        break;
      case "message_deleted":
        this.#change(event.messageId, (m) => ({ ...m, text: null, deletedAt: m.deletedAt ?? event.ts, reactions: [] }));
        break;
      case "reaction_added":
      case "reaction_removed":
        this.#change(event.messageId, (m) => ({ ...m, reactions: applyReaction(m.reactions, event) }));
        break;
      case "thread_updated":
        if (event.messageId === this.parentId && this.parent) {
          this.parent = { ...this.parent, replyCount: event.replyCount, lastReplyAt: event.lastReplyAt };
        }
        break;
      case "file_comment_added":
      case "file_comment_removed":
        if (event.fileId === this.parentId && this.file) this.file = { ...this.file, comments: event.commentCount };
        break;
      case "file_version_added":
        if (event.file.file_id === this.parentId && this.file) this.file = { ...event.file, comments: this.file.comments };
        break;
      case "file_deleted":
        if (event.file_id === this.parentId) {
          this.gone = true;
          this.replies = [];
        }
        break;
    }
  }

  #add(m: Message): void {
    if (this.replies.some((r) => r.id === m.id)) return;
    this.replies = [...this.replies, m].sort((a, b) => a.seq - b.seq);
  }

  #change(id: string, fn: (m: Message) => Message): void {
    if (this.parent?.id === id) this.parent = fn(this.parent);
    const i = this.replies.findIndex((m) => m.id === id);
    if (i < 0) return;
    const next = [...this.replies];
    next[i] = fn(next[i]!);
    this.replies = next;
  }
}

/**
 * The thread open beside a room (one at a time: opening another closes it),
 * kept live by the room's events (RoomState hands each one to {@link OpenThread.apply}).
 */
export class OpenThread {
  current = $state.raw<ThreadState | null>(null);

  constructor(private readonly roomId: () => string) {}

  /** Open a message's thread (loading it). */
  open(messageId: string): ThreadState {
    return this.#show(messageId, () => new ThreadState(this.roomId(), messageId));
  }

  /** Open a file's comments: the thread on its timeline entry, in the same panel. */
  openComments(file: FileInfo): ThreadState {
    return this.#show(file.file_id, () => ThreadState.forFile(this.roomId(), file));
  }

  close(): void {
    this.current = null;
  }

  apply(event: RoomEvent): void {
    this.current?.apply(event);
  }

  #show(parentId: string, make: () => ThreadState): ThreadState {
    if (this.current?.parentId === parentId) return this.current;
    const t = make();
    this.current = t;
    void t.load();
    return t;
  }
}
