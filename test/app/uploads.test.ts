/**
 * The upload queue of a room page (app/lib/uploads.svelte.ts) with a fake
 * transport injected through its `send` / `thumbnail` options, and the
 * XMLHttpRequest transport itself (`sendUpload` in app/lib/files-api.ts)
 * against a fake XMLHttpRequest global.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { type FileInfo, formatBytes, LIMITS } from "#protocol";
import type { UploadReply } from "#protocol";
import { sendUpload, UploadError, type UploadInput, type UploadRequest } from "../../app/lib/files-api.ts";
import { DONE_LINGER_MS, describeUploadError, UPLOAD_CONCURRENCY, Uploads, type UploadsOptions } from "../../app/lib/uploads.svelte.ts";

/** The real setImmediate, taken before any test fakes timers: lets every pending promise chain run. */
const realSetImmediate = globalThis.setImmediate;
const settle = () => new Promise<void>((resolve) => realSetImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

const stored = (input: UploadInput): FileInfo => ({
  file_id: `f-${input.clientId}`,
  room_id: input.roomId,
  filename: input.file.name,
  file_type: input.file.type,
  file_size: input.file.size,
  uploaded_by: "me",
  uploader_id: "u-me",
  uploaded_at: 1,
  description: input.description ?? "",
  has_thumbnail: Boolean(input.thumbnail),
  seq: 1,
});

/** One request the fake transport received, answered when the test says. */
interface FakeRequest {
  input: UploadInput;
  aborted: boolean;
  succeed(duplicate?: boolean): void;
  fail(err: unknown): void;
}

/** A fake `send`: records each request and leaves it in flight until the test answers it. */
function fakeTransport() {
  const requests: FakeRequest[] = [];
  const send = (input: UploadInput): UploadRequest => {
    let resolve!: (reply: UploadReply) => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<UploadReply>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const req: FakeRequest = {
      input,
      aborted: false,
      succeed: (duplicate = false) => resolve({ file: stored(input), duplicate }),
      fail: (err) => reject(err),
    };
    requests.push(req);
    return {
      done,
      abort: () => {
        req.aborted = true;
        reject(new DOMException("The upload was cancelled.", "AbortError"));
      },
    };
  };
  return { requests, send };
}

/** An Uploads with the fake transport and no thumbnails (unless overridden); disposed after the test. */
function makeUploads(options: Partial<UploadsOptions> = {}) {
  const transport = fakeTransport();
  const uploaded: FileInfo[] = [];
  const uploads = new Uploads({
    roomId: () => "room-1",
    onuploaded: (f) => uploaded.push(f),
    send: transport.send,
    thumbnail: async () => null,
    ...options,
  });
  onTestFinished(() => uploads.dispose());
  return { uploads, uploaded, requests: transport.requests };
}

const textFile = (name: string, text = "hello") => new File([text], name, { type: "text/plain" });

/** A File that claims `size` bytes without holding them. */
function fileOfSize(name: string, size: number): File {
  const f = new File(["x"], name, { type: "application/octet-stream" });
  Object.defineProperty(f, "size", { value: size });
  return f;
}

const statuses = (uploads: Uploads) => uploads.entries.map((e) => [e.name, e.status]);

describe("Uploads: queueing and concurrency", () => {
  it("queues files in order, each with its own client id, and sends at most UPLOAD_CONCURRENCY at once", async () => {
    expect(UPLOAD_CONCURRENCY).toBe(2);
    const { uploads, requests } = makeUploads();
    const ids = uploads.add([textFile("a.txt"), textFile("b.txt"), textFile("c.txt")], "notes");
    expect(new Set(ids).size).toBe(3);
    expect(uploads.entries.map((e) => e.id)).toEqual(ids);
    expect(uploads.entries[0]).toMatchObject({ name: "a.txt", size: 5, description: "notes", progress: 0, error: null });
    expect(statuses(uploads)).toEqual([
      ["a.txt", "uploading"],
      ["b.txt", "uploading"],
      ["c.txt", "queued"],
    ]);
    expect(uploads.busy).toBe(true);

    await settle();
    expect(requests.map((r) => r.input.file.name)).toEqual(["a.txt", "b.txt"]);
    expect(requests[0]!.input).toMatchObject({ roomId: "room-1", clientId: ids[0], description: "notes", thumbnail: null });
  });

  it("starts the next queued file as soon as a slot frees up", async () => {
    const { uploads, requests } = makeUploads();
    uploads.add([textFile("a.txt"), textFile("b.txt"), textFile("c.txt")]);
    await settle();
    requests[1]!.succeed();
    await settle();
    expect(requests.map((r) => r.input.file.name)).toEqual(["a.txt", "b.txt", "c.txt"]);
    expect(statuses(uploads)).toEqual([
      ["a.txt", "uploading"],
      ["b.txt", "done"],
      ["c.txt", "uploading"],
    ]);
  });

  it("honours a concurrency option (one at a time), never below one", async () => {
    const serial = makeUploads({ concurrency: 1 });
    serial.uploads.add([textFile("a.txt"), textFile("b.txt")]);
    await settle();
    expect(serial.requests).toHaveLength(1);
    serial.requests[0]!.succeed();
    await settle();
    expect(serial.requests.map((r) => r.input.file.name)).toEqual(["a.txt", "b.txt"]);

    const zero = makeUploads({ concurrency: 0 });
    zero.uploads.add([textFile("x.txt"), textFile("y.txt")]);
    await settle();
    expect(zero.requests.map((r) => r.input.file.name)).toEqual(["x.txt"]);
  });

  it("sends each file to the room that was open when it was added", async () => {
    let room = "room-1";
    const { uploads, requests } = makeUploads({ roomId: () => room, concurrency: 1 });
    uploads.add([textFile("first.txt")]);
    uploads.add([textFile("second.txt")]);
    room = "room-2";
    uploads.add([textFile("third.txt")]);
    await settle();
    requests[0]!.succeed();
    await settle();
    requests[1]!.succeed();
    await settle();
    expect(requests.map((r) => [r.input.file.name, r.input.roomId])).toEqual([
      ["first.txt", "room-1"],
      ["second.txt", "room-1"],
      ["third.txt", "room-2"],
    ]);
  });
});

describe("Uploads: thumbnails", () => {
  it("sends the thumbnail made for the file", async () => {
    const thumb = new Blob(["t"], { type: "image/webp" });
    const made: File[] = [];
    const { uploads, requests } = makeUploads({
      thumbnail: async (f) => {
        made.push(f);
        return thumb;
      },
    });
    const picture = new File(["png"], "cat.png", { type: "image/png" });
    uploads.add([picture]);
    await settle();
    expect(made).toEqual([picture]);
    expect(requests[0]!.input.thumbnail).toBe(thumb);
  });

  it("a thumbnail that fails is left out; the file still goes", async () => {
    const { uploads, requests } = makeUploads({ thumbnail: () => Promise.reject(new Error("cannot decode")) });
    uploads.add([new File(["?"], "broken.png", { type: "image/png" })]);
    await settle();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.input.thumbnail).toBeNull();
  });

  it("cancelling while the thumbnail is being made sends nothing", async () => {
    let finish!: (b: Blob | null) => void;
    const { uploads, requests } = makeUploads({ thumbnail: () => new Promise((r) => (finish = r)) });
    const [id] = uploads.add([new File(["png"], "cat.png", { type: "image/png" })]);
    await settle();
    uploads.cancel(id!);
    finish(null);
    await settle();
    expect(requests).toEqual([]);
    expect(uploads.entries).toEqual([]);
  });
});

