/**
 * Resumable uploads (worker/files/resumable.ts): start, parts, list,
 * complete and abort; idempotent start and complete; part sizes checked;
 * only the uploader while a member; the result is a file like any upload
 * (announced, unread, downloadable byte for byte); the sweep aborts old ones.
 * The test Worker's limit is 6 MiB, so a 6 MiB file is two parts (5 + 1 MiB).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { db } from "../../worker/db";
import { sweepUploads, UPLOAD_MAX_AGE_MS } from "../../worker/files/resumable";
import { type FileInfo, type FilesPage, UPLOAD_PART_SIZE, type UnreadCounts, type UploadParts, type UploadReply, type UploadStarted } from "#protocol";
import { call, errorOf, register, roomWithTwo, type TestUser } from "./helpers";

const LIMIT = Number(env.MAX_UPLOAD_BYTES);
const MiB = 1024 * 1024;

/** `size` bytes of a repeatable pattern that differs from part to part. */
function bytesOf(size: number, seed = 7): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Hex SHA-256 (comparing 6 MiB element by element is slow). */
const sha256 = async (data: ArrayBuffer | Uint8Array<ArrayBuffer>) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))].map((b) => b.toString(16).padStart(2, "0")).join("");

const start = (roomId: string, user: TestUser, body: Record<string, unknown>) => call(`/api/rooms/${roomId}/uploads`, { cookie: user.cookie, json: body });
const putPart = (uploadId: string, n: number | string, user: TestUser, bytes: Uint8Array) =>
  call(`/api/uploads/${uploadId}/parts/${n}`, { cookie: user.cookie, method: "PUT", body: bytes, headers: { "Content-Type": "application/octet-stream" } });
const parts = async (uploadId: string, user: TestUser) => (await call(`/api/uploads/${uploadId}`, { cookie: user.cookie })).json<UploadParts>();
const complete = (uploadId: string, user: TestUser, opts: { body?: Uint8Array; type?: string } = {}) =>
  call(`/api/uploads/${uploadId}/complete`, { cookie: user.cookie, method: "POST", body: opts.body, headers: opts.type ? { "Content-Type": opts.type } : {} });
const abort = (uploadId: string, user: TestUser) => call(`/api/uploads/${uploadId}`, { cookie: user.cookie, method: "DELETE" });
const unread = async (u: TestUser) => (await call("/api/me/unread", { cookie: u.cookie })).json<UnreadCounts>();

async function started(res: Response): Promise<UploadStarted> {
  if (res.status !== 201 && res.status !== 200) throw new Error(`start: ${res.status} ${await res.text()}`);
  return res.json<UploadStarted>();
}

/** Start an upload of `bytes` in the room as `user`. */
async function begin(roomId: string, user: TestUser, bytes: Uint8Array, extra: Record<string, unknown> = {}) {
  const clientId = crypto.randomUUID();
  const s = await started(await start(roomId, user, { clientId, name: "big.bin", size: bytes.length, type: "application/octet-stream", ...extra }));
  const part = (n: number) => bytes.subarray((n - 1) * s.partSize, n * s.partSize);
  return { ...s, clientId, part };
}

