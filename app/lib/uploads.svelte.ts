/**
 * The uploads of one room page: a queue of files on their way to
 * `POST /api/rooms/:id/files`, at most {@link UPLOAD_CONCURRENCY} at a time,
 * each with its progress (XMLHttpRequest upload events), a thumbnail made
 * first for images, cancel, and — when it fails — the reason in words with
 * retry (same `clientId`, so a retry after a lost answer never stores the
 * file twice) and dismiss. A file larger than one part goes up as a
 * resumable upload (resumable-upload.ts) that waits out a lost connection
 * (`waiting`) and resumes from the parts stored; its upload id and parts stay
 * with the entry, so Retry after a failure resumes too, and its clientId in
 * localStorage, so picking the same file again after a reload resumes it.
 */
import { type FileInfo, formatBytes, LIMITS, UPLOAD_PART_SIZE } from "#protocol";
import { sendUpload, UploadError, type UploadInput, type UploadRequest } from "./files-api.ts";
import { type ResumableInput, type ResumableState, ResumeMemory, sendResumable, xhrTransport } from "./resumable-upload.ts";
import { makeThumbnail } from "./thumbnail.ts";

/** Run at most this many uploads at once. */
export const UPLOAD_CONCURRENCY = 2;
/** Keep a finished upload on show this long (a full bar), then drop it. */
export const DONE_LINGER_MS = 1_200;

/** Where an upload is. */
export type UploadStatus = "queued" | "uploading" | "failed" | "done";

/** One upload, as the UI shows it. */
export interface UploadEntry {
  /** The upload's `clientId` (also its key). */
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly description: string;
  readonly status: UploadStatus;
  /** 0–100. */
  readonly progress: number;
  /** Why it failed, in words (when `status` is "failed"). */
  readonly error: string | null;
  /** A resumable upload lost its connection and waits to go on (status stays "uploading"). */
  readonly waiting: boolean;
}

/** Options for {@link Uploads}. */
export interface UploadsOptions {
  /** The room the uploads go to (read when files are added: each goes to the room it was added in). */
  roomId: () => string;
  /** Called with each stored file (also for a retry the server recognised). */
  onuploaded?: (file: FileInfo) => void;
  /** How many uploads run at once. */
  concurrency?: number;
  /** The transport (injectable for tests). */
  send?: (input: UploadInput) => UploadRequest;
  /** Thumbnail maker (injectable for tests). */
  thumbnail?: (file: File) => Promise<Blob | null>;
  /** The resumable transport and its retry waits (injectable for tests); files over one part use it. */
  resumable?: Pick<ResumableInput, "transport" | "backoff" | "sleep">;
  /** Where large files' clientIds are kept for resuming after a reload (default: localStorage). */
  resumeMemory?: ResumeMemory;
}

/** Why a file of `name` is not sent: it is over {@link LIMITS.uploadMaxBytes}. */
const tooLarge = (name: string): string => `“${name}” is larger than the ${formatBytes(LIMITS.uploadMaxBytes)} limit`;

/** The failure of an upload of `name`, as a sentence. */
export function describeUploadError(err: unknown, name: string): string {
  if (err instanceof UploadError) {
    if (err.status === 413) return tooLarge(name);
    if (err.status === 403) return "You are no longer a member of this room";
    if (err.status === 0) return "Network error — check your connection";
    return err.message;
  }
  return "The upload failed. Please try again.";
}

interface Job {
  file: File;
  roomId: string;
  request: (UploadRequest & { pause?: () => void }) | null;
  cancelled: boolean;
  /** A resumable upload's id and stored parts, kept across attempts. */
  resumable: { current: ResumableState | null };
}

/** The upload queue of one room page. See the module comment. */
export class Uploads {
  #entries = $state.raw<UploadEntry[]>([]);
  /** Upload id → what is needed to (re)send it. Not reactive: the UI reads `entries`. */
  #jobs: Record<string, Job> = {};
  #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #options: UploadsOptions;
  readonly #concurrency: number;
  readonly #memory: ResumeMemory;
  #running = 0;
  #disposed = false;

  /** @param options see {@link UploadsOptions}. */
  constructor(options: UploadsOptions) {
    this.#options = options;
    this.#concurrency = Math.max(1, options.concurrency ?? UPLOAD_CONCURRENCY);
    this.#memory = options.resumeMemory ?? new ResumeMemory();
  }

  /** Every upload on show, in the order added. */
  get entries(): UploadEntry[] {
    return this.#entries;
  }