describe("Uploads: progress and completion", () => {
  it("shows progress as whole percents", async () => {
    const { uploads, requests } = makeUploads();
    uploads.add([textFile("a.txt")]);
    await settle();
    requests[0]!.input.onprogress?.(33.4);
    expect(uploads.entries[0]!.progress).toBe(33);
    requests[0]!.input.onprogress?.(66.6);
    expect(uploads.entries[0]!.progress).toBe(67);
  });

  it("a stored file is reported, shown done at 100% for DONE_LINGER_MS, then dropped", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { uploads, uploaded, requests } = makeUploads();
    uploads.add([textFile("a.txt")]);
    await settle();
    requests[0]!.input.onprogress?.(80);
    requests[0]!.succeed();
    await settle();
    expect(uploaded.map((f) => f.filename)).toEqual(["a.txt"]);
    expect(uploads.entries[0]).toMatchObject({ name: "a.txt", status: "done", progress: 100, error: null });
    expect(uploads.busy).toBe(false);

    vi.advanceTimersByTime(DONE_LINGER_MS - 1);
    expect(uploads.entries).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(uploads.entries).toEqual([]);
  });

  it("a retry the server recognised (duplicate) is reported like a fresh upload", async () => {
    const { uploads, uploaded, requests } = makeUploads();
    uploads.add([textFile("a.txt")]);
    await settle();
    requests[0]!.succeed(true);
    await settle();
    expect(uploaded).toHaveLength(1);
    expect(uploads.entries[0]!.status).toBe("done");
  });
});