describe("resumable uploads: the happy path", () => {
  it("starts, takes parts in any order, lists them, completes into a file that downloads byte for byte, announced and unread for the others", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const bytes = bytesOf(LIMIT);
    const up = await begin(roomId, alice, bytes, { description: "the big one" });
    expect(up.partSize).toBe(5 * MiB);
    expect(UPLOAD_PART_SIZE).toBe(5 * MiB);
    expect(up.parts).toEqual([]);

    expect((await putPart(up.uploadId, 2, alice, up.part(2))).status).toBe(200);
    expect(await parts(up.uploadId, alice)).toEqual({ uploadId: up.uploadId, partSize: 5 * MiB, size: LIMIT, parts: [2] });
    expect((await putPart(up.uploadId, 1, alice, up.part(1))).status).toBe(200);
    // Sending a stored part again is fine.
    expect((await putPart(up.uploadId, 1, alice, up.part(1))).status).toBe(200);
    expect((await parts(up.uploadId, alice)).parts).toEqual([1, 2]);
    expect((await unread(bob)).total).toBe(0);

    const res = await complete(up.uploadId, alice);
    expect(res.status).toBe(201);
    const { file, duplicate } = await res.json<UploadReply>();
    expect(duplicate).toBe(false);
    expect(file).toMatchObject({ room_id: roomId, filename: "big.bin", file_size: LIMIT, description: "the big one", uploader_id: alice.id, has_thumbnail: false });
    expect(file.seq).toBeGreaterThan(0);

    const download = await call(`/api/files/${file.file_id}`, { cookie: bob.cookie });
    expect(download.status).toBe(200);
    expect(await sha256(await download.arrayBuffer())).toBe(await sha256(bytes));
    const list = await (await call(`/api/rooms/${roomId}/files`, { cookie: bob.cookie })).json<FilesPage>();
    expect(list.files.map((f) => f.file_id)).toEqual([file.file_id]);
    expect(await unread(bob)).toMatchObject({ total: 1, rooms: { [roomId]: 1 } });
    expect((await unread(alice)).total).toBe(0);

    // A repeated complete answers the same file; a start with the same clientId too.
    const again = await complete(up.uploadId, alice);
    expect(again.status).toBe(200);
    expect(await again.json<UploadReply>()).toEqual({ file, duplicate: true });
    const restart = await started(await start(roomId, alice, { clientId: up.clientId, name: "big.bin", size: LIMIT, type: "application/octet-stream" }));
    expect(restart.file).toEqual(file);
    // A client that lost the answer to complete sees every part stored, and completes again.
    expect((await parts(up.uploadId, alice)).parts).toEqual([1, 2]);
    expect((await unread(bob)).total).toBe(1);
    // The parts' rows are gone with completion.
    const left = await env.DB.prepare("SELECT count(*) AS n FROM upload_parts WHERE upload_id = ?").bind(up.uploadId).first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("the same clientId again answers the same upload with the parts stored so far", async () => {
    const { roomId, alice } = await roomWithTwo();
    const bytes = bytesOf(6 * MiB, 3);
    const up = await begin(roomId, alice, bytes);
    expect((await putPart(up.uploadId, 1, alice, up.part(1))).status).toBe(200);
    const res = await start(roomId, alice, { clientId: up.clientId, name: "big.bin", size: bytes.length, type: "application/octet-stream" });
    expect(res.status).toBe(200);
    expect(await res.json<UploadStarted>()).toEqual({ uploadId: up.uploadId, partSize: 5 * MiB, parts: [1] });
    // The same clientId for a file of another size is refused.
    const other = await start(roomId, alice, { clientId: up.clientId, name: "big.bin", size: bytes.length - 1, type: "application/octet-stream" });
    expect(other.status).toBe(409);
  });

  it("a complete whose bookkeeping broke off after the file was stored answers that file", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const up = await begin(roomId, alice, bytesOf(10));
    await putPart(up.uploadId, 1, alice, bytesOf(10));
    const { file } = await (await complete(up.uploadId, alice)).json<UploadReply>();
    // As if the request had died between the ready file and marking the upload done.
    await env.DB.prepare("UPDATE uploads SET state = 'uploading' WHERE id = ?").bind(up.uploadId).run();
    const again = await complete(up.uploadId, alice);
    expect(again.status).toBe(200);
    expect(await again.json<UploadReply>()).toEqual({ file, duplicate: true });
    expect((await unread(bob)).total).toBe(1);
  });

  it("carries an image's thumbnail on complete", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const bytes = bytesOf(5 * MiB + 10, 5);
    const up = await begin(roomId, alice, bytes, { type: "image/png", name: "photo.png" });
    await putPart(up.uploadId, 1, alice, up.part(1));
    await putPart(up.uploadId, 2, alice, up.part(2));
    const thumb = bytesOf(100, 9);
    const { file } = await (await complete(up.uploadId, alice, { body: thumb, type: "image/webp" })).json<UploadReply>();
    expect(file.has_thumbnail).toBe(true);
    const t = await call(`/api/files/${file.file_id}/thumbnail`, { cookie: bob.cookie });
    expect(t.status).toBe(200);
    expect(new Uint8Array(await t.arrayBuffer())).toEqual(thumb);
  });
});

