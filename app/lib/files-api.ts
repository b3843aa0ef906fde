/**
 * Calls for a room's shared files: list/search, delete and a file's versions
 * (JSON, through the fetch wrapper in http.ts) and upload — of a file, or of
 * a new version of one — (multipart through XMLHttpRequest, because fetch
 * reports no upload progress).
 */
import { ErrorBody, type FileCategory, FilesPage, FileVersions, UploadReply } from "#protocol";
import { ApiError, notifyUnauthorized, request, type RequestOptions } from "./http.ts";

const enc = encodeURIComponent;

/** Query for {@link listFiles}. */
export interface FilesQueryInput {
  /** Part of a file's name, description or uploader's username to search for. */
  q?: string;
  /** Only files of this category. */
  type?: FileCategory | null;
  /** The `next` cursor of the previous page. */
  before?: string | null;
  /** Page size, 1–100 (the server's default is 50). */
  limit?: number;
}

/** The URL a file downloads from. */
export const fileUrl = (fileId: string): string => `/api/files/${enc(fileId)}`;

/** The URL version `n` of a file downloads from. */
export const versionUrl = (fileId: string, n: number): string => `${fileUrl(fileId)}?version=${n}`;

/** The URL a new version of a file is uploaded to, and its versions are listed at. */
export const versionsUrl = (fileId: string): string => `/api/files/${enc(fileId)}/versions`;

/** The URL of a file's thumbnail (only when it `has_thumbnail`). */
export const thumbnailUrl = (fileId: string): string => `/api/files/${enc(fileId)}/thumbnail`;

/** The URL of a text file's preview (its first 64 KiB as plain text). */
export const previewUrl = (fileId: string): string => `/api/files/${enc(fileId)}/preview`;

/** A text file's preview: its first 64 KiB, and whether the file goes on after them. */
export interface FilePreviewText {
  text: string;
  truncated: boolean;
}

/**
 * Fetch a text file's preview (only text and code files have one: 415 otherwise).
 * @throws {ApiError}
 */
export async function fetchPreview(fileId: string, options: RequestOptions = {}): Promise<FilePreviewText> {
  let res: Response;
  try {
    res = await fetch(previewUrl(fileId), { credentials: "same-origin", signal: options.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "Could not reach Parley. Check your connection and try again.");
  }
  if (!res.ok) {
    const parsed = ErrorBody.safeParse(await res.json().catch(() => null));
    if (res.status === 401) notifyUnauthorized();
    if (parsed.success) throw new ApiError(res.status, parsed.data.error.code, parsed.data.error.message);
    throw new ApiError(res.status, "bad_request", `The preview failed (HTTP ${res.status}).`);
  }
  return { text: await res.text(), truncated: res.headers.get("X-Parley-Truncated") === "true" };
}

/**
 * One page of a room's files, newest first; `next` is the cursor for the page after.
 * @throws {ApiError}
 */
export function listFiles(roomId: string, query: FilesQueryInput = {}, options?: RequestOptions): Promise<FilesPage> {
  const params = new URLSearchParams();
  if (query.q) params.set("q", query.q);
  if (query.type) params.set("type", query.type);
  if (query.before) params.set("before", query.before);
  if (query.limit) params.set("limit", String(query.limit));
  const qs = params.toString();
  return request("GET", `/api/rooms/${enc(roomId)}/files${qs ? `?${qs}` : ""}`, FilesPage, undefined, options);
}

/**
 * Delete a file (its uploader, or the room's owner).
 * @throws {ApiError}
 */
export function deleteFile(fileId: string): Promise<void> {
  return request("DELETE", fileUrl(fileId), null);
}

/**
 * Every version of a file, newest first.
 * @throws {ApiError}
 */
export async function listVersions(fileId: string, options?: RequestOptions): Promise<FileVersions["versions"]> {
  return (await request("GET", versionsUrl(fileId), FileVersions, undefined, options)).versions;
}

/** What to send in one upload. */
export interface UploadInput {
  roomId: string;
  /** Where to send it (default: the room's files); a new version goes to {@link versionsUrl}. */
  url?: string;
  /** Made once per upload and kept for retries: a retry never stores a second copy. */
  clientId: string;
  file: File;
  description?: string;
  thumbnail?: Blob | null;
  /** Upload progress, 0–100. */
  onprogress?: (percent: number) => void;
}

/** Why an upload failed: HTTP status (0 when the network failed), error code and the server's message. */
export class UploadError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "UploadError";
    this.status = status;
    this.code = code;
  }
}

/** An upload in flight: its result, and a way to abort it. */
export interface UploadRequest {
  /** Resolves with the stored file; rejects with {@link UploadError}, or an `AbortError` DOMException after `abort()`. */
  done: Promise<UploadReply>;
  abort: () => void;
}

/**
 * Upload one file as `multipart/form-data`, fields in the order the server
 * reads them: `clientId`, `description`, `thumbnail`, `file`.
 */
export function sendUpload(input: UploadInput): UploadRequest {
  const xhr = new XMLHttpRequest();
  const form = new FormData();
  form.append("clientId", input.clientId);
  if (input.description) form.append("description", input.description);
  if (input.thumbnail) {
    const ext = input.thumbnail.type === "image/jpeg" ? "jpg" : "webp";
    form.append("thumbnail", input.thumbnail, `thumbnail.${ext}`);
  }
  form.append("file", input.file, input.file.name);

  const done = new Promise<UploadReply>((resolve, reject) => {
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) input.onprogress?.(Math.min(100, (event.loaded / event.total) * 100));
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON (a proxy error page): handled below.
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const parsed = UploadReply.safeParse(body);
        if (parsed.success) resolve(parsed.data);
        else reject(new UploadError(xhr.status, "internal", "The server sent an unexpected reply."));
        return;
      }
      const error = ErrorBody.safeParse(body);
      if (error.success) reject(new UploadError(xhr.status, error.data.error.code, error.data.error.message));
      else if (xhr.status >= 500) reject(new UploadError(xhr.status, "internal", "The server had a problem. Please try again in a moment."));
      else reject(new UploadError(xhr.status, "bad_request", `The upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new UploadError(0, "network", "Network error"));
    xhr.ontimeout = () => reject(new UploadError(0, "network", "Network error"));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
  });

  xhr.open("POST", input.url ?? `/api/rooms/${enc(input.roomId)}/files`);
  xhr.setRequestHeader("Accept", "application/json");
  xhr.send(form);
  return { done, abort: () => xhr.abort() };
}