describe("Uploads: failure, retry, cancel", () => {
  it("a refused upload fails with the reason in words, and frees its slot", async () => {
    const { uploads, uploaded, requests } = makeUploads({ concurrency: 1 });
    uploads.add([textFile("a.txt"), textFile("b.txt")]);
    await settle();
    requests[0]!.fail(new UploadError(400, "bad_request", "Description must be at most 500 characters"));
    await settle();
    expect(uploads.entries[0]).toMatchObject({ status: "failed", error: "Description must be at most 500 characters" });
    expect(uploaded).toEqual([]);
    expect(requests.map((r) => r.input.file.name)).toEqual(["a.txt", "b.txt"]);
  });

  it("retry sends a failed upload again with the same client id, from 0%", async () => {
    const { uploads, uploaded, requests } = makeUploads();
    const [id] = uploads.add([textFile("a.txt")]);
    await settle();
    requests[0]!.input.onprogress?.(90);
    requests[0]!.fail(new UploadError(0, "network", "Network error"));
    await settle();
    expect(uploads.entries[0]).toMatchObject({ status: "failed", error: "Network error — check your connection" });

    uploads.retry(id!);
    expect(uploads.entries[0]).toMatchObject({ id, status: "uploading", progress: 0, error: null });
    await settle();
    expect(requests).toHaveLength(2);
    expect(requests[1]!.input.clientId).toBe(id);
    expect(requests[1]!.input.file).toBe(requests[0]!.input.file);
    requests[1]!.succeed(true);
    await settle();
    expect(uploaded).toHaveLength(1);
  });

  it("retry does nothing to an upload that has not failed", async () => {
    const { uploads, requests } = makeUploads();
    const [id] = uploads.add([textFile("a.txt")]);
    await settle();
    uploads.retry(id!);
    uploads.retry("unknown");
    await settle();
    expect(requests).toHaveLength(1);
  });

  it("cancel aborts an upload in flight, drops it, reports nothing, and lets the next one start", async () => {
    const { uploads, uploaded, requests } = makeUploads({ concurrency: 1 });
    const [a] = uploads.add([textFile("a.txt"), textFile("b.txt")]);
    await settle();
    uploads.cancel(a!);
    expect(requests[0]!.aborted).toBe(true);
    expect(uploads.entries.map((e) => e.name)).toEqual(["b.txt"]);
    await settle();
    expect(requests.map((r) => r.input.file.name)).toEqual(["a.txt", "b.txt"]);
    expect(uploaded).toEqual([]);
    expect(uploads.entries).toHaveLength(1);
  });

  it("cancel of a queued upload means it is never sent", async () => {
    const { uploads, requests } = makeUploads({ concurrency: 1 });
    const [, b] = uploads.add([textFile("a.txt"), textFile("b.txt")]);
    uploads.cancel(b!);
    await settle();
    requests[0]!.succeed();
    await settle();
    expect(requests.map((r) => r.input.file.name)).toEqual(["a.txt"]);
  });

  it("a file over the limit fails at once, is never sent, and cannot be retried", async () => {
    const { uploads, requests } = makeUploads();
    const [id] = uploads.add([fileOfSize("huge.iso", LIMITS.uploadMaxBytes + 1), textFile("small.txt")]);
    expect(uploads.entries[0]).toMatchObject({ status: "failed", error: "“huge.iso” is larger than the 100 MB limit" });
    uploads.retry(id!);
    await settle();
    expect(requests.map((r) => r.input.file.name)).toEqual(["small.txt"]);
    expect(uploads.entries[0]!.status).toBe("failed");
  });

  it("dismiss drops a failed upload from the list", async () => {
    const { uploads, requests } = makeUploads();
    const [id] = uploads.add([textFile("a.txt")]);
    await settle();
    requests[0]!.fail(new UploadError(500, "internal", "Oops"));
    await settle();
    uploads.dismiss(id!);
    expect(uploads.entries).toEqual([]);
    uploads.retry(id!);
    await settle();
    expect(requests).toHaveLength(1);
  });

  it("dispose aborts everything in flight, clears the list and its timers, and takes no more files", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { uploads, uploaded, requests } = makeUploads();
    uploads.add([textFile("a.txt"), textFile("b.txt"), textFile("c.txt"), textFile("d.txt")]);
    await settle();
    requests[0]!.succeed();
    await settle();
    expect(statuses(uploads)).toEqual([
      ["a.txt", "done"],
      ["b.txt", "uploading"],
      ["c.txt", "uploading"],
      ["d.txt", "queued"],
    ]);
    expect(vi.getTimerCount()).toBe(1); // the "done" linger
    uploads.dispose();
    expect(requests.map((r) => [r.input.file.name, r.aborted])).toEqual([
      ["a.txt", false],
      ["b.txt", true],
      ["c.txt", true],
    ]);
    expect(uploads.entries).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    await settle();
    expect(requests).toHaveLength(3); // d.txt never started
    expect(uploads.add([textFile("e.txt")])).toEqual([]);
    expect(uploads.entries).toEqual([]);
    expect(uploaded).toHaveLength(1);
  });
});

