/**
 * A file's versions in the SPA (#16): {@link VersionList}, the list an open
 * versions dialog shows (`GET /api/files/:id/versions`, newest first, fetched
 * again when the file's latest version changes — a `file_version_added` or my
 * own upload), and {@link VersionUpload}, "Upload new version": one upload at
 * a time to `POST /api/files/:id/versions` through the same XMLHttpRequest
 * transport as a room upload (files-api.ts `sendUpload`, with its URL), with
 * progress, a thumbnail first for images, and — when it fails — the reason in
 * words and, where trying again can help, a retry with the same `clientId`
 * (a retry after a lost answer never stores the version twice).
 */
import { type FileInfo, formatBytes, LIMITS } from "#protocol";
import { listVersions, sendUpload, UploadError, type UploadInput, type UploadRequest, versionsUrl } from "./files-api.ts";
import { errorMessage } from "./http.ts";
import { makeThumbnail } from "./thumbnail.ts";

/** A version's number (a file without one is version 1). */
export const versionOf = (file: FileInfo): number => file.version ?? 1;

/** Who stored this version (its uploader for version 1). */
export const versionAuthor = (file: FileInfo): { id: string; username: string } => ({
  id: file.version_uploader_id ?? file.uploader_id,
  username: file.version_uploaded_by ?? file.uploaded_by,
});

/** When this version was stored. */
export const versionTime = (file: FileInfo): number => file.version_uploaded_at ?? file.uploaded_at;

/** The versions of one file, as an open versions dialog shows them. */
export class VersionList {
  #versions = $state.raw<FileInfo[]>([]);
  #loading = $state(false);
  #error = $state<string | null>(null);
  /** `fileId:version` of the latest answer asked for; the same again fetches nothing. */
  #wanted = "";
  /** Bumped by every fetch: an older fetch's answer is dropped. */
  #generation = 0;
  readonly #list: (fileId: string) => Promise<FileInfo[]>;

  /** @param list the transport (injectable for tests). */
  constructor(list: (fileId: string) => Promise<FileInfo[]> = (id) => listVersions(id)) {
    this.#list = list;
  }

  /** Every version, newest first (empty until the first answer). */
  get versions(): FileInfo[] {
    return this.#versions;
  }

  /** True while a fetch runs. */
  get loading(): boolean {
    return this.#loading;
  }

  /** Why the last fetch failed, or null. */
  get error(): string | null {
    return this.#error;
  }

