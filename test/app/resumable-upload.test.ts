/**
 * The resumable upload (app/lib/resumable-upload.ts) against a fake
 * transport: parts one at a time, progress from the stored parts, and after
 * a lost connection a wait, a question for the stored parts, and only the
 * missing ones sent. Then the upload queue (uploads.svelte.ts) using it for
 * files over one part, with `waiting` on the entry.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { type FileInfo, LIMITS, UPLOAD_PART_SIZE, type UploadReply } from "#protocol";
import { Backoff } from "../../app/lib/backoff.ts";
import { UploadError } from "../../app/lib/files-api.ts";
import {
  partBytes,
  partCount,
  RESUME_FOR_MS,
  type ResumableState,
  type ResumableTransport,
  ResumeMemory,
  type ResumeStore,
  sendResumable,
} from "../../app/lib/resumable-upload.ts";
import { Uploads } from "../../app/lib/uploads.svelte.ts";

const realSetImmediate = globalThis.setImmediate;
const settle = async (rounds = 3) => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => realSetImmediate(resolve));
};

const stored = (name: string, size: number): FileInfo => ({
  file_id: "f-1",
  room_id: "room-1",
  filename: name,
  file_type: "application/octet-stream",
  file_size: size,
  uploaded_by: "me",
  uploader_id: "u-me",
  uploaded_at: 1,
  description: "",
  has_thumbnail: false,
  seq: 1,
});

const networkDown = () => new UploadError(0, "network", "Network error");

interface FakePut {
  n: number;
  bytes: Blob;
  aborted: boolean;
  progress(loaded: number): void;
  succeed(): void;
  fail(err: unknown): void;
}

/** A server-side fake: parts it has, calls it saw, each part answered when the test says. */
function fakeServer(partSize: number) {
  const parts = new Set<number>();
  const puts: FakePut[] = [];
  const calls: string[] = [];
  const thumbnails: (Blob | null)[] = [];
  const clientIds: string[] = [];
  let offline = false;
  const transport: ResumableTransport = {
    start: async (_roomId, body) => {
      calls.push("start");
      clientIds.push(body.clientId);
      if (offline) throw networkDown();
      return { uploadId: "up-1", partSize, parts: [...parts] };
    },
    list: async () => {
      calls.push("list");
      if (offline) throw networkDown();
      return [...parts].sort((a, b) => a - b);
    },
    put: (_id, n, bytes, onprogress) => {
      calls.push(`put ${n}`);
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const put: FakePut = {
        n,
        bytes,
        aborted: false,
        progress: onprogress,
        succeed: () => {
          parts.add(n);
          resolve();
        },
        fail: reject,
      };
      puts.push(put);
      return {
        done,
        abort: () => {
          put.aborted = true;
          reject(new DOMException("aborted", "AbortError"));
        },
      };
    },
    complete: async (_id, thumbnail) => {
      calls.push("complete");
      if (offline) throw networkDown();
      thumbnails.push(thumbnail);
      return { file: stored("big.bin", 0), duplicate: false } satisfies UploadReply;
    },
    abort: async (id) => {
      calls.push(`abort ${id}`);
    },
  };
  return {
    transport,
    parts,
    puts,
    calls,
    thumbnails,
    clientIds,
    setOffline: (on: boolean) => (offline = on),
    /** The newest part request (the one in flight). */
    last: () => puts.at(-1)!,
  };
}

/** A sleep the test wakes: records each wait. */
function manualSleep() {
  const waits: number[] = [];
  let wake: (() => void) | null = null;
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      waits.push(ms);
      wake = resolve;
      signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true });
    });
  return {
    sleep,
    waits,
    wake: () => {
      const w = wake;
      wake = null;
      w?.();
    },
    sleeping: () => wake !== null,
  };
}

/** 35 bytes in parts of 10: four parts, the last of 5. */
const SIZE = 35;
const PART = 10;
const file = () => new File(["0123456789abcdefghijABCDEFGHIJvwxyz"], "big.bin", { type: "application/octet-stream" });

