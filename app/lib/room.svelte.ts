/**
 * One open room: its name, my role, members, messages and files, as loaded
 * from `GET /api/rooms/:id` (the snapshot at `seq`) and changed by my actions
 * and by live events. The room page makes one instance and calls
 * {@link RoomState.open} with the id in the URL; the room sync feeds it
 * events with {@link RoomState.applyEvent} (idempotent by `seq`: messages,
 * files, members joining and leaving, renames) and read receipts, which have
 * no `seq`, with {@link RoomState.applyReceipts}. Reading marks read through
 * {@link RoomState.reading}; {@link RoomState.divider} says where the "New
 * messages" divider stays for this visit.
 */
import type { FileInfo, Member, Message, Receipt, Role, RoomEvent, RoomSnapshot } from "#protocol";
import { api, type RoomInfo } from "./api.ts";
import { type Names, nameIndex } from "./display-names.ts";
import { ApiError, errorMessage } from "./http.ts";
import { ReadState } from "./read-state.svelte.ts";
import { applyReaction } from "./reactions.ts";
import { OpenThread } from "./thread.svelte.ts";
import { ReadTracker, type UnreadItems } from "./read-tracker.svelte.ts";
import { RoomFiles } from "./room-files.svelte.ts";
import { UnreadDivider } from "./unread-divider.svelte.ts";

/** How many older messages one "load older" fetches. */
const PAGE_SIZE = 50;

/** What {@link RoomState.applyEvent} did with an event. */
export type ApplyResult = "applied" | "stale" | "gap";

/** Where the page is: loading, showing the room, or one of the failure pages. */
export type RoomStatus = "loading" | "ready" | "forbidden" | "not_found" | "error";

const memberOrder = (a: Member, b: Member) =>
  (a.role === b.role ? 0 : a.role === "owner" ? -1 : 1) ||
  a.username.localeCompare(b.username, undefined, { sensitivity: "base" });