describe("resumable uploads: refusals", () => {
  it("refuses bad input with 400 and a file over the limit with 413, storing nothing", async () => {
    const { roomId, alice } = await roomWithTwo();
    const base = { clientId: crypto.randomUUID(), name: "x.bin", size: 10, type: "application/octet-stream" };
    for (const bad of [{ ...base, clientId: "nope" }, { ...base, size: 0 }, { ...base, size: 1.5 }, { ...base, name: undefined }, { ...base, description: "d".repeat(501) }]) {
      const res = await start(roomId, alice, bad);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message.length).toBeGreaterThan(0);
    }
    const big = await start(roomId, alice, { ...base, size: LIMIT + 1 });
    expect(big.status).toBe(413);
    expect((await errorOf(big)).code).toBe("payload_too_large");
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM uploads WHERE room_id = ?").bind(roomId).first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("refuses a part of the wrong size or number with 400, and a complete with parts missing names them", async () => {
    const { roomId, alice } = await roomWithTwo();
    const bytes = bytesOf(5 * MiB + 100, 11);
    const up = await begin(roomId, alice, bytes);
    const short = await putPart(up.uploadId, 1, alice, up.part(1).subarray(1));
    expect(short.status).toBe(400);
    expect((await errorOf(short)).message).toMatch(/Part 1 must be exactly 5242880 bytes/);
    expect((await putPart(up.uploadId, 2, alice, bytesOf(101))).status).toBe(400);
    expect((await putPart(up.uploadId, 3, alice, bytesOf(1))).status).toBe(400);
    expect((await putPart(up.uploadId, 0, alice, bytesOf(1))).status).toBe(400);
    expect((await putPart(up.uploadId, "x", alice, bytesOf(1))).status).toBe(400);
    expect((await parts(up.uploadId, alice)).parts).toEqual([]);

    expect((await putPart(up.uploadId, 2, alice, up.part(2))).status).toBe(200);
    const early = await complete(up.uploadId, alice);
    expect(early.status).toBe(400);
    expect((await errorOf(early)).message).toBe("The upload is missing part 1");
    const files = await env.DB.prepare("SELECT count(*) AS n FROM files WHERE room_id = ?").bind(roomId).first<{ n: number }>();
    expect(files?.n).toBe(0);
  });

  it("a non-member cannot start one (403); another user gets 404 for every call; a removed member 403", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const carol = await register();
    const refused = await start(roomId, carol, { clientId: crypto.randomUUID(), name: "x", size: 10, type: "text/plain" });
    expect(refused.status).toBe(403);

    const bytes = bytesOf(5 * MiB + 1, 13);
    const up = await begin(roomId, bob, bytes);
    expect((await putPart(up.uploadId, 1, bob, up.part(1))).status).toBe(200);
    for (const other of [alice, carol]) {
      expect((await call(`/api/uploads/${up.uploadId}`, { cookie: other.cookie })).status).toBe(404);
      expect((await putPart(up.uploadId, 2, other, up.part(2))).status).toBe(404);
      expect((await complete(up.uploadId, other)).status).toBe(404);
      expect((await abort(up.uploadId, other)).status).toBe(404);
    }
    expect((await call(`/api/uploads/nope`, { cookie: bob.cookie })).status).toBe(404);

    expect((await call(`/api/rooms/${roomId}/members/${bob.id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/uploads/${up.uploadId}`, { cookie: bob.cookie })).status).toBe(403);
    expect((await putPart(up.uploadId, 2, bob, up.part(2))).status).toBe(403);
    expect((await complete(up.uploadId, bob)).status).toBe(403);
  });

  it("abort drops the upload: its calls answer 404 and nothing was stored", async () => {
    const { roomId, alice } = await roomWithTwo();
    const bytes = bytesOf(5 * MiB + 1, 17);
    const up = await begin(roomId, alice, bytes);
    expect((await putPart(up.uploadId, 1, alice, up.part(1))).status).toBe(200);
    expect((await abort(up.uploadId, alice)).status).toBe(204);
    expect((await call(`/api/uploads/${up.uploadId}`, { cookie: alice.cookie })).status).toBe(404);
    expect((await putPart(up.uploadId, 2, alice, up.part(2))).status).toBe(404);
    expect((await complete(up.uploadId, alice)).status).toBe(404);
    const count = (sql: string) => env.DB.prepare(sql).bind(up.uploadId).first<{ n: number }>();
    expect((await count("SELECT count(*) AS n FROM uploads WHERE id = ?"))?.n).toBe(0);
    expect((await count("SELECT count(*) AS n FROM upload_parts WHERE upload_id = ?"))?.n).toBe(0);
    expect((await env.FILES.list({ prefix: `rooms/${roomId}/` })).objects).toEqual([]);
  });
});

describe("resumable uploads: the sweep", () => {
  it("aborts an upload a day after it started, and forgets a completed one", async () => {
    const { roomId, alice } = await roomWithTwo();
    const bytes = bytesOf(5 * MiB + 1, 19);
    const stale = await begin(roomId, alice, bytes);
    await putPart(stale.uploadId, 1, alice, stale.part(1));
    const fresh = await begin(roomId, alice, bytesOf(10));
    const done = await begin(roomId, alice, bytesOf(10));
    await putPart(done.uploadId, 1, alice, bytesOf(10));
    const file = (await (await complete(done.uploadId, alice)).json<{ file: FileInfo }>()).file;

    const old = Date.now() - UPLOAD_MAX_AGE_MS - 1000;
    await env.DB.prepare("UPDATE uploads SET created_at = ? WHERE id IN (?, ?)").bind(old, stale.uploadId, done.uploadId).run();
    expect(await sweepUploads(env, db(env.DB))).toBe(2);
    expect((await call(`/api/uploads/${stale.uploadId}`, { cookie: alice.cookie })).status).toBe(404);
    expect((await call(`/api/uploads/${fresh.uploadId}`, { cookie: alice.cookie })).status).toBe(200);
    // The completed upload's file stays.
    expect((await call(`/api/files/${file.file_id}`, { cookie: alice.cookie })).status).toBe(200);
  });
});
