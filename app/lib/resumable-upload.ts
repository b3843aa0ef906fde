/**
 * A large file's upload that survives a lost connection: it goes up as a
 * resumable upload (`POST /api/rooms/:id/uploads`, then one
 * `PUT /api/uploads/:id/parts/:n` per UPLOAD_PART_SIZE part, one at a time,
 * then `…/complete`; docs/protocol.md). On a network error or a 5xx it waits
 * (backoff.ts), asks `GET /api/uploads/:id` which parts the server has, and
 * sends only the missing ones, so a dropped connection costs at most the part
 * in flight. Progress is the stored parts' bytes plus the current part's,
 * so after a resume the bar starts where the stored parts end, never at 0.
 *
 * The upload id and the stored parts live in a {@link ResumableState} the
 * caller keeps (uploads.svelte.ts, per entry): a Retry after a failure goes
 * on from there too. {@link ResumeMemory} keeps a picked file's clientId in
 * localStorage, so picking the same file again (after a reload) starts with
 * that clientId, which the server answers with the same upload and its
 * stored parts. An image's thumbnail travels with `complete`.
 */
import { UploadParts, UploadReply, UploadStarted } from "#protocol";
import { Backoff } from "./backoff.ts";
import { UploadError, type UploadInput, type UploadRequest } from "./files-api.ts";
import { ApiError, request } from "./http.ts";

const enc = encodeURIComponent;

/** Where a resumable upload is: kept by the caller across attempts. */
export interface ResumableState {
  uploadId: string;
  partSize: number;
  /** Part numbers the server has stored. */
  parts: Set<number>;
}

/** One part on its way: its end, and a way to stop it. */
export interface PartRequest {
  done: Promise<void>;
  abort: () => void;
}

/** The calls a resumable upload makes (injectable for tests). Failures are {@link UploadError}s (status 0: the network). */
export interface ResumableTransport {
  start(roomId: string, body: { clientId: string; name: string; size: number; type: string; description?: string }): Promise<UploadStarted>;
  /** The part numbers stored. */
  list(uploadId: string): Promise<number[]>;
  /** Send part `n`; `onprogress` gets the bytes of it sent so far. */
  put(uploadId: string, n: number, bytes: Blob, onprogress: (loaded: number) => void): PartRequest;
  complete(uploadId: string, thumbnail: Blob | null): Promise<UploadReply>;
  abort(uploadId: string): Promise<void>;
}

/** What a resumable upload needs beyond an ordinary one. */
export interface ResumableInput extends UploadInput {
  /** Read and updated as parts are stored; made by the first start when absent. */
  state: { current: ResumableState | null };
  /** True while the upload waits to retry after a network error or a 5xx; false once it moves again. */
  onwaiting?: (waiting: boolean) => void;
  transport?: ResumableTransport;
  /** The waits between retries (default: 1 s doubling to 10 s, jittered). */
  backoff?: Backoff;
  /** Waiting (injectable for tests); must reject with an AbortError when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A resumable upload in flight: `abort()` also drops it on the server; `pause()` only stops sending (it can be resumed later). */
export interface ResumableRequest extends UploadRequest {
  pause: () => void;
}

/** Whether a failure is worth waiting out: the network, or the server's trouble. */
export const isTransient = (err: unknown): boolean => err instanceof UploadError && (err.status === 0 || err.status >= 500);

/** How many parts an upload of `size` has, and how large part `n` is. */
export const partCount = (size: number, partSize: number): number => Math.max(1, Math.ceil(size / partSize));
export const partBytes = (size: number, partSize: number, n: number): number => Math.min(partSize, size - (n - 1) * partSize);

const aborted = () => new DOMException("The upload was cancelled.", "AbortError");

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(aborted());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(aborted());
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}

/**
 * Send `input.file` as a resumable upload. `abort()` stops it and asks the
 * server to drop what it stored (DELETE).
 */
export function sendResumable(input: ResumableInput): ResumableRequest {
  const transport = input.transport ?? xhrTransport;
  const backoff = input.backoff ?? new Backoff();
  const sleep = input.sleep ?? defaultSleep;
  const controller = new AbortController();
  const { signal } = controller;
  let inFlight: PartRequest | null = null;
  let waiting = false;
  const setWaiting = (on: boolean) => {
    if (waiting === on) return;
    waiting = on;
    input.onwaiting?.(on);
  };
  const size = input.file.size;
  /** Progress in percent, never below the stored parts' share. */
  const report = (state: ResumableState, loaded: number) => {
    let stored = 0;
    for (const n of state.parts) stored += partBytes(size, state.partSize, n);
    input.onprogress?.(Math.min(100, ((stored + loaded) / size) * 100));
  };

  /** Start (once), send the missing parts, complete; a transient failure waits, asks for the stored parts, and goes on. */
  async function run(): Promise<UploadReply> {
    for (;;) {
      try {
        if (!input.state.current) {
          const started = await transport.start(input.roomId, {
            clientId: input.clientId,
            name: input.file.name,
            size,
            type: input.file.type,
            ...(input.description ? { description: input.description } : {}),
          });
          if (started.file) return { file: started.file, duplicate: true };
          input.state.current = { uploadId: started.uploadId, partSize: started.partSize, parts: new Set(started.parts ?? []) };
        }
        const state = input.state.current;
        setWaiting(false);
        report(state, 0);
        const count = partCount(size, state.partSize);
        for (let n = 1; n <= count; n++) {
          if (state.parts.has(n)) continue;
          const from = (n - 1) * state.partSize;
          const part = transport.put(state.uploadId, n, input.file.slice(from, from + partBytes(size, state.partSize, n)), (loaded) => {
            if (!signal.aborted) report(state, loaded);
          });
          inFlight = part;
          await part.done;
          inFlight = null;
          state.parts.add(n);
          backoff.reset();
          report(state, 0);
        }
        return await transport.complete(state.uploadId, input.thumbnail ?? null);
      } catch (err) {
        inFlight = null;
        if (signal.aborted) throw aborted();
        if (!isTransient(err)) throw err;
        setWaiting(true);
        // Wait, then ask which parts arrived (the one in flight may have); a failure here waits again.
        for (;;) {
          await sleep(backoff.next(), signal);
          if (!input.state.current) break;
          try {
            input.state.current.parts = new Set(await transport.list(input.state.current.uploadId));
            break;
          } catch (listErr) {
            if (signal.aborted) throw aborted();
            if (!isTransient(listErr)) throw listErr;
          }
        }
      }
    }
  }

  const done = run().finally(() => setWaiting(false));
  const pause = () => {
    if (signal.aborted) return;
    controller.abort();
    inFlight?.abort();
  };
  return {
    done,
    pause,
    abort: () => {
      if (signal.aborted) return;
      pause();
      const state = input.state.current;
      if (state) void transport.abort(state.uploadId).catch(() => undefined);
      input.state.current = null;
    },
  };
}