  /**
   * Show the versions of `file`: fetched when they are not loaded yet, or when
   * the file's latest version is not the one they were fetched for.
   */
  show(file: FileInfo): Promise<void> {
    const wanted = `${file.file_id}:${versionOf(file)}`;
    if (wanted === this.#wanted && this.#error === null) return Promise.resolve();
    if (!this.#wanted.startsWith(`${file.file_id}:`)) this.#versions = [];
    this.#wanted = wanted;
    return this.#fetch(file.file_id);
  }

  /** Forget the answer (the dialog closed): the next {@link show} fetches again. */
  close(): void {
    this.#generation++;
    this.#wanted = "";
    this.#loading = false;
    this.#error = null;
  }

  async #fetch(fileId: string): Promise<void> {
    const generation = ++this.#generation;
    this.#loading = true;
    this.#error = null;
    try {
      const versions = await this.#list(fileId);
      if (generation === this.#generation) this.#versions = [...versions].sort((a, b) => versionOf(b) - versionOf(a));
    } catch (err) {
      if (generation === this.#generation) this.#error = errorMessage(err);
    } finally {
      if (generation === this.#generation) this.#loading = false;
    }
  }
}

/** Where "Upload new version" is. */
export type VersionUploadStatus = "idle" | "uploading" | "failed" | "done";

/** Options for {@link VersionUpload}. */
export interface VersionUploadOptions {
  /** The file a version is added to (read when an upload starts). */
  file: () => FileInfo;
  /** Called with the file as of its new version (also for a retry the server recognised). */
  onadded?: (file: FileInfo) => void;
  /** The transport (injectable for tests). */
  send?: (input: UploadInput) => UploadRequest;
  /** Thumbnail maker (injectable for tests). */
  thumbnail?: (file: File) => Promise<Blob | null>;
}

/** The failure of a version upload of `name`, as a sentence. */
export function describeVersionError(err: unknown, name: string): string {
  if (err instanceof UploadError) {
    if (err.status === 413) return `“${name}” is larger than the ${formatBytes(LIMITS.uploadMaxBytes)} limit`;
    if (err.status === 404) return "This file has been deleted: it can no longer get a new version";
    if (err.status === 403) return err.message || "Only the uploader or the room's owner can add a version of this file";
    if (err.status === 0) return "Network error — check your connection";
    return err.message;
  }
  return "The upload failed. Please try again.";
}

/** Failures that the same request cannot get past: too large, not allowed, the file is gone. */
const final = (err: unknown): boolean => err instanceof UploadError && [400, 403, 404, 413].includes(err.status);

/** "Upload new version" of one file. See the module comment. */
export class VersionUpload {
  #status = $state<VersionUploadStatus>("idle");
  #progress = $state(0);
  #error = $state<string | null>(null);
  #canRetry = $state(false);
  #name = $state("");
  /** What a retry sends again: the same clientId, file and description. */
  #job: { clientId: string; file: File; description: string; fileId: string; roomId: string } | null = null;
  #request: UploadRequest | null = null;
  /** Bumped by every start, cancel and dispose: callbacks of an older attempt do nothing. */
  #attempt = 0;
  readonly #options: VersionUploadOptions;

  /** @param options see {@link VersionUploadOptions}. */
  constructor(options: VersionUploadOptions) {
    this.#options = options;
  }

  get status(): VersionUploadStatus {
    return this.#status;
  }

  /** 0–100. */
  get progress(): number {
    return this.#progress;
  }

  /** Why it failed, in words (when `status` is "failed"). */
  get error(): string | null {
    return this.#error;
  }

  /** Whether {@link retry} may help (not for a file too large, a refusal or a deleted file). */
  get canRetry(): boolean {
    return this.#canRetry;
  }

  /** The name of the file being sent (or last sent). */
  get name(): string {
    return this.#name;
  }

  /** Send `file` as the next version, with a fresh clientId. A file over the limit fails at once, unsent. */
  start(file: File, description = ""): void {
    const target = this.#options.file();
    this.#abort();
    this.#job = { clientId: crypto.randomUUID(), file, description, fileId: target.file_id, roomId: target.room_id };
    this.#name = file.name;
    if (file.size > LIMITS.uploadMaxBytes) {
      this.#fail(new UploadError(413, "payload_too_large", ""), file.name);
      return;
    }
    void this.#run();
  }

  /** Send the failed upload again, with the same clientId. */
  retry(): void {
    if (this.#status !== "failed" || !this.#canRetry || !this.#job) return;
    void this.#run();
  }

  /** Stop the upload in flight (or forget a failed or finished one). */
  cancel(): void {
    this.#abort();
    this.#job = null;
    this.#status = "idle";
    this.#progress = 0;
    this.#error = null;
    this.#canRetry = false;
  }

  /** Abort and stop (the dialog is going away). */
  dispose(): void {
    this.#abort();
    this.#job = null;
  }

  #abort(): void {
    this.#attempt++;
    this.#request?.abort();
    this.#request = null;
  }

  #fail(err: unknown, name: string): void {
    this.#status = "failed";
    this.#error = describeVersionError(err, name);
    this.#canRetry = !final(err);
  }

  async #run(): Promise<void> {
    const job = this.#job;
    if (!job) return;
    const attempt = ++this.#attempt;
    this.#status = "uploading";
    this.#progress = 0;
    this.#error = null;
    this.#canRetry = false;
    const make = this.#options.thumbnail ?? makeThumbnail;
    const thumbnail = await make(job.file).catch(() => null);
    if (attempt !== this.#attempt) return;
    const send = this.#options.send ?? sendUpload;
    try {
      this.#request = send({
        roomId: job.roomId,
        url: versionsUrl(job.fileId),
        clientId: job.clientId,
        file: job.file,
        description: job.description,
        thumbnail,
        onprogress: (percent) => {
          if (attempt === this.#attempt) this.#progress = Math.round(percent);
        },
      });
      const reply = await this.#request.done;
      if (attempt !== this.#attempt) return;
      this.#request = null;
      this.#status = "done";
      this.#progress = 100;
      this.#job = null;
      this.#options.onadded?.(reply.file);
    } catch (err) {
      if (attempt !== this.#attempt || (err instanceof DOMException && err.name === "AbortError")) return;
      this.#request = null;
      this.#fail(err, job.file.name);
    }
  }
}
