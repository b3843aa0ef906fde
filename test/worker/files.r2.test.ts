import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../worker/db";
import { PENDING_MAX_AGE_MS, sweepFiles } from "../../worker/files/sweep";
import type { FileInfo, FilesPage, RoomEvent, RoomSnapshot, UnreadCounts } from "#protocol";
import { call, createRoom, errorOf, ORIGIN, register, roomHead, roomWithTwo, type TestUser } from "./helpers";
import { TestSocket } from "./socket";

const LIMIT = Number(env.MAX_UPLOAD_BYTES);

interface UploadOpts {
  name?: string;
  type?: string;
  description?: string;
  clientId?: string;
  thumbnail?: Blob;
  /** Put the description after the file (fields should come first). */
  descriptionLast?: boolean;
}

function form(bytes: Blob | BufferSource | string, opts: UploadOpts = {}): FormData {
  const fd = new FormData();
  if (opts.clientId) fd.append("clientId", opts.clientId);
  if (opts.description !== undefined && !opts.descriptionLast) fd.append("description", opts.description);
  if (opts.thumbnail) fd.append("thumbnail", opts.thumbnail, "thumb.webp");
  fd.append("file", new Blob([bytes], { type: opts.type ?? "text/plain" }), opts.name ?? "notes.txt");
  if (opts.description !== undefined && opts.descriptionLast) fd.append("description", opts.description);
  return fd;
}

function upload(roomId: string, user: TestUser, bytes: Blob | BufferSource | string, opts: UploadOpts = {}): Promise<Response> {
  return exports.default.fetch(
    new Request(`${ORIGIN}/api/rooms/${roomId}/files`, { method: "POST", headers: { Origin: ORIGIN, Cookie: user.cookie }, body: form(bytes, opts) }),
  );
}

async function uploaded(res: Response): Promise<FileInfo> {
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return (await res.json<{ file: FileInfo }>()).file;
}

const fileRows = (roomId: string) => env.DB.prepare("SELECT * FROM files WHERE room_id = ?").bind(roomId).all().then((r) => r.results);
const objects = async (roomId: string) => (await env.FILES.list({ prefix: `rooms/${roomId}/` })).objects.map((o) => o.key);
const fileEvents = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) =>
    s.storage.sql.exec<{ type: string }>("SELECT type FROM events WHERE type LIKE 'file_%' ORDER BY seq").toArray().map((r) => r.type),
  );
const unread = async (u: TestUser) => (await call("/api/me/unread", { cookie: u.cookie })).json<UnreadCounts>();
const download = (fileId: string, user: TestUser, headers: Record<string, string> = {}) =>
  call(`/api/files/${fileId}`, { cookie: user.cookie, headers });

