/**
 * The Files panel of one room page: the room's shared files, newest first and
 * never twice, from the snapshot and then kept current by `file_uploaded` /
 * `file_deleted` events; a server-side name search; paging with `next`.
 *
 * A file that arrives live (not with a snapshot or a page) is NEW for
 * {@link NEW_FOR_MS}: {@link RoomFiles.isNew} says so until then, and the mark
 * goes away by itself.
 */
import { SvelteMap } from "svelte/reactivity";
import type { FileInfo } from "#protocol";
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

/** Whether `name` matches a search the way the server's (case-insensitive) LIKE does. */
const matches = (name: string, q: string): boolean => q === "" || name.toLowerCase().includes(q.toLowerCase());

/** The Files list state of one room page. See the module comment. */
export class RoomFiles {
  #roomId = "";
  #files = $state.raw<FileInfo[]>([]);
  #next = $state<string | null>(null);
  /** The search the list shows ("" for all files). */
  #query = $state("");
  /** What is typed in the search box (ahead of `query` while the debounce waits). */
  #input = $state("");
  #loading = $state(false);
  #loadingMore = $state(false);
  #error = $state<string | null>(null);
  /** file_id → when its NEW mark ends (ms since epoch), and the timer that ends it. */
  readonly #fresh = new SvelteMap<string, { until: number; timer: ReturnType<typeof setTimeout> }>();
  #searchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every wholesale change; replies for an older list are dropped. */
  #generation = 0;

  /** The files shown (all, or those matching the search), newest first. */
  get files(): FileInfo[] {
    return this.#files;
  }

  /** Whether more (older) files can be fetched with {@link RoomFiles.loadMore}. */
  readonly hasMore: boolean = $derived(this.#next !== null);

  /** The search the list currently shows ("" when showing all files). */
  get query(): string {
    return this.#query;
  }

  /** The search box's text. */
  get input(): string {
    return this.#input;
  }

  /** True while the list is being (re)loaded or searched. */
  get loading(): boolean {
    return this.#loading;
  }

  /** True while an older page is being fetched. */
  get loadingMore(): boolean {
    return this.#loadingMore;
  }

  /** Why the last load, search or page failed, or null. */
  get error(): string | null {
    return this.#error;
  }

  /** Whether the file arrived live less than {@link NEW_FOR_MS} ago. */
  isNew(fileId: string): boolean {
    return this.#fresh.has(fileId);
  }

  /** When the file's NEW mark ends (ms since epoch), or undefined when it is not new. */
  newUntil(fileId: string): number | undefined {
    return this.#fresh.get(fileId)?.until;
  }

  /**
   * Fetch the newest page of room `roomId`'s files (with the current search).
   * Failures land in {@link RoomFiles.error}.
   */
  async load(roomId: string = this.#roomId): Promise<void> {
    if (roomId !== this.#roomId) this.#reset(roomId);
    const generation = ++this.#generation;
    const q = this.#query;
    this.#loading = true;
    this.#error = null;
    try {
      const page = await listFiles(roomId, { q, limit: FILES_PAGE });
      if (generation !== this.#generation) return;
      this.#files = dedupe(page.files);
      this.#next = page.next;
    } catch (err) {
      if (generation === this.#generation) this.#error = errorMessage(err);
    } finally {
      if (generation === this.#generation) this.#loading = false;
    }
  }

  /**
   * Show the files of a room snapshot (the newest {@link FILES_PAGE}). They are
   * not NEW. While a search is active, the search is run again instead.
   */
  setFromSnapshot(files: FileInfo[], roomId: string = this.#roomId): void {
    if (roomId !== this.#roomId) this.#reset(roomId);
    if (this.#query) return void this.load();
    this.#generation++;
    this.#loading = false;
    this.#loadingMore = false;
    this.#error = null;
    const sorted = dedupe(files);
    this.#files = sorted;
    const last = sorted.at(-1);
    this.#next = sorted.length >= FILES_PAGE && last ? cursorAfter(last) : null;
    for (const id of this.#fresh.keys()) if (!sorted.some((f) => f.file_id === id)) this.#unmark(id);
  }

  /**
   * A file was uploaded (a `file_uploaded` event, or my own upload's reply):
   * put it in its place and mark it NEW. A file already listed is left alone.
   */
  applyUploaded(file: FileInfo, now: number = Date.now()): void {
    if (file.room_id !== this.#roomId && this.#roomId !== "") return;
    const known = this.#files.some((f) => f.file_id === file.file_id);
    if (known) return;
    if (!matches(file.filename, this.#query)) return;
    // Older than the last loaded one with more to page in: it will come with that page.
    const last = this.#files.at(-1);
    if (this.#next !== null && last && newestFirst(file, last) > 0) return;
    this.#files = [...this.#files, file].sort(newestFirst);
    this.#mark(file.file_id, now + NEW_FOR_MS);
  }

  /** A file was deleted: take it off the list. */
  applyDeleted(fileId: string): void {
    this.#unmark(fileId);
    if (this.#files.some((f) => f.file_id === fileId)) this.#files = this.#files.filter((f) => f.file_id !== fileId);
  }

  /** Search file names (on the server), {@link SEARCH_DEBOUNCE_MS} after the last call. */
  search(q: string): void {
    this.#input = q;
    clearTimeout(this.#searchTimer);
    this.#searchTimer = setTimeout(() => {
      this.#searchTimer = undefined;
      const next = q.trim();
      if (next === this.#query) return;
      this.#query = next;
      void this.load();
    }, SEARCH_DEBOUNCE_MS);
  }

  /** Fetch the next (older) page and add it at the end. */
  async loadMore(): Promise<void> {
    const before = this.#next;
    if (before === null || this.#loadingMore || this.#loading) return;
    const generation = this.#generation;
    this.#loadingMore = true;
    this.#error = null;
    try {
      const page = await listFiles(this.#roomId, { q: this.#query, before, limit: FILES_PAGE });
      if (generation !== this.#generation) return;
      this.#files = dedupe([...this.#files, ...page.files]);
      this.#next = page.next;
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

  #reset(roomId: string): void {
    this.dispose();
    this.#roomId = roomId;
    this.#generation++;
    this.#files = [];
    this.#next = null;
    this.#query = "";
    this.#input = "";
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

/** Newest first, each file once. */
function dedupe(files: FileInfo[]): FileInfo[] {
  return files.filter((f, i) => files.findIndex((g) => g.file_id === f.file_id) === i).sort(newestFirst);
}