  /** Whether anything is waiting or uploading. */
  readonly busy: boolean = $derived(this.#entries.some((e) => e.status === "queued" || e.status === "uploading"));

  /**
   * Queue files for upload, each with `description`. Files over the limit fail
   * at once, without being sent.
   * @returns the new uploads' ids.
   */
  add(files: Iterable<File>, description = ""): string[] {
    if (this.#disposed) return [];
    const ids: string[] = [];
    const added: UploadEntry[] = [];
    for (const file of files) {
      const tooBig = file.size > LIMITS.uploadMaxBytes;
      const roomId = this.#options.roomId();
      // A large file picked before (say, before a reload) resumes with its clientId.
      const recalled = file.size > UPLOAD_PART_SIZE && !tooBig ? this.#memory.recall(roomId, file) : null;
      const id = recalled && !this.#jobs[recalled] ? recalled : crypto.randomUUID();
      this.#jobs[id] = { file, roomId, request: null, cancelled: false, resumable: { current: null } };
      added.push({
        id,
        name: file.name,
        size: file.size,
        description,
        status: tooBig ? "failed" : "queued",
        progress: 0,
        error: tooBig ? tooLarge(file.name) : null,
        waiting: false,
      });
      ids.push(id);
    }
    this.#entries = [...this.#entries, ...added];
    this.#pump();
    return ids;
  }

  /** Stop an upload (queued or in flight) and drop it from the list. */
  cancel(id: string): void {
    const job = this.#jobs[id];
    if (job) {
      job.cancelled = true;
      job.request?.abort();
    }
    this.dismiss(id);
  }

  /** Send a failed upload again, with the same `clientId`. */
  retry(id: string): void {
    const entry = this.#entry(id);
    if (!entry || entry.status !== "failed" || entry.size > LIMITS.uploadMaxBytes) return;
    this.#update(id, { status: "queued", progress: 0, error: null });
    this.#pump();
  }

  /** Drop an upload from the list (a failed one, or any the user no longer wants to see); a resumable one is dropped on the server too. */
  dismiss(id: string): void {
    const job = this.#jobs[id];
    if (job && job.file.size > UPLOAD_PART_SIZE) {
      const state = job.resumable.current;
      if (state && !job.request) void (this.#options.resumable?.transport ?? xhrTransport).abort(state.uploadId).catch(() => undefined);
      job.resumable.current = null;
      this.#memory.forget(job.roomId, job.file);
    }
    delete this.#jobs[id];
    this.#entries = this.#entries.filter((e) => e.id !== id);
  }

  /** Abort everything and stop timers (the page is going away). Resumable uploads are only paused: picking the file again resumes. */
  dispose(): void {
    this.#disposed = true;
    for (const job of Object.values(this.#jobs)) {
      job.cancelled = true;
      if (job.request?.pause) job.request.pause();
      else job.request?.abort();
    }
    this.#jobs = {};
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    this.#entries = [];
  }

  #entry(id: string): UploadEntry | undefined {
    return this.#entries.find((e) => e.id === id);
  }

  #update(id: string, change: Partial<Omit<UploadEntry, "id">>): void {
    if (!this.#entry(id)) return;
    this.#entries = this.#entries.map((e) => (e.id === id ? { ...e, ...change } : e));
  }

  /** Start queued uploads while there is room. */
  #pump(): void {
    while (!this.#disposed && this.#running < this.#concurrency) {
      const next = this.#entries.find((e) => e.status === "queued");
      if (!next) return;
      this.#update(next.id, { status: "uploading", progress: 0 });
      this.#running++;
      void this.#run(next.id).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #run(id: string): Promise<void> {
    const job = this.#jobs[id];
    const entry = this.#entry(id);
    if (!job || !entry) return;
    const make = this.#options.thumbnail ?? makeThumbnail;
    const thumbnail = await make(job.file).catch(() => null);
    if (job.cancelled) return;
    const send = this.#options.send ?? sendUpload;
    try {
      const input: UploadInput = {
        roomId: job.roomId,
        clientId: id,
        file: job.file,
        description: entry.description,
        thumbnail,
        onprogress: (percent) => {
          if (!job.cancelled) this.#update(id, { progress: Math.round(percent) });
        },
      };
      const resumable = job.file.size > UPLOAD_PART_SIZE;
      if (resumable) this.#memory.remember(job.roomId, job.file, id);
      job.request = resumable
        ? sendResumable({
            ...input,
            ...this.#options.resumable,
            state: job.resumable,
            onwaiting: (waiting) => {
              if (!job.cancelled) this.#update(id, { waiting });
            },
          })
        : send(input);
      const reply = await job.request.done;
      job.request = null;
      if (job.cancelled) return;
      if (resumable) this.#memory.forget(job.roomId, job.file);
      this.#options.onuploaded?.(reply.file);
      this.#update(id, { status: "done", progress: 100, error: null });
      delete this.#jobs[id];
      const timer = setTimeout(() => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        this.#entries = this.#entries.filter((e) => e.id !== id);
      }, DONE_LINGER_MS);
      this.#timers.push(timer);
    } catch (err) {
      job.request = null;
      if (job.cancelled || (err instanceof DOMException && err.name === "AbortError")) return;
      // The server no longer knows the resumable upload (aborted, or expired): a retry starts it afresh.
      if (err instanceof UploadError && err.status === 404) {
        job.resumable.current = null;
        this.#memory.forget(job.roomId, job.file);
      }
      this.#update(id, { status: "failed", waiting: false, error: describeUploadError(err, job.file.name) });
    }
  }
}
