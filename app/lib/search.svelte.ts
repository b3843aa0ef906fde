/**
 * Message search (issue #15): what the search box asks `GET /api/search`,
 * and what it shows. Typing waits for a short pause before asking; a newer
 * query cancels the one in flight, so results always belong to the text in
 * the box. The server decides what a query means (words, the last one a
 * prefix) and explains a refusal; that message is shown as it is.
 */
import { type SearchHit, SearchReply } from "#protocol";
import { errorMessage, request } from "./http.ts";

export type SearchStatus = "idle" | "loading" | "done" | "error";
export type SearchFetch = (q: string, room: string | null, signal: AbortSignal) => Promise<SearchReply>;

const fetchSearch: SearchFetch = (q, room, signal) =>
  request("GET", `/api/search?${new URLSearchParams(room ? { q, room } : { q })}`, SearchReply, undefined, { signal });

export class MessageSearch {
  query = $state("");
  /** Only this room (its id), or every room of mine (null). */
  room = $state<string | null>(null);
  hits = $state.raw<SearchHit[]>([]);
  status = $state<SearchStatus>("idle");
  error = $state<string | null>(null);
  /** Some room did not answer: its hits are missing. */
  partial = $state(false);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inflight: AbortController | undefined;

  constructor(
    private readonly fetcher: SearchFetch = fetchSearch,
    private readonly pauseMs = 250,
  ) {}

  /** The box changed: search after a pause (nothing for blank text). */
  input(text: string): void {
    this.query = text;
    clearTimeout(this.#timer);
    if (!text.trim()) {
      this.#cancel();
      this.hits = [];
      this.status = "idle";
      this.error = null;
      return;
    }
    this.#timer = setTimeout(() => void this.run(), this.pauseMs);
  }

  /** Search `room` (null: all my rooms) from now on, and again at once if there is a query. */
  scope(room: string | null): void {
    this.room = room;
    if (this.query.trim()) void this.run();
  }

  /** Search now (Enter). */
  async run(): Promise<void> {
    clearTimeout(this.#timer);
    const q = this.query;
    if (!q.trim()) return;
    this.#cancel();
    const ctrl = new AbortController();
    this.#inflight = ctrl;
    this.status = "loading";
    this.error = null;
    try {
      const reply = await this.fetcher(q, this.room, ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.hits = reply.hits;
      this.partial = reply.partial;
      this.status = "done";
    } catch (err) {
      if (ctrl.signal.aborted) return;
      this.hits = [];
      this.error = errorMessage(err);
      this.status = "error";
    } finally {
      if (this.#inflight === ctrl) this.#inflight = undefined;
    }
  }

  #cancel(): void {
    this.#inflight?.abort();
    this.#inflight = undefined;
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#cancel();
  }
}
