/**
 * A room's shared files — the one list of them on a room page, owned by its
 * {@link RoomState} (the message list shows them among the messages, the
 * Files panel lists them): newest first and never twice, from the snapshot,
 * then kept current by `file_uploaded` / `file_version_added` /
 * `file_deleted` events (and the comment counts by `file_comment_*`) and my own
 * uploads' replies, with older pages fetched on demand (`next`).
 *
 * A search (on the server: name, description or uploader) and a type filter
 * show their results instead, in the panel only, while the room's list stays
 * as it is. A file that arrives live (not with a
 * snapshot or a page) is NEW for {@link NEW_FOR_MS}: {@link RoomFiles.isNew}
 * says so until then, and the mark goes away by itself.
 */
import { SvelteMap } from "svelte/reactivity";
import { type FileCategory, fileCategory, type FileInfo } from "#protocol";
import { deleteFile, listFiles } from "./files-api.ts";
import { errorMessage } from "./http.ts";

/** How long a newly arrived file is marked NEW. */
export const NEW_FOR_MS = 5_000;
/** Wait this long after the last keystroke before searching. */
export const SEARCH_DEBOUNCE_MS = 250;
/** Files per page (the snapshot carries the newest 50 too). */
export const FILES_PAGE = 50;

/** Newest first: by upload time, then by id (the server's order). */
export const newestFirst = (a: FileInfo, b: FileInfo): number =>
  b.uploaded_at - a.uploaded_at || (b.file_id < a.file_id ? -1 : b.file_id > a.file_id ? 1 : 0);

/** The server's paging cursor after `file` (`<uploaded_at>:<file_id>`). */
const cursorAfter = (file: FileInfo): string => `${file.uploaded_at}:${file.file_id}`;

/** Whether `file` matches a search and filter the way the server's does (a case-insensitive LIKE over name, description, uploader). */
export function matches(file: FileInfo, q: string, type: FileCategory | null): boolean {
  if (type && fileCategory(file.file_type) !== type) return false;
  const needle = q.toLowerCase();
  return q === "" || [file.filename, file.description, file.uploaded_by].some((s) => s.toLowerCase().includes(needle));
}

/** Files newest first, and the cursor of the page after them (null: nothing older). */
interface Listing {
  readonly files: FileInfo[];
  readonly next: string | null;
}

const EMPTY: Listing = { files: [], next: null };

/** The room's files. See the module comment. */
export class RoomFiles {
  #roomId = "";
  /** The room's files loaded here: the snapshot's page, live arrivals, my uploads, and older pages. */
  #all = $state.raw<Listing>(EMPTY);
  /** The latest answer to a search (null when not searching, or before the first answer). */
  #found = $state.raw<Listing | null>(null);
  /** The search the panel shows ("" for all files). */
  #query = $state("");
  /** What is typed in the search box (ahead of `query` while the debounce waits). */
  #input = $state("");
  /** The type filter (null: every type). */
  #type = $state<FileCategory | null>(null);
  #loading = $state(false);
  #loadingMore = $state(false);
  #error = $state<string | null>(null);
  /** file_id → when its NEW mark ends (ms since epoch), and the timer that ends it. */
  readonly #fresh = new SvelteMap<string, { until: number; timer: ReturnType<typeof setTimeout> }>();
  #searchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every wholesale change; replies for an older list are dropped. */
  #generation = 0;

  /** Whether a search or a filter is on. */
  readonly #narrowed: boolean = $derived(this.#query !== "" || this.#type !== null);

  /** What the panel shows: the search's answer while searching (once it came), else the room's files. */
  readonly #shown: Listing = $derived(this.#narrowed && this.#found ? this.#found : this.#all);

  /** Every file of the room loaded here, newest first, whatever the search (e.g. for the message list). */
  get all(): FileInfo[] {
    return this.#all.files;
  }

  /** The files the panel shows (all, or those matching the search), newest first. */
  get files(): FileInfo[] {
    return this.#shown.files;
  }