describe("describeUploadError", () => {
  it("says in words what each failure means", () => {
    const limit = formatBytes(LIMITS.uploadMaxBytes);
    expect(limit).toBe("100 MB");
    expect(describeUploadError(new UploadError(413, "payload_too_large", "x"), "a.bin")).toBe(`“a.bin” is larger than the ${limit} limit`);
    expect(describeUploadError(new UploadError(403, "forbidden", "x"), "a.bin")).toBe("You are no longer a member of this room");
    expect(describeUploadError(new UploadError(0, "network", "x"), "a.bin")).toBe("Network error — check your connection");
    expect(describeUploadError(new UploadError(400, "bad_request", "A thumbnail must be WebP"), "a.bin")).toBe("A thumbnail must be WebP");
    expect(describeUploadError(new Error("boom"), "a.bin")).toBe("The upload failed. Please try again.");
  });
});

describe("formatBytes (the sizes the Files panel and upload list show)", () => {
  it("uses powers of 1024 with B / KB / MB / GB labels", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1 KB");
    expect(formatBytes(1234)).toBe("1.2 KB");
    expect(formatBytes(LIMITS.thumbnailMaxBytes)).toBe("256 KB");
    expect(formatBytes(6 * 1024 * 1024)).toBe("6 MB");
    expect(formatBytes(1.5 * 1024 ** 3)).toBe("1.5 GB");
    expect(formatBytes(3 * 1024 ** 5)).toBe("3072 TB");
  });

  it("never shows 1024 of a unit: that is one of the next", () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe("1 MB");
    expect(formatBytes(1024 ** 3 - 1)).toBe("1 GB");
  });
});

// ------------------------------------------------------------------ sendUpload over a fake XMLHttpRequest

/** Enough of XMLHttpRequest for sendUpload: records what was sent; the test plays the server. */
class FakeXhr {
  static last: FakeXhr | null = null;
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: FormData | null = null;
  status = 0;
  responseText = "";
  aborted = false;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;

  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  respond(status: number, body: string) {
    this.status = status;
    this.responseText = body;
    this.onload?.();
  }
}