describe("upload, list, download", () => {
  it("stores the bytes under a server key, announces file_uploaded with the original fields, and serves them back", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const watcher = await TestSocket.open(roomId, bob);
    const head = await roomHead(roomId);
    const file = await uploaded(await upload(roomId, alice, "hello file", { name: "notes.txt", description: "Meeting **notes**" }));
    expect(file).toMatchObject({
      room_id: roomId,
      filename: "notes.txt",
      file_type: "text/plain",
      file_size: 10,
      uploaded_by: alice.username,
      uploader_id: alice.id,
      description: "Meeting **notes**",
      has_thumbnail: false,
      seq: head + 1,
    });
    expect(file.uploaded_at).toBeGreaterThan(1_700_000_000_000);
    const event = await watcher.waitFor((f) => f.type === "file_uploaded");
    expect(event).toMatchObject({ seq: head + 1, file: { ...file } });
    expect(await roomHead(roomId)).toBe(head + 1);
    // Original field names, for clients written against the old app.
    const e = event as Extract<RoomEvent, { type: "file_uploaded" }>;
    for (const k of ["file_id", "filename", "file_type", "file_size", "uploaded_by", "uploaded_at", "description", "uploader_id"]) expect(e.file).toHaveProperty(k);

    const keys = await objects(roomId);
    expect(keys).toEqual([`rooms/${roomId}/${file.file_id}`]);
    const res = await download(file.file_id, bob);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello file");
    expect(res.headers.get("Content-Disposition")).toBe(`attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`);
    expect(res.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Security-Policy")).toBe("sandbox; default-src 'none'");
    expect(res.headers.get("Cache-Control")).toMatch(/^private/);

    const list = await (await call(`/api/rooms/${roomId}/files`, { cookie: bob.cookie })).json<FilesPage>();
    expect(list.files).toEqual([file]);
    const snap = await (await call(`/api/rooms/${roomId}`, { cookie: bob.cookie })).json<RoomSnapshot>();
    expect(snap.files).toEqual([file]);
    watcher.close();
  });

  it("a file upload counts as an unread item for the others; deleting it takes it back", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, alice, "x"));
    expect(await unread(bob)).toEqual({ total: 1, rooms: { [roomId]: 1 }, mentions: { total: 0, rooms: {} } });
    expect((await unread(alice)).total).toBe(0);
    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    expect((await unread(bob)).total).toBe(0);
  });

  it("lists newest first, pages, and searches by name", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const names = ["alpha.txt", "beta.txt", "gamma 100%.txt", "delta_1.txt"];
    for (const name of names) await uploaded(await upload(roomId, alice, name, { name }));
    const all = await (await call(`/api/rooms/${roomId}/files`, { cookie: bob.cookie })).json<FilesPage>();
    expect(all.files.map((f) => f.filename)).toEqual([...names].reverse());
    const p1 = await (await call(`/api/rooms/${roomId}/files?limit=3`, { cookie: bob.cookie })).json<FilesPage>();
    expect(p1.files).toHaveLength(3);
    const p2 = await (await call(`/api/rooms/${roomId}/files?limit=3&before=${encodeURIComponent(p1.next!)}`, { cookie: bob.cookie })).json<FilesPage>();
    expect(p2.files.map((f) => f.filename)).toEqual(["alpha.txt"]);
    expect(p2.next).toBeNull();
    const q = await (await call(`/api/rooms/${roomId}/files?q=${encodeURIComponent("100%")}`, { cookie: bob.cookie })).json<FilesPage>();
    expect(q.files.map((f) => f.filename)).toEqual(["gamma 100%.txt"]);
    // `_` is literal: as a LIKE wildcard "a_1" would match "gamma 100%.txt" too. (A bare `_` would match
    // the uploader's username, which search also covers.)
    const under = await (await call(`/api/rooms/${roomId}/files?q=a_1`, { cookie: bob.cookie })).json<FilesPage>();
    expect(under.files.map((f) => f.filename)).toEqual(["delta_1.txt"]);
  });

  it("retrying with the same clientId returns the original: one row, one event", async () => {
    const { roomId, alice } = await roomWithTwo();
    const clientId = crypto.randomUUID();
    const first = await uploaded(await upload(roomId, alice, "once", { clientId }));
    const again = await upload(roomId, alice, "once", { clientId });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ file: first, duplicate: true });
    expect(await fileRows(roomId)).toHaveLength(1);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded"]);
  });

  it("serves byte ranges", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, alice, "0123456789"));
    const r1 = await download(f.file_id, alice, { Range: "bytes=2-5" });
    expect(r1.status).toBe(206);
    expect(r1.headers.get("Content-Range")).toBe("bytes 2-5/10");
    expect(await r1.text()).toBe("2345");
    const r2 = await download(f.file_id, alice, { Range: "bytes=-3" });
    expect(await r2.text()).toBe("789");
    const r3 = await download(f.file_id, alice, { Range: "bytes=7-" });
    expect(await r3.text()).toBe("789");
    const bad = await download(f.file_id, alice, { Range: "bytes=50-60" });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("Content-Range")).toBe("bytes */10");
  });

  it("stores a browser-made thumbnail and serves it inline", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const thumb = new Blob([new Uint8Array([1, 2, 3, 4])], { type: "image/webp" });
    const f = await uploaded(await upload(roomId, alice, new Uint8Array([137, 80, 78, 71]), { name: "cat.png", type: "image/png", thumbnail: thumb }));
    expect(f.has_thumbnail).toBe(true);
    const res = await call(`/api/files/${f.file_id}/thumbnail`, { cookie: bob.cookie });
    expect(res.headers.get("Content-Type")).toBe("image/webp");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
    const img = await download(f.file_id, bob);
    expect(img.headers.get("Content-Type")).toBe("image/png");
    expect(img.headers.get("Content-Disposition")).toMatch(/^inline; /);
    const big = await upload(roomId, alice, "x", { thumbnail: new Blob([new Uint8Array(300 * 1024)], { type: "image/webp" }) });
    expect(await errorOf(big)).toMatchObject({ status: 400, message: expect.stringMatching(/thumbnail/) });
    const svgThumb = await upload(roomId, alice, "x", { thumbnail: new Blob(["<svg/>"], { type: "image/svg+xml" }) });
    expect(svgThumb.status).toBe(400);
  });

  it("shows “… is uploading” to the others while the upload is in flight", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const watcher = await TestSocket.open(roomId, bob);
    await uploaded(await upload(roomId, alice, "data"));
    await watcher.waitFor((f) => f.type === "file_uploaded");
    const activity = watcher.frames.filter((f) => f.type === "typing" && f.activity === "uploading");
    expect(activity.map((f) => f.type === "typing" && [f.userId, f.typing])).toEqual([
      [alice.id, true],
      [alice.id, false],
    ]);
    watcher.close();
  });
});

