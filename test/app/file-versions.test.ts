/**
 * A file's versions in the SPA (app/lib/file-versions.svelte.ts): the list an
 * open versions dialog shows (fetched once per latest version, stale answers
 * dropped) and "Upload new version" (to the file's versions URL, progress,
 * errors in words, retry with the same clientId only where it can help),
 * with fake transports injected.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { type FileInfo, formatBytes, LIMITS, type UploadReply } from "#protocol";
import { UploadError, type UploadInput, type UploadRequest } from "../../app/lib/files-api.ts";
import { describeVersionError, VersionList, VersionUpload, versionAuthor, versionOf, versionTime } from "../../app/lib/file-versions.svelte.ts";

const realSetImmediate = globalThis.setImmediate;
const settle = () => new Promise<void>((resolve) => realSetImmediate(resolve));

const info = (n: number, extra: Partial<FileInfo> = {}): FileInfo => ({
  file_id: "f-1",
  room_id: "room-1",
  filename: `report-v${n}.txt`,
  file_type: "text/plain",
  file_size: 10 * n,
  uploaded_by: "alice",
  uploader_id: "u-alice",
  uploaded_at: 1_000,
  description: "",
  has_thumbnail: false,
  seq: n,
  ...(n > 1 ? { version: n, version_uploaded_at: 1_000 + n, version_uploaded_by: "olga", version_uploader_id: "u-olga" } : {}),
  ...extra,
});

/** A fake `listVersions`: each call waits until the test answers it. */
function fakeList() {
  const calls: { fileId: string; answer: (v: FileInfo[]) => void; fail: (e: unknown) => void }[] = [];
  const list = (fileId: string) =>
    new Promise<FileInfo[]>((answer, fail) => {
      calls.push({ fileId, answer, fail });
    });
  return { calls, list };
}

describe("version fields", () => {
  it("a file without version fields is version 1, stored by its uploader at its upload time", () => {
    const first = info(1);
    expect(versionOf(first)).toBe(1);
    expect(versionAuthor(first)).toEqual({ id: "u-alice", username: "alice" });
    expect(versionTime(first)).toBe(1_000);
    const third = info(3);
    expect(versionOf(third)).toBe(3);
    expect(versionAuthor(third)).toEqual({ id: "u-olga", username: "olga" });
    expect(versionTime(third)).toBe(1_003);
  });
});

describe("VersionList", () => {
  it("fetches when shown, newest first, and not again for the same latest version", async () => {
    const { calls, list } = fakeList();
    const versions = new VersionList(list);
    const shown = versions.show(info(2));
    expect(versions.loading).toBe(true);
    expect(calls.map((c) => c.fileId)).toEqual(["f-1"]);
    calls[0]!.answer([info(1), info(2)]);
    await shown;
    expect(versions.loading).toBe(false);
    expect(versions.versions.map(versionOf)).toEqual([2, 1]);

    await versions.show(info(2));
    expect(calls).toHaveLength(1);
  });

  it("fetches again when the file's latest version changes (file_version_added while open), keeping the old rows meanwhile", async () => {
    const { calls, list } = fakeList();
    const versions = new VersionList(list);
    const first = versions.show(info(1));
    calls[0]!.answer([info(1)]);
    await first;

    const second = versions.show(info(2));
    expect(calls).toHaveLength(2);
    expect(versions.versions.map(versionOf)).toEqual([1]);
    calls[1]!.answer([info(2), info(1)]);
    await second;
    expect(versions.versions.map(versionOf)).toEqual([2, 1]);
  });

  it("drops the answer of an older fetch that comes in last", async () => {
    const { calls, list } = fakeList();
    const versions = new VersionList(list);
    const a = versions.show(info(1));
    const b = versions.show(info(2));
    calls[1]!.answer([info(2), info(1)]);
    await b;
    calls[0]!.answer([info(1)]);
    await a;
    expect(versions.versions.map(versionOf)).toEqual([2, 1]);
  });

  it("says why a fetch failed, and the next show tries again; close makes the next show fetch", async () => {
    const { calls, list } = fakeList();
    const versions = new VersionList(list);
    const a = versions.show(info(1));
    calls[0]!.fail(new Error("Not a member of this room"));
    await a;
    expect(versions.error).toBe("Not a member of this room");
    expect(versions.loading).toBe(false);

    const b = versions.show(info(1));
    expect(calls).toHaveLength(2);
    expect(versions.error).toBeNull();
    calls[1]!.answer([info(1)]);
    await b;

    versions.close();
    void versions.show(info(1));
    expect(calls).toHaveLength(3);
  });

  it("another file's versions are not shown while its own load", async () => {
    const { calls, list } = fakeList();
    const versions = new VersionList(list);
    const a = versions.show(info(1));
    calls[0]!.answer([info(1)]);
    await a;
    void versions.show(info(1, { file_id: "f-2" }));
    expect(versions.versions).toEqual([]);
    expect(calls[1]!.fileId).toBe("f-2");
  });
});