  /** Whether more (older) files can be fetched with {@link RoomFiles.loadMore}. */
  readonly hasMore: boolean = $derived(this.#shown.next !== null);

  /** The search the list currently shows ("" when showing all files). */
  get query(): string {
    return this.#query;
  }

  /** The type filter (null: every type). */
  get type(): FileCategory | null {
    return this.#type;
  }

  /** The search box's text. */
  get input(): string {
    return this.#input;
  }

  /** True while a search runs. */
  get loading(): boolean {
    return this.#loading;
  }

  /** True while an older page is being fetched. */
  get loadingMore(): boolean {
    return this.#loadingMore;
  }

  /** Why the last search or page failed, or null. */
  get error(): string | null {
    return this.#error;
  }

  /** Whether the file arrived live less than {@link NEW_FOR_MS} ago. */
  isNew(fileId: string): boolean {
    return this.#fresh.has(fileId);
  }

  /** Forget everything: another room opens (its snapshot follows). */
  reset(roomId: string): void {
    this.dispose();
    this.#roomId = roomId;
    this.#drop();
    this.#all = EMPTY;
    this.#found = null;
    this.#query = "";
    this.#input = "";
    this.#type = null;
  }

  /**
   * The files of a room snapshot (its newest {@link FILES_PAGE}) become the
   * room's list. They are not NEW. An active search is run again.
   */
  setFromSnapshot(files: FileInfo[], roomId: string = this.#roomId): void {
    if (roomId !== this.#roomId) this.reset(roomId);
    this.#drop();
    const sorted = dedupe(files);
    const last = sorted.at(-1);
    this.#all = { files: sorted, next: sorted.length >= FILES_PAGE && last ? cursorAfter(last) : null };
    for (const id of this.#fresh.keys()) if (!sorted.some((f) => f.file_id === id)) this.#unmark(id);
    if (this.#narrowed) void this.#search();
  }

  /**
   * A file was uploaded (a `file_uploaded` event, or my own upload's reply):
   * put it in its place and mark it NEW. A file already listed is left alone.
   */
  applyUploaded(file: FileInfo, now: number = Date.now()): void {
    if (file.room_id !== this.#roomId && this.#roomId !== "") return;
    const all = insert(this.#all, file);
    const found = this.#found && matches(file, this.#query, this.#type) ? insert(this.#found, file) : null;
    if (all) this.#all = all;
    if (found) this.#found = found;
    if (all || found) this.#mark(file.file_id, now + NEW_FOR_MS);
  }

  /**
   * A new version of a file (`file_version_added`): the listed file becomes
   * that version (same place: the list is ordered by the file's first
   * upload) and is NEW again for 5 s, as an upload is.
   */
  applyVersion(version: FileInfo, now: number = Date.now()): void {
    if (version.room_id !== this.#roomId && this.#roomId !== "") return;
    // A version is the same file: its comments stay.
    const comments = this.#all.files.find((f) => f.file_id === version.file_id)?.comments;
    const file = comments === undefined ? version : { ...version, comments };
    const all = insert(without(this.#all, file.file_id), file);
    if (all) this.#all = all;
    if (this.#found) {
      const rest = without(this.#found, file.file_id);
      this.#found = matches(file, this.#query, this.#type) ? (insert(rest, file) ?? rest) : rest;
    }
    this.#mark(file.file_id, now + NEW_FOR_MS);
  }

  /** A file's live comment count (`file_comment_added` / `_removed`: absolute, so a repeat changes nothing). */
  applyComments(fileId: string, count: number): void {
    const set = (list: Listing): Listing =>
      list.files.some((f) => f.file_id === fileId && (f.comments ?? 0) !== count)
        ? { ...list, files: list.files.map((f) => (f.file_id === fileId ? { ...f, comments: count } : f)) }
        : list;
    this.#all = set(this.#all);
    if (this.#found) this.#found = set(this.#found);
  }

  /** A file was deleted: take it off the lists. */
  applyDeleted(fileId: string): void {
    this.#unmark(fileId);
    this.#all = without(this.#all, fileId);
    if (this.#found) this.#found = without(this.#found, fileId);
  }

  /** Search names, descriptions and uploaders (on the server), {@link SEARCH_DEBOUNCE_MS} after the last call; "" shows all files again. */
  search(q: string): void {
    this.#input = q;
    clearTimeout(this.#searchTimer);
    this.#searchTimer = setTimeout(() => {
      this.#searchTimer = undefined;
      const next = q.trim();
      if (next === this.#query) return;
      this.#query = next;
      this.#refresh();
    }, SEARCH_DEBOUNCE_MS);
  }

  /** Show only files of one category (null: all), at once. */
  filter(type: FileCategory | null): void {
    if (type === this.#type) return;
    this.#type = type;
    this.#refresh();
  }

  /** Fetch the next (older) page of what the panel shows and add it at the end. */
  async loadMore(): Promise<void> {
    const searching = this.#shown !== this.#all;
    const before = this.#shown.next;
    if (before === null || this.#loadingMore || this.#loading) return;
    const generation = this.#generation;
    const q = searching ? this.#query : "";
    const type = searching ? this.#type : null;
    this.#loadingMore = true;
    this.#error = null;
    try {
      const page = await listFiles(this.#roomId, { q, type, before, limit: FILES_PAGE });
      if (generation !== this.#generation) return;
      const list = searching ? this.#found : this.#all;
      if (!list) return;
      const longer = { files: dedupe([...list.files, ...page.files]), next: page.next };
      if (searching) this.#found = longer;
      else this.#all = longer;
    } catch (err) {
      if (generation === this.#generation) this.#error = errorMessage(err);
    } finally {
      if (generation === this.#generation) this.#loadingMore = false;
    }
  }

  /** Whether user `me` may delete `file`: its uploader, or the room's owner `ownerId`. */
  canDelete(file: FileInfo, me: string, ownerId: string | null | undefined): boolean {
    return me !== "" && (file.uploader_id === me || ownerId === me);
  }

  /**
   * Delete a file on the server, then take it off the list.
   * @throws {ApiError} e.g. 403 when not allowed.
   */
  async remove(fileId: string): Promise<void> {
    await deleteFile(fileId);
    this.applyDeleted(fileId);
  }

  /** Hide the error. */
  clearError(): void {
    this.#error = null;
  }

  /** Stop every timer (the page is going away). */
  dispose(): void {
    clearTimeout(this.#searchTimer);
    for (const { timer } of this.#fresh.values()) clearTimeout(timer);
    this.#fresh.clear();
  }

  /** The search or filter changed: ask the server, or show all files again. */
  #refresh(): void {
    if (this.#narrowed) return void this.#search();
    this.#drop();
    this.#found = null;
  }

  /** Run the search in `query` and `type`: its answer replaces the previous one. */
  async #search(): Promise<void> {
    this.#drop();
    const generation = this.#generation;
    const q = this.#query;
    const type = this.#type;
    this.#loading = true;
    try {
      const page = await listFiles(this.#roomId, { q, type, limit: FILES_PAGE });
      if (generation === this.#generation) this.#found = { files: dedupe(page.files), next: page.next };
    } catch (err) {
      if (generation === this.#generation) this.#error = errorMessage(err);
    } finally {
      if (generation === this.#generation) this.#loading = false;
    }
  }

  /** A wholesale change: replies for what was shown before are dropped. */
  #drop(): void {
    this.#generation++;
    this.#loading = false;
    this.#loadingMore = false;
    this.#error = null;
  }

  #mark(fileId: string, until: number): void {
    clearTimeout(this.#fresh.get(fileId)?.timer);
    const timer = setTimeout(() => this.#unmark(fileId), Math.max(0, until - Date.now()));
    this.#fresh.set(fileId, { until, timer });
  }

  #unmark(fileId: string): void {
    const mark = this.#fresh.get(fileId);
    if (!mark) return;
    clearTimeout(mark.timer);
    this.#fresh.delete(fileId);
  }
}

/** `list` with `file` in its place, or null when it is listed already or belongs to a page not loaded yet. */
function insert(list: Listing, file: FileInfo): Listing | null {
  if (list.files.some((f) => f.file_id === file.file_id)) return null;
  // Older than the last loaded one with more to page in: it will come with that page.
  const last = list.files.at(-1);
  if (list.next !== null && last && newestFirst(file, last) > 0) return null;
  return { files: [...list.files, file].sort(newestFirst), next: list.next };
}

/** `list` without the file (the same object when it was not there). */
function without(list: Listing, fileId: string): Listing {
  return list.files.some((f) => f.file_id === fileId) ? { ...list, files: list.files.filter((f) => f.file_id !== fileId) } : list;
}

/** Newest first, each file once. */
function dedupe(files: FileInfo[]): FileInfo[] {
  return files.filter((f, i) => files.findIndex((g) => g.file_id === f.file_id) === i).sort(newestFirst);
}