function start(opts: { thumbnail?: Blob } = {}) {
  const server = fakeServer(PART);
  const clock = manualSleep();
  const progress: number[] = [];
  const waiting: boolean[] = [];
  const state: { current: ResumableState | null } = { current: null };
  const req = sendResumable({
    roomId: "room-1",
    clientId: "c-1",
    file: file(),
    thumbnail: opts.thumbnail ?? null,
    state,
    transport: server.transport,
    sleep: clock.sleep,
    backoff: new Backoff(1000, 10_000, () => 0.5),
    onprogress: (p) => progress.push(p),
    onwaiting: (w) => waiting.push(w),
  });
  return { server, clock, progress, waiting, state, req };
}

describe("resumable upload: parts and progress", () => {
  it("part sizes: all but the last are partSize", () => {
    expect(partCount(SIZE, PART)).toBe(4);
    expect([1, 2, 3, 4].map((n) => partBytes(SIZE, PART, n))).toEqual([10, 10, 10, 5]);
    expect(partCount(2 * UPLOAD_PART_SIZE, UPLOAD_PART_SIZE)).toBe(2);
  });

  it("sends the parts one at a time, the right bytes each, then completes with the thumbnail", async () => {
    const thumb = new Blob(["t"], { type: "image/webp" });
    const { server, progress, req } = start({ thumbnail: thumb });
    const texts: string[] = [];
    for (let n = 1; n <= 4; n++) {
      await settle();
      expect(server.puts).toHaveLength(n);
      const put = server.last();
      expect(put.n).toBe(n);
      texts.push(await put.bytes.text());
      put.progress(put.bytes.size / 2);
      put.succeed();
    }
    expect(await req.done).toMatchObject({ duplicate: false });
    expect(texts).toEqual(["0123456789", "abcdefghij", "ABCDEFGHIJ", "vwxyz"]);
    expect(server.calls).toEqual(["start", "put 1", "put 2", "put 3", "put 4", "complete"]);
    expect(server.thumbnails).toEqual([thumb]);
    // Stored bytes plus the current part's: 0, 5/35, 10/35, 15/35, …, 100.
    expect(progress.map((p) => Math.round(p * 35) / 100)).toEqual([0, 5, 10, 15, 20, 25, 30, 32.5, 35]);
  });
});