describe("U1 active content disguised as an image", () => {
  it("an HTML file named .png is served inert: image type, nosniff, sandbox CSP", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, alice, "<html><script>alert(1)</script></html>", { name: "x.png", type: "image/png" }));
    const res = await download(f.file_id, alice);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Security-Policy")).toBe("sandbox; default-src 'none'");
  });

  it("SVG (which can carry script) and HTML are never inline: octet-stream attachments", async () => {
    const { roomId, alice } = await roomWithTwo();
    for (const [name, type] of [
      ["evil.svg", "image/svg+xml"],
      ["page.html", "text/html"],
      ["x.png", "text/html"],
    ]) {
      const f = await uploaded(await upload(roomId, alice, "<svg onload=alert(1)>", { name, type }));
      const res = await download(f.file_id, alice);
      expect(res.headers.get("Content-Type")).toBe("application/octet-stream");
      expect(res.headers.get("Content-Disposition")).toMatch(/^attachment; /);
    }
  });
});

describe("U2 hostile file names", () => {
  const cases: [string, string][] = [
    ["<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"],
    ["cat.png');alert(1);//", "cat.png');alert(1);"],
    ["../../x", "x"],
    ["..\\..\\windows\\evil.txt", "evil.txt"],
    ["a.jpg.php", "a.jpg.php"],
    ["x%00.jpg", "x%00.jpg"],
    ["line\r\nbreak.txt", "linebreak.txt"],
  ];
  for (const [raw, expected] of cases) {
    it(`stores ${JSON.stringify(raw)} as text under a server key`, async () => {
      const { roomId, alice } = await roomWithTwo();
      const f = await uploaded(await upload(roomId, alice, "x", { name: raw }));
      expect(f.filename).toBe(expected);
      const [row] = (await fileRows(roomId)) as { r2_key: string }[];
      expect(row!.r2_key).toBe(`rooms/${roomId}/${f.file_id}`);
      const cd = (await download(f.file_id, alice)).headers.get("Content-Disposition")!;
      expect(cd).not.toMatch(/[\r\n]/);
      expect(cd).toContain(`filename*=UTF-8''${encodeURIComponent(expected).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
    });
  }

  it("a 300-character name is capped at 255, keeping the extension; Unicode is encoded in filename*", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, alice, "x", { name: `${"n".repeat(300)}.pdf` }));
    expect(f.filename).toHaveLength(255);
    expect(f.filename.endsWith(".pdf")).toBe(true);
    const u = await uploaded(await upload(roomId, alice, "x", { name: "résumé – 日本.txt" }));
    const cd = (await download(u.file_id, alice)).headers.get("Content-Disposition")!;
    expect(cd).toBe(`attachment; filename="r_sum_ _ __.txt"; filename*=UTF-8''${encodeURIComponent("résumé – 日本.txt")}`);
  });
});

describe("U3 size limits", () => {
  it("0 bytes and exactly the limit are accepted; limit + 1 is a 413 and nothing is stored", async () => {
    const { roomId, alice } = await roomWithTwo();
    const empty = await uploaded(await upload(roomId, alice, new Uint8Array(0), { name: "empty.bin" }));
    expect(empty.file_size).toBe(0);
    const exact = await uploaded(await upload(roomId, alice, new Uint8Array(LIMIT), { name: "exact.bin" }));
    expect(exact.file_size).toBe(LIMIT);
    const back = await download(exact.file_id, alice);
    expect((await back.arrayBuffer()).byteLength).toBe(LIMIT);

    const over = await upload(roomId, alice, new Uint8Array(LIMIT + 1), { name: "over.bin" });
    expect(await errorOf(over)).toMatchObject({ status: 413, code: "payload_too_large", message: expect.stringMatching(/larger than the limit of 6 MB/) });
    expect(((await fileRows(roomId)) as { name: string }[]).map((r) => r.name).sort()).toEqual(["empty.bin", "exact.bin"]);
    expect(await objects(roomId)).toHaveLength(2);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_uploaded"]);
  });

  it("a declared body far over the limit is refused before it is read", async () => {
    const { roomId, alice } = await roomWithTwo();
    const res = await exports.default.fetch(
      new Request(`${ORIGIN}/api/rooms/${roomId}/files`, {
        method: "POST",
        headers: { Origin: ORIGIN, Cookie: alice.cookie, "Content-Type": "multipart/form-data; boundary=x", "Content-Length": String(LIMIT * 10) },
        body: new Uint8Array(16),
      }),
    );
    expect(res.status).toBe(413);
  });

  it("not multipart is a 415; multipart without a file a 400", async () => {
    const { roomId, alice } = await roomWithTwo();
    const json = await call(`/api/rooms/${roomId}/files`, { cookie: alice.cookie, json: { file: "x" } });
    expect(json.status).toBe(415);
    const fd = new FormData();
    fd.append("description", "no file");
    const res = await exports.default.fetch(new Request(`${ORIGIN}/api/rooms/${roomId}/files`, { method: "POST", headers: { Origin: ORIGIN, Cookie: alice.cookie }, body: fd }));
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringMatching(/no file/) });
  });
});

describe("U4 an upload aborted half-way", () => {
  it("leaves no listed file, no event, no metadata and no bytes", async () => {
    const { roomId, alice } = await roomWithTwo();
    const boundary = "----parleytest";
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(head));
        controller.enqueue(new Uint8Array(100_000));
        controller.close(); // the connection ends before the closing boundary
      },
    });
    const res = await exports.default.fetch(
      new Request(`${ORIGIN}/api/rooms/${roomId}/files`, {
        method: "POST",
        headers: { Origin: ORIGIN, Cookie: alice.cookie, "Content-Type": `multipart/form-data; boundary=${boundary}` },
        body,
      }),
    );
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringMatching(/aborted/) });
    expect(await fileRows(roomId)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
    expect(await fileEvents(roomId)).toEqual([]);
  });

  it("the sweep removes what a crashed upload left (pending row and bytes) and announces unannounced ready files", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const head = await roomHead(roomId);
    const old = Date.now() - PENDING_MAX_AGE_MS - 1000;
    await env.DB.prepare(
      `INSERT INTO files (id, room_id, uploader_id, client_id, r2_key, name, size, type, description, state, created_at)
       VALUES ('crashed', ?, ?, 'c1', ?, 'half.bin', 0, 'application/octet-stream', '', 'pending', ?),
              ('lost', ?, ?, 'c2', ?, 'ready.txt', 2, 'text/plain', '', 'ready', ?)`,
    )
      .bind(roomId, alice.id, `rooms/${roomId}/crashed`, old, roomId, alice.id, `rooms/${roomId}/lost`, old)
      .run();
    await env.FILES.put(`rooms/${roomId}/crashed`, "half");
    await env.FILES.put(`rooms/${roomId}/lost`, "ok");
    const result = await sweepFiles(env, db(env.DB));
    expect(result.removed).toBeGreaterThanOrEqual(1);
    expect(((await fileRows(roomId)) as { id: string; seq: number }[]).map((r) => [r.id, r.seq])).toEqual([["lost", head + 1]]);
    expect(await objects(roomId)).toEqual([`rooms/${roomId}/lost`]);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded"]);
    expect((await unread(bob)).total).toBe(1);
  });
});

describe("U5 a member of room A asking for a file of room B", () => {
  it("gets 403, and an unknown file 404", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, alice, "secret"));
    const mallory = await register();
    await createRoom(mallory);
    expect((await download(f.file_id, mallory)).status).toBe(403);
    expect((await call(`/api/files/${f.file_id}/thumbnail`, { cookie: mallory.cookie })).status).toBe(403);
    expect((await call(`/api/rooms/${roomId}/files`, { cookie: mallory.cookie })).status).toBe(403);
    expect((await download("nope", mallory)).status).toBe(404);
    expect((await upload(roomId, mallory, "x")).status).toBe(403);
  });
});

describe("U6 descriptions", () => {
  it("HTML and markdown are kept verbatim as text (the client renders text)", async () => {
    const { roomId, alice } = await roomWithTwo();
    const d = `<b onmouseover="alert(1)">hi</b> **bold** [x](javascript:alert(1))`;
    const f = await uploaded(await upload(roomId, alice, "x", { description: d }));
    expect(f.description).toBe(d);
  });

  it("an over-long description is refused before any storage", async () => {
    const { roomId, alice } = await roomWithTwo();
    const res = await upload(roomId, alice, "x", { description: "d".repeat(501) });
    expect(await errorOf(res)).toMatchObject({ status: 400, message: "Description must be at most 500 characters" });
    const late = await upload(roomId, alice, "x", { description: "d".repeat(501), descriptionLast: true });
    expect(late.status).toBe(400);
    expect(await fileRows(roomId)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
  });
});

describe("U7 deleting", () => {
  it("someone who is neither uploader nor owner gets 403 and the file stays; the uploader deletes it live", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, alice, "keep me"));
    const watcher = await TestSocket.open(roomId, alice);
    const res = await call(`/api/files/${f.file_id}`, { cookie: bob.cookie, method: "DELETE" });
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "forbidden" });
    expect(await fileRows(roomId)).toHaveLength(1);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded"]);

    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    const del = await watcher.waitFor((x) => x.type === "file_deleted");
    expect(del).toMatchObject({ file_id: f.file_id, uploader_id: alice.id, seq: f.seq! + 1 });
    expect(await fileRows(roomId)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
    expect((await download(f.file_id, alice)).status).toBe(404);
    watcher.close();
  });

  it("the room owner may delete a member's file", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await uploaded(await upload(roomId, bob, "bob's"));
    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
  });
});

describe("R10 two uploads finalising at once in one room", () => {
  it("both are listed, each once, in upload (seq) order", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const watcher = await TestSocket.open(roomId, alice);
    const head = await roomHead(roomId);
    const [a, b] = await Promise.all([uploaded(await upload(roomId, alice, "a", { name: "a.txt" })), uploaded(await upload(roomId, bob, "b", { name: "b.txt" }))]);
    expect(new Set([a.seq, b.seq])).toEqual(new Set([head + 1, head + 2]));
    await watcher.until(() => watcher.events().filter((e) => e.type === "file_uploaded").length === 2, "two files");
    const list = await (await call(`/api/rooms/${roomId}/files`, { cookie: alice.cookie })).json<FilesPage>();
    expect(list.files.map((f) => f.file_id).sort()).toEqual([a.file_id, b.file_id].sort());
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_uploaded"]);
    watcher.close();
  });
});

describe("R9 the room call fails after the D1 row was committed", () => {
  it("a retry by the same client id announces it once: nothing lost, nothing doubled", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const clientId = crypto.randomUUID();
    // The state a failed announce leaves: bytes stored, row ready, no room event.
    await env.DB.prepare(
      `INSERT INTO files (id, room_id, uploader_id, client_id, r2_key, name, size, type, description, state, created_at)
       VALUES ('r9file', ?, ?, ?, ?, 'r9.txt', 2, 'text/plain', '', 'ready', ?)`,
    )
      .bind(roomId, alice.id, clientId, `rooms/${roomId}/r9file`, Date.now())
      .run();
    await env.FILES.put(`rooms/${roomId}/r9file`, "ok");
    expect(await fileEvents(roomId)).toEqual([]);
    const head = await roomHead(roomId);
    const retry = await upload(roomId, alice, "ok", { clientId, name: "r9.txt" });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ duplicate: true, file: { file_id: "r9file", seq: head + 1 } });
    const again = await upload(roomId, alice, "ok", { clientId, name: "r9.txt" });
    expect(await again.json()).toMatchObject({ duplicate: true, file: { seq: head + 1 } });
    expect(await roomHead(roomId)).toBe(head + 1);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded"]);
    expect(await fileRows(roomId)).toHaveLength(1);
    expect((await unread(bob)).total).toBe(1);
  });
});