/** The part of Web Storage {@link ResumeMemory} uses. */
export type ResumeStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** The server forgets an unfinished upload a day after it started. */
export const RESUME_FOR_MS = 24 * 60 * 60 * 1000;

function browserStore(): ResumeStore | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage disabled
  }
}

/**
 * The clientId each large file picked in a room went up with (keyed by room,
 * name, size and modification time; kept a day), so picking it again resumes
 * the same upload. Failures of the storage are ignored: it is a convenience.
 */
export class ResumeMemory {
  readonly #store: ResumeStore | null;
  readonly #now: () => number;

  constructor(store: ResumeStore | null = browserStore(), now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  #key = (roomId: string, file: File) => `parley.resume:${roomId}:${file.size}:${file.lastModified}:${file.name}`;

  /** The clientId this file went up with, if within a day. */
  recall(roomId: string, file: File): string | null {
    try {
      const raw = this.#store?.getItem(this.#key(roomId, file));
      const saved = raw ? (JSON.parse(raw) as { clientId?: unknown; at?: unknown }) : null;
      if (saved && typeof saved.clientId === "string" && typeof saved.at === "number" && this.#now() - saved.at < RESUME_FOR_MS) return saved.clientId;
    } catch {
      // unreadable: start afresh
    }
    return null;
  }

  remember(roomId: string, file: File, clientId: string): void {
    try {
      if (this.recall(roomId, file) === clientId) return;
      this.#store?.setItem(this.#key(roomId, file), JSON.stringify({ clientId, at: this.#now() }));
    } catch {
      // full or disabled: no resuming after a reload
    }
  }

  forget(roomId: string, file: File): void {
    try {
      this.#store?.removeItem(this.#key(roomId, file));
    } catch {
      // ignore
    }
  }
}

/** An ApiError from http.ts as the UploadError uploads report. */
const asUploadError = (err: unknown): unknown => (err instanceof ApiError ? new UploadError(err.status, err.code, err.message) : err);

/** Send `body` with XMLHttpRequest (for upload progress); answers the parsed JSON, or rejects with an UploadError. */
function xhrSend(method: string, url: string, body: Blob, contentType: string, onprogress?: (loaded: number) => void) {
  const xhr = new XMLHttpRequest();
  const done = new Promise<unknown>((resolve, reject) => {
    xhr.upload.onprogress = (event) => onprogress?.(event.loaded);
    xhr.onload = () => {
      let json: unknown = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: handled below.
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(json);
      const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
      if (error?.message) reject(new UploadError(xhr.status, error.code ?? "bad_request", error.message));
      else if (xhr.status >= 500) reject(new UploadError(xhr.status, "internal", "The server had a problem. Please try again in a moment."));
      else reject(new UploadError(xhr.status, "bad_request", `The upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new UploadError(0, "network", "Network error"));
    xhr.ontimeout = () => reject(new UploadError(0, "network", "Network error"));
    xhr.onabort = () => reject(aborted());
  });
  xhr.open(method, url);
  xhr.setRequestHeader("Accept", "application/json");
  xhr.setRequestHeader("Content-Type", contentType);
  xhr.send(body);
  return { done, abort: () => xhr.abort() };
}

/** The real transport: JSON calls through http.ts, parts (and a thumbnail) through XMLHttpRequest. */
export const xhrTransport: ResumableTransport = {
  start: (roomId, body) => request("POST", `/api/rooms/${enc(roomId)}/uploads`, UploadStarted, body).catch((err) => Promise.reject(asUploadError(err))),
  list: (uploadId) =>
    request("GET", `/api/uploads/${enc(uploadId)}`, UploadParts).then(
      (r) => r.parts,
      (err) => Promise.reject(asUploadError(err)),
    ),
  put: (uploadId, n, bytes, onprogress) => {
    const req = xhrSend("PUT", `/api/uploads/${enc(uploadId)}/parts/${n}`, bytes, "application/octet-stream", onprogress);
    return { done: req.done.then((): void => undefined), abort: req.abort };
  },
  complete: async (uploadId, thumbnail) => {
    const url = `/api/uploads/${enc(uploadId)}/complete`;
    if (!thumbnail) return request("POST", url, UploadReply).catch((err) => Promise.reject(asUploadError(err)));
    const reply = UploadReply.safeParse(await xhrSend("POST", url, thumbnail, thumbnail.type).done);
    if (!reply.success) throw new UploadError(200, "internal", "The server sent an unexpected reply.");
    return reply.data;
  },
  abort: (uploadId) => request<void>("DELETE", `/api/uploads/${enc(uploadId)}`, null).catch((): void => undefined),
};