describe("resumable upload: resuming after a lost connection", () => {
  it("a failure mid-part waits, asks which parts are stored, and goes on from the first missing one; progress never drops below the stored bytes", async () => {
    const { server, clock, progress, waiting, req } = start();
    await settle();
    server.last().succeed();
    await settle();
    server.last().succeed();
    await settle();
    // Part 3 is half-way when the connection goes.
    server.last().progress(5);
    const storedShare = (20 / 35) * 100;
    server.setOffline(true);
    server.last().fail(networkDown());
    await settle();
    expect(waiting).toEqual([true]);
    expect(clock.sleeping()).toBe(true);

    // Still offline: asking for the parts fails, so it waits again (longer).
    clock.wake();
    await settle();
    expect(server.calls.at(-1)).toBe("list");
    expect(clock.sleeping()).toBe(true);
    expect(clock.waits).toEqual([500, 1000]);

    server.setOffline(false);
    clock.wake();
    await settle();
    expect(waiting).toEqual([true, false]);
    expect(server.last().n).toBe(3);
    server.last().succeed();
    await settle();
    server.last().succeed();
    await req.done;

    expect(server.calls).toEqual(["start", "put 1", "put 2", "put 3", "list", "list", "put 3", "put 4", "complete"]);
    const afterStored = progress.slice(progress.findIndex((p) => p >= storedShare - 1e-9));
    expect(Math.min(...afterStored)).toBeGreaterThanOrEqual(storedShare - 1e-9);
    expect(progress.at(-1)).toBe(100);
    for (let i = 1; i < progress.length; i++) if (progress[i]! < progress[i - 1]!) expect(progress[i]).toBeCloseTo(storedShare);
  });

  it("a part the server stored though its answer was lost is not sent again", async () => {
    const { server, clock, req } = start();
    await settle();
    server.last().succeed();
    await settle();
    // The server keeps part 2, but the answer never arrives.
    server.parts.add(2);
    server.last().fail(networkDown());
    await settle();
    clock.wake();
    await settle();
    expect(server.last().n).toBe(3);
    server.last().succeed();
    await settle();
    server.last().succeed();
    await req.done;
    expect(server.calls.filter((c) => c === "put 2")).toHaveLength(1);
  });

  it("a 5xx is waited out too; a 4xx fails at once", async () => {
    const a = start();
    await settle();
    a.server.last().fail(new UploadError(503, "internal", "busy"));
    await settle();
    expect(a.waiting).toEqual([true]);
    a.req.abort();
    await expect(a.req.done).rejects.toMatchObject({ name: "AbortError" });

    const b = start();
    await settle();
    b.server.last().fail(new UploadError(403, "forbidden", "You are not a member of this room"));
    await expect(b.req.done).rejects.toMatchObject({ status: 403 });
    expect(b.waiting).toEqual([]);
  });

  it("cancel stops the part in flight and aborts the upload on the server (DELETE)", async () => {
    const { server, req, state } = start();
    await settle();
    const put = server.last();
    req.abort();
    await expect(req.done).rejects.toMatchObject({ name: "AbortError" });
    expect(put.aborted).toBe(true);
    await settle();
    expect(server.calls).toContain("abort up-1");
    expect(state.current).toBeNull();
  });

  it("a start answered with the stored file (already completed) resolves with it", async () => {
    const server = fakeServer(PART);
    const file0 = stored("big.bin", SIZE);
    const transport = { ...server.transport, start: async () => ({ uploadId: "up-1", partSize: PART, file: file0 }) };
    const req = sendResumable({ roomId: "room-1", clientId: "c-1", file: file(), state: { current: null }, transport });
    expect(await req.done).toEqual({ file: file0, duplicate: true });
  });
});

describe("Uploads: a file over one part goes resumable", () => {
  /** A File that claims `size` bytes without holding them. */
  function fileOfSize(name: string, size: number): File {
    const f = new File(["x"], name, { type: "application/octet-stream" });
    Object.defineProperty(f, "size", { value: size });
    return f;
  }

  it("shows waiting while the connection is gone and resumes; Retry after a failure resumes from the stored parts", async () => {
    const server = fakeServer(UPLOAD_PART_SIZE);
    const clock = manualSleep();
    const singles: string[] = [];
    const uploads = new Uploads({
      roomId: () => "room-1",
      send: (input) => {
        singles.push(input.file.name);
        return { done: new Promise(() => undefined), abort: () => undefined };
      },
      thumbnail: async () => null,
      resumable: { transport: server.transport, sleep: clock.sleep, backoff: new Backoff(1000, 10_000, () => 0.5) },
    });
    onTestFinished(() => uploads.dispose());
    const [id] = uploads.add([fileOfSize("exact.bin", LIMITS.uploadMaxBytes), fileOfSize("small.bin", UPLOAD_PART_SIZE)]);
    await settle();
    // At the limit: resumable, 20 parts; one part or less: the single POST.
    expect(singles).toEqual(["small.bin"]);
    expect(server.calls).toEqual(["start", "put 1"]);
    server.last().succeed();
    await settle();
    expect(uploads.entries[0]).toMatchObject({ status: "uploading", progress: 5, waiting: false });

    server.last().fail(networkDown());
    await settle();
    expect(uploads.entries[0]).toMatchObject({ status: "uploading", progress: 5, waiting: true });
    clock.wake();
    await settle();
    expect(uploads.entries[0]).toMatchObject({ waiting: false });
    expect(server.last().n).toBe(2);

    // A refusal fails the entry; Retry goes on with part 2, not from the start.
    server.last().fail(new UploadError(429, "rate_limited", "Too many uploads"));
    await settle();
    expect(uploads.entries[0]).toMatchObject({ status: "failed", error: "Too many uploads" });
    uploads.retry(id!);
    await settle();
    expect(server.calls.slice(-1)).toEqual(["put 2"]);
    expect(server.calls.filter((c) => c === "start")).toHaveLength(1);
    expect(uploads.entries[0]!.progress).toBe(5);
  });
});