/** A fake `send` for version uploads; each request waits for the test. */
function fakeSend() {
  const requests: { input: UploadInput; aborted: boolean; succeed: (duplicate?: boolean) => void; fail: (e: unknown) => void }[] = [];
  const send = (input: UploadInput): UploadRequest => {
    let resolve!: (r: UploadReply) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<UploadReply>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const req = {
      input,
      aborted: false,
      succeed: (duplicate = false) => resolve({ file: info(2, { filename: input.file.name, description: input.description ?? "" }), duplicate }),
      fail: reject,
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

function makeUpload(thumbnail: (f: File) => Promise<Blob | null> = async () => null) {
  const { requests, send } = fakeSend();
  const added: FileInfo[] = [];
  const upload = new VersionUpload({ file: () => info(1, { file_id: "f/1" }), onadded: (f) => added.push(f), send, thumbnail });
  onTestFinished(() => upload.dispose());
  return { upload, requests, added };
}

const file = (name = "report.txt", text = "new bytes") => new File([text], name, { type: "text/plain" });

describe("VersionUpload", () => {
  it("sends the file with its description to the file's versions URL, reports progress, and hands over the stored version", async () => {
    const { upload, requests, added } = makeUpload();
    upload.start(file(), "second draft");
    expect(upload.status).toBe("uploading");
    await settle();
    expect(requests).toHaveLength(1);
    const sent = requests[0]!.input;
    expect(sent.url).toBe("/api/files/f%2F1/versions");
    expect(sent.roomId).toBe("room-1");
    expect(sent.description).toBe("second draft");
    expect(sent.file.name).toBe("report.txt");
    expect(sent.clientId).toMatch(/^[0-9a-f-]{36}$/);

    sent.onprogress!(42.4);
    expect(upload.progress).toBe(42);
    requests[0]!.succeed();
    await settle();
    expect(upload.status).toBe("done");
    expect(upload.progress).toBe(100);
    expect(added.map((f) => [f.version, f.filename, f.description])).toEqual([[2, "report.txt", "second draft"]]);
  });

  it("makes a thumbnail first and sends it (an image version)", async () => {
    const thumb = new Blob(["t"], { type: "image/webp" });
    const { upload, requests } = makeUpload(async () => thumb);
    upload.start(new File(["png"], "logo.png", { type: "image/png" }));
    await settle();
    expect(requests[0]!.input.thumbnail).toBe(thumb);
  });

  it("a retry after a failure sends the same clientId; a new start gets a fresh one", async () => {
    const { upload, requests, added } = makeUpload();
    upload.start(file());
    await settle();
    requests[0]!.fail(new UploadError(0, "network", "Network error"));
    await settle();
    expect(upload.status).toBe("failed");
    expect(upload.error).toBe("Network error — check your connection");
    expect(upload.canRetry).toBe(true);

    upload.retry();
    expect(upload.status).toBe("uploading");
    expect(upload.error).toBeNull();
    await settle();
    expect(requests).toHaveLength(2);
    expect(requests[1]!.input.clientId).toBe(requests[0]!.input.clientId);
    expect(requests[1]!.input.file).toBe(requests[0]!.input.file);
    requests[1]!.succeed(true);
    await settle();
    expect(upload.status).toBe("done");
    expect(added).toHaveLength(1);

    upload.start(file("again.txt"));
    await settle();
    expect(requests[2]!.input.clientId).not.toBe(requests[0]!.input.clientId);
  });

  it.each([
    [413, "payload_too_large", "too big", `“report.txt” is larger than the ${formatBytes(LIMITS.uploadMaxBytes)} limit`],
    [403, "forbidden", "Only the uploader or the room's owner can add a version of this file", "Only the uploader or the room's owner can add a version of this file"],
    [404, "not_found", "File not found", "This file has been deleted: it can no longer get a new version"],
  ])("a %i is said in words and offers no retry", async (status, code, message, said) => {
    const { upload, requests } = makeUpload();
    upload.start(file());
    await settle();
    requests[0]!.fail(new UploadError(status, code, message));
    await settle();
    expect(upload.status).toBe("failed");
    expect(upload.error).toBe(said);
    expect(upload.canRetry).toBe(false);
    upload.retry();
    await settle();
    expect(requests).toHaveLength(1);
  });

  it("a server error or a conflict can be retried, with the server's words", async () => {
    const { upload, requests } = makeUpload();
    upload.start(file());
    await settle();
    requests[0]!.fail(new UploadError(409, "conflict", "The upload stalled and was discarded; try again"));
    await settle();
    expect(upload.error).toBe("The upload stalled and was discarded; try again");
    expect(upload.canRetry).toBe(true);
  });

  it("a file over the limit fails at once, unsent, with no retry", async () => {
    const { upload, requests } = makeUpload();
    const big = file("huge.bin");
    Object.defineProperty(big, "size", { value: LIMITS.uploadMaxBytes + 1 });
    upload.start(big);
    await settle();
    expect(requests).toHaveLength(0);
    expect(upload.status).toBe("failed");
    expect(upload.error).toBe(describeVersionError(new UploadError(413, "payload_too_large", ""), "huge.bin"));
    expect(upload.canRetry).toBe(false);
  });

  it("cancel aborts the request and forgets it; a late answer changes nothing", async () => {
    const { upload, requests, added } = makeUpload();
    upload.start(file());
    await settle();
    upload.cancel();
    expect(requests[0]!.aborted).toBe(true);
    expect(upload.status).toBe("idle");
    await settle();
    expect(upload.status).toBe("idle");
    expect(added).toEqual([]);
  });

  it("starting another file while one uploads aborts the first; only the second counts", async () => {
    const { upload, requests, added } = makeUpload();
    upload.start(file("one.txt"));
    await settle();
    upload.start(file("two.txt"));
    await settle();
    expect(requests[0]!.aborted).toBe(true);
    requests[1]!.succeed();
    await settle();
    expect(added.map((f) => f.filename)).toEqual(["two.txt"]);
    expect(upload.name).toBe("two.txt");
  });
});

describe("describeVersionError", () => {
  it("anything that is not an UploadError gets a general sentence", () => {
    expect(describeVersionError(new Error("boom"), "a.txt")).toBe("The upload failed. Please try again.");
  });
});