function stubXhr(): () => FakeXhr {
  FakeXhr.last = null;
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  onTestFinished(() => {
    vi.unstubAllGlobals();
  });
  return () => {
    if (!FakeXhr.last) throw new Error("no XMLHttpRequest was made");
    return FakeXhr.last;
  };
}

const input = (extra: Partial<UploadInput> = {}): UploadInput => ({
  roomId: "room/1",
  clientId: "c-1",
  file: textFile("notes.txt", "0123456789"),
  ...extra,
});

describe("sendUpload", () => {
  it("posts multipart fields in the order the server reads them, and resolves with the stored file", async () => {
    const xhr = stubXhr();
    const thumbnail = new Blob(["t"], { type: "image/jpeg" });
    const req = sendUpload(input({ description: "my notes", thumbnail }));
    const sent = xhr();
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe("/api/rooms/room%2F1/files");
    expect(sent.headers).toEqual({ Accept: "application/json" });
    expect([...sent.body!.keys()]).toEqual(["clientId", "description", "thumbnail", "file"]);
    expect(sent.body!.get("clientId")).toBe("c-1");
    expect((sent.body!.get("thumbnail") as File).name).toBe("thumbnail.jpg");
    expect((sent.body!.get("file") as File).name).toBe("notes.txt");

    const file = stored(input());
    sent.respond(201, JSON.stringify({ file, duplicate: false }));
    await expect(req.done).resolves.toEqual({ file, duplicate: false });
  });

  it("posts to `url` when one is given (a new version of a file), with the same fields", () => {
    const xhr = stubXhr();
    void sendUpload(input({ url: "/api/files/f%2F1/versions", description: "v2" })).done.catch(() => {});
    expect(xhr().method).toBe("POST");
    expect(xhr().url).toBe("/api/files/f%2F1/versions");
    expect([...xhr().body!.keys()]).toEqual(["clientId", "description", "file"]);
  });

  it("leaves out an empty description and a missing thumbnail", () => {
    const xhr = stubXhr();
    void sendUpload(input({ description: "", thumbnail: null })).done.catch(() => {});
    expect([...xhr().body!.keys()]).toEqual(["clientId", "file"]);
  });

  it("reports upload progress in percent, capped at 100, and only when the total is known", () => {
    const xhr = stubXhr();
    const seen: number[] = [];
    void sendUpload(input({ onprogress: (p) => seen.push(p) })).done.catch(() => {});
    const progress = xhr().upload.onprogress!;
    progress({ lengthComputable: true, loaded: 25, total: 100 });
    progress({ lengthComputable: false, loaded: 50, total: 0 });
    progress({ lengthComputable: true, loaded: 120, total: 100 });
    expect(seen).toEqual([25, 100]);
  });

  it("an error reply becomes an UploadError with the server's code and message", async () => {
    const xhr = stubXhr();
    const req = sendUpload(input());
    xhr().respond(413, JSON.stringify({ error: { code: "payload_too_large", message: "The file is larger than the limit of 100 MB" } }));
    const err = await req.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ status: 413, code: "payload_too_large", message: "The file is larger than the limit of 100 MB" });
  });

  it("a non-JSON 5xx, a 2xx with an unexpected body and a network failure each reject with their own UploadError", async () => {
    const xhr = stubXhr();
    const a = sendUpload(input());
    xhr().respond(502, "<html>Bad gateway</html>");
    await expect(a.done).rejects.toMatchObject({ status: 502, code: "internal" });

    const b = sendUpload(input());
    xhr().respond(201, JSON.stringify({ ok: true }));
    await expect(b.done).rejects.toMatchObject({ status: 201, code: "internal", message: "The server sent an unexpected reply." });

    const c = sendUpload(input());
    xhr().onerror!();
    await expect(c.done).rejects.toMatchObject({ status: 0, code: "network" });
  });

  it("abort() aborts the request and rejects with an AbortError", async () => {
    const xhr = stubXhr();
    const req = sendUpload(input());
    req.abort();
    expect(xhr().aborted).toBe(true);
    const err = await req.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe("AbortError");
  });
});