/** State of the room page. */
export class RoomState {
  #id = $state("");
  #status = $state<RoomStatus>("loading");
  #error = $state<string | null>(null);
  #room = $state.raw<RoomInfo | null>(null);
  #role = $state<Role>("member");
  #members = $state.raw<Member[]>([]);
  /** Accounts deleted while the room was open (their loaded messages still carry the old username). */
  #deleted = $state.raw<string[]>([]);
  #messages = $state.raw<Message[]>([]);
  #hasMore = $state(false);
  #loadingOlder = $state(false);
  #olderError = $state<string | null>(null);
  #seq = $state(0);
  /** Who I am (my cursor is one of the receipts). */
  #me = "";
  /** Everyone's read cursors, mine included. */
  readonly reads = new ReadState();
  /** The thread (or a file's comments) open beside the room. */
  readonly threads = new OpenThread(() => this.id);
  /** The room's shared files (the one list of them: the message list and the Files panel show it). */
  readonly sharedFiles = new RoomFiles();
  /** Reading marks read: what the message list and the Files panel show while I look (over HTTP, see read-tracker). */
  readonly reading = new ReadTracker({
    mark: () => this.reads.readSeq,
    unread: () => this.unreadItems(),
    send: async (seq) => (await api.markRead(this.#id, seq)).readSeq,
    onsent: (seq) => this.#readMine(seq),
    onanswer: (readSeq) => this.#readMine(readSeq),
    onfailed: (seq) => this.reads.retract(seq),
  });
  /** The "New messages" divider of this visit. */
  readonly divider = new UnreadDivider();
  /** Bumped whenever a newer load starts or another room opens; stale replies are dropped. */
  #generation = 0;
  /** Bumped whenever the message list is replaced wholesale; an older page for a replaced list is dropped. */
  #listVersion = 0;

  /** The room id from the URL. */
  get id(): string {
    return this.#id;
  }

  /** "loading", "ready", or why the room cannot be shown. */
  get status(): RoomStatus {
    return this.#status;
  }

  /** The load failure message when `status` is "error". */
  get error(): string | null {
    return this.#error;
  }

  /** `{ id, name, ownerId, createdAt }`, once loaded. */
  get room(): RoomInfo | null {
    return this.#room;
  }

  /** The room's name ("" until loaded). */
  readonly name: string = $derived(this.#room?.name ?? "");

  /** My role in this room. */
  get role(): Role {
    return this.#role;
  }

  /** Whether I own this room (may rename it and manage members). */
  readonly isOwner: boolean = $derived(this.#role === "owner");

  /** Members, owner first, then by username. */
  readonly members: Member[] = $derived([...this.#members].sort(memberOrder));

  /** What to call each person here: display names, else usernames; "deleted user" (see display-names.ts). */
  readonly names: Names = $derived(nameIndex(this.#members, this.#deleted));

  /** Stored messages I have loaded, oldest first (by `seq`). Deleted ones have `text: null`. */
  get messages(): Message[] {
    return this.#messages;
  }

  /** Whether older messages than the first loaded one exist (see {@link RoomState.loadOlder}). */
  get hasMore(): boolean {
    return this.#hasMore;
  }

  /** True while an older page is being fetched. */
  get loadingOlder(): boolean {
    return this.#loadingOlder;
  }

  /** Why the last {@link RoomState.loadOlder} failed, or null. */
  get olderError(): string | null {
    return this.#olderError;
  }

  /** Shared files, newest first (from the snapshot, kept current by file events); see {@link RoomState.sharedFiles}. */
  get files(): FileInfo[] {
    return this.sharedFiles.all;
  }

  /** The room's event sequence number the current state is at. */
  get seq(): number {
    return this.#seq;
  }

  /** Switch to room `id` (clearing what was shown) and load it. */
  async open(id: string): Promise<void> {
    this.#generation++;
    this.#id = id;
    this.#room = null;
    this.#role = "member";
    this.#members = [];
    this.#deleted = [];
    this.#messages = [];
    this.threads.close();
    this.#hasMore = false;
    this.#loadingOlder = false;
    this.#olderError = null;
    this.sharedFiles.reset(id);
    this.reading.reset();
    this.divider.reset();
    this.#seq = 0;
    this.#listVersion++;
    await this.load();
  }

  /**
   * (Re)load the snapshot of the current room, e.g. after a `resync_required`.
   * While the room is already showing, a transient failure keeps it showing
   * (only losing access — 403/404 — changes `status`).
   * @returns whether a fresh snapshot was applied.
   */
  async load(): Promise<boolean> {
    const generation = ++this.#generation;
    const showing = this.#status === "ready" && this.#room !== null;
    if (!showing) this.#status = "loading";
    this.#error = null;
    try {
      const snapshot = await api.room(this.#id);
      if (generation !== this.#generation) return false;
      this.applySnapshot(snapshot);
      return true;
    } catch (err) {
      if (generation !== this.#generation) return false;
      if (err instanceof ApiError && err.status === 403) this.#status = "forbidden";
      else if (err instanceof ApiError && err.status === 404) this.#status = "not_found";
      else if (!showing) {
        this.#error = errorMessage(err);
        this.#status = "error";
      }
      return false;
    }
  }

  /** Tell the room who I am, before loading it (read state is relative to me). */
  setMe(userId: string): void {
    this.#me = userId;
  }

  /** Replace everything with a server snapshot. */
  applySnapshot(snapshot: RoomSnapshot): void {
    this.#room = snapshot.room;
    this.#role = snapshot.role;
    this.#members = snapshot.members;
    this.#messages = snapshot.messages;
    this.#hasMore = snapshot.hasMore;
    this.#loadingOlder = false;
    this.#olderError = null;
    this.#listVersion++;
    this.sharedFiles.setFromSnapshot(snapshot.files, snapshot.room.id);
    this.#seq = snapshot.seq;
    this.reads.reset(snapshot.receipts, this.#me);
    this.#status = "ready";
    this.#error = null;
  }

  /** Stop the files' timers (the page is going away). */
  dispose(): void {
    this.sharedFiles.dispose();
    this.reading.reset();
  }

  /**
   * The loaded items unread for me — others' messages (not deleted) and files
   * above my read mark — ascending, and from which seq on nothing is missing
   * (older messages than the first page may exist unloaded).
   */
  unreadItems(): UnreadItems {
    const reads = this.reads;
    const seqs = [
      ...this.#messages.filter((m) => m.text !== null && reads.isUnread(m.seq, m.userId)).map((m) => m.seq),
      ...this.sharedFiles.all.flatMap((f) => (f.seq !== null && reads.isUnread(f.seq, f.uploader_id) ? [f.seq] : [])),
    ].sort((a, b) => a - b);
    return { seqs, knownFrom: this.#hasMore ? (this.#messages[0]?.seq ?? 0) : 0 };
  }

  /** Show my cursor at `seq` (a read of mine sent or answered); never moves it back. */
  #readMine(seq: number): void {
    const mine = this.reads.receipts.find((r) => r.userId === this.#me);
    this.reads.advance(this.#me, mine?.username ?? "", seq);
  }

  /** Rename the room (owner only). @throws {ApiError} */
  async rename(name: string): Promise<void> {
    const room = await api.renameRoom(this.#id, name);
    if (room.id === this.#id) this.#room = room;
  }

  /** Add a member by username (owner only). @throws {ApiError} */
  async addMember(username: string): Promise<Member> {
    const id = this.#id;
    const member = await api.addMember(id, username);
    if (id === this.#id) this.#upsertMember(member);
    return member;
  }

  /** Remove a member (owner only), or leave when `userId` is me. @throws {ApiError} */
  async removeMember(userId: string): Promise<void> {
    const id = this.#id;
    await api.removeMember(id, userId);
    if (id === this.#id) this.#dropMember(userId);
  }

  /** The loaded message with this id, if any. */
  message(id: string): Message | undefined {
    return this.#messages.findLast((m) => m.id === id);
  }

  /**
   * Apply one event from the room's log, idempotently: an event at or below
   * {@link RoomState.seq} is `"stale"` (ignored); one more than `seq` is
   * `"applied"`; anything further ahead is a `"gap"` (nothing changes — the
   * caller must fetch what is missing).
   */
  applyEvent(event: RoomEvent): ApplyResult {
    if (event.seq <= this.#seq) return "stale";
    if (event.seq !== this.#seq + 1) return "gap";
    this.threads.apply(event);
    switch (event.type) {
      case "message":
        // A thread reply belongs to its thread (above), not to the main timeline.
        if (!event.message.threadOf && !this.message(event.message.id)) this.#messages = [...this.#messages, event.message];
        this.reads.advance(event.message.userId, event.message.username, event.message.seq);
        break;
      case "thread_updated":
        this.#replace(event.messageId, (m) => ({ ...m, replyCount: event.replyCount, lastReplyAt: event.lastReplyAt }));
        break;
      case "message_edited":
        // An edit carries no reactions: keep the ones we have.
        this.#replace(event.message.id, (m) => ({ ...event.message, reactions: event.message.reactions ?? m.reactions }));
        break;
      case "message_deleted":
        this.#replace(event.messageId, (m) => ({ ...m, text: null, deletedAt: m.deletedAt ?? event.ts, reactions: [] }));
        break;
      case "reaction_added":
      case "reaction_removed":
        this.#replace(event.messageId, (m) => ({ ...m, reactions: applyReaction(m.reactions, event) }));
        break;
      case "file_uploaded":
        this.sharedFiles.applyUploaded(event.file);
        this.reads.advance(event.file.uploader_id, event.file.uploaded_by, event.seq);
        break;
      case "file_version_added":
        this.sharedFiles.applyVersion(event.file);
        this.reads.advance(event.file.version_uploader_id ?? event.file.uploader_id, event.file.version_uploaded_by ?? event.file.uploaded_by, event.seq);
        break;
      case "file_deleted":
        this.sharedFiles.applyDeleted(event.file_id);
        break;
      case "file_comment_added":
      case "file_comment_removed":
        this.sharedFiles.applyComments(event.fileId, event.commentCount);
        break;
      case "member_joined":
        this.#upsertMember(event.member);
        // A new member starts with everything before their joining read (as a later snapshot says).
        this.reads.advance(event.member.id, event.member.username, event.seq - 1);
        break;
      case "member_left":
        this.#dropMember(event.userId);
        this.reads.forget(event.userId);
        if (event.accountDeleted) this.#deleted = [...this.#deleted, event.userId];
        break;
      case "member_updated":
        this.#upsertMember(event.member);
        if (event.member.id === this.#me) this.#role = event.member.role;
        break;
      case "room_renamed":
        if (this.#room) this.#room = { ...this.#room, name: event.name };
        break;
    }
    this.#seq = event.seq;
    return "applied";
  }

  /**
   * Read receipts: a `message_read` frame (one), or the `receipts` frame a
   * (re)connecting socket gets before `live` (the cursors that moved
   * meanwhile). Receipts are not part of the log: they have no `seq`, never
   * move {@link RoomState.seq} and can never make a gap.
   */
  applyReceipts(receipts: readonly Receipt[]): void {
    this.reads.applyAll(receipts);
  }

  /**
   * Fetch the page of messages before the oldest loaded one and put it in
   * front. Does nothing when there is nothing older or a fetch is running;
   * failures land in {@link RoomState.olderError}.
   */
  async loadOlder(): Promise<void> {
    const oldest = this.#messages[0];
    if (!this.#hasMore || this.#loadingOlder || !oldest) return;
    const id = this.#id;
    const version = this.#listVersion;
    this.#loadingOlder = true;
    this.#olderError = null;
    try {
      const page = await api.history(id, oldest.seq, PAGE_SIZE);
      // The list was replaced meanwhile (another room, a fresh snapshot): this page no longer fits.
      if (version !== this.#listVersion) return;
      // All older than what we have (`before` is exclusive), so nothing repeats.
      this.#messages = [...page.messages.filter((m) => m.seq < oldest.seq), ...this.#messages];
      this.#hasMore = page.hasMore;
    } catch (err) {
      if (version === this.#listVersion) this.#olderError = errorMessage(err);
    } finally {
      if (version === this.#listVersion) this.#loadingOlder = false;
    }
  }

  #upsertMember(member: Member): void {
    this.#members = [...this.#members.filter((m) => m.id !== member.id), member];
  }

  #dropMember(userId: string): void {
    this.#members = this.#members.filter((m) => m.id !== userId);
  }

  /**
   * Show a reaction change at once (mine, before the server answers; or undo it when it refused).
   * The room's own event for it changes nothing more: reactions apply as set operations.
   */
  reactLocally(messageId: string, emoji: string, userId: string, on: boolean): void {
    const type = on ? "reaction_added" : "reaction_removed";
    this.#replace(messageId, (m) => ({ ...m, reactions: applyReaction(m.reactions, { type, emoji, userId }) }));
  }

  #replace(id: string, change: (m: Message) => Message): void {
    const i = this.#messages.findLastIndex((m) => m.id === id);
    // Not loaded (older than the first page): it will come with its current state when paged in.
    if (i < 0) return;
    const next = [...this.#messages];
    next[i] = change(next[i]!);
    this.#messages = next;
  }
}