describe("Uploads: picking the same large file again resumes it", () => {
  /** A Map standing in for localStorage. */
  function mapStore(): ResumeStore & { map: Map<string, string> } {
    const map = new Map<string, string>();
    return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
  }

  function bigFile(): File {
    const f = new File(["x"], "video.mp4", { type: "video/mp4", lastModified: 1_700_000_000_000 });
    Object.defineProperty(f, "size", { value: 3 * UPLOAD_PART_SIZE });
    return f;
  }

  function queue(server: ReturnType<typeof fakeServer>, memory: ResumeMemory) {
    const uploads = new Uploads({
      roomId: () => "room-1",
      thumbnail: async () => null,
      resumable: { transport: server.transport, sleep: manualSleep().sleep },
      resumeMemory: memory,
    });
    onTestFinished(() => uploads.dispose());
    return uploads;
  }

  it("after a reload the same file goes on with its clientId from the parts stored; once done it is forgotten", async () => {
    const server = fakeServer(UPLOAD_PART_SIZE);
    const store = mapStore();
    const memory = new ResumeMemory(store);
    const first = queue(server, memory);
    const [id] = first.add([bigFile()]);
    await settle();
    server.last().succeed();
    await settle();
    expect(server.last().n).toBe(2);
    // The page goes away: the upload pauses, it is not dropped on the server.
    first.dispose();
    await settle();
    expect(server.calls.some((c) => c.startsWith("abort"))).toBe(false);

    const second = queue(server, memory);
    const [again] = second.add([bigFile()]);
    expect(again).toBe(id);
    await settle();
    expect(server.clientIds).toEqual([id, id]);
    expect(second.entries[0]!.progress).toBe(33);
    expect(server.last().n).toBe(2);
    server.last().succeed();
    await settle();
    server.last().succeed();
    await settle(5);
    expect(second.entries[0]!.status).toBe("done");
    expect(server.calls.filter((c) => c === "put 1")).toHaveLength(1);
    expect(store.map.size).toBe(0);

    // Picked once more after that: a new upload.
    const third = queue(server, memory);
    const [fresh] = third.add([bigFile()]);
    expect(fresh).not.toBe(id);
  });

  it("dismissing a failed large upload drops it on the server and from memory", async () => {
    const server = fakeServer(UPLOAD_PART_SIZE);
    const store = mapStore();
    const uploads = queue(server, new ResumeMemory(store));
    const [id] = uploads.add([bigFile()]);
    await settle();
    expect(store.map.size).toBe(1);
    server.last().fail(new UploadError(403, "forbidden", "You are not a member of this room"));
    await settle();
    expect(uploads.entries[0]).toMatchObject({ status: "failed", error: "You are no longer a member of this room" });
    uploads.dismiss(id!);
    await settle();
    expect(server.calls.at(-1)).toBe("abort up-1");
    expect(store.map.size).toBe(0);
  });

  it("remembers a day at most, and ignores storage that fails", () => {
    let now = 1_000;
    const store = mapStore();
    const memory = new ResumeMemory(store, () => now);
    memory.remember("room-1", bigFile(), "c-1");
    expect(memory.recall("room-1", bigFile())).toBe("c-1");
    expect(memory.recall("room-2", bigFile())).toBeNull();
    now += RESUME_FOR_MS;
    expect(memory.recall("room-1", bigFile())).toBeNull();
    const broken = new ResumeMemory({
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
      removeItem: () => undefined,
    });
    broken.remember("room-1", bigFile(), "c-1");
    expect(broken.recall("room-1", bigFile())).toBeNull();
  });
});
