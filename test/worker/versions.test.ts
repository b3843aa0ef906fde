/** File versions (issue #16 item 1): `POST/GET /api/files/:id/versions`, `GET /api/files/:id?version=n`, `file_version_added`, and U10. */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { db } from "../../worker/db";
import { ANNOUNCE_AFTER_MS, PENDING_MAX_AGE_MS, sweepFiles } from "../../worker/files/sweep";
import { DELETED_USER_NAME, type FileInfo, type FilesPage, type FileVersions, type RoomEvent, type RoomSnapshot, type UnreadCounts } from "#protocol";
import { addMember, call, createRoom, errorOf, eventually, ORIGIN, register, roomHead, roomWithTwo, seedMembers, type TestUser } from "./helpers";
import { costOf } from "./meters";
import { TestSocket } from "./socket";

interface FormOpts {
  name?: string;
  type?: string;
  description?: string;
  clientId?: string;
  thumbnail?: Blob;
  descriptionLast?: boolean;
}

function form(bytes: string, opts: FormOpts = {}): FormData {
  const fd = new FormData();
  if (opts.clientId) fd.append("clientId", opts.clientId);
  if (opts.description !== undefined && !opts.descriptionLast) fd.append("description", opts.description);
  if (opts.thumbnail) fd.append("thumbnail", opts.thumbnail, "thumb.webp");
  fd.append("file", new Blob([bytes], { type: opts.type ?? "text/plain" }), opts.name ?? "notes.txt");
  if (opts.description !== undefined && opts.descriptionLast) fd.append("description", opts.description);
  return fd;
}

const post = (path: string, user: TestUser, body: BodyInit, headers: Record<string, string> = {}) =>
  exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: "POST", headers: { Origin: ORIGIN, Cookie: user.cookie, ...headers }, body }));
const upload = (roomId: string, user: TestUser, bytes: string, opts?: FormOpts) => post(`/api/rooms/${roomId}/files`, user, form(bytes, opts));
const addVersion = (fileId: string, user: TestUser, bytes: string, opts?: FormOpts) => post(`/api/files/${fileId}/versions`, user, form(bytes, opts));

async function stored(res: Response): Promise<FileInfo> {
  if (res.status !== 201) throw new Error(`expected 201: ${res.status} ${await res.text()}`);
  return (await res.json<{ file: FileInfo }>()).file;
}

const thumb = () => new Blob([new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3])], { type: "image/webp" });
const objects = async (roomId: string) => (await env.FILES.list({ prefix: `rooms/${roomId}/` })).objects.map((o) => o.key).sort();
const versionRows = (fileId: string) =>
  env.DB.prepare("SELECT id, n, state, seq FROM file_versions WHERE file_id = ? ORDER BY created_at")
    .bind(fileId)
    .all<{ id: string; n: number | null; state: string; seq: number | null }>()
    .then((r) => r.results);
const allVersionRowsOfRoom = (roomId: string) =>
  env.DB.prepare("SELECT v.id FROM file_versions v JOIN files f ON f.id = v.file_id WHERE f.room_id = ?").bind(roomId).all().then((r) => r.results.length);
const fileEvents = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) =>
    s.storage.sql.exec<{ type: string }>("SELECT type FROM events WHERE type LIKE 'file_%' ORDER BY seq").toArray().map((r) => r.type),
  );
const unread = async (u: TestUser) => (await call("/api/me/unread", { cookie: u.cookie })).json<UnreadCounts>();
/** Members' unread counts derived afresh from the room's storage (as after a wake). */
const derived = (roomId: string, ids: string[]) =>
  runInDurableObject(env.ROOM.getByName(roomId), (room: { members: { invalidate(): void; get(id: string): { unread: number } | undefined } }) => {
    room.members.invalidate();
    return ids.map((id) => room.members.get(id)?.unread);
  });
const versions = async (fileId: string, u: TestUser) => (await call(`/api/files/${fileId}/versions`, { cookie: u.cookie })).json<FileVersions>();

describe("versions: add, list, download", () => {
  it("a new version keeps the file's id, is announced live, and lists, snapshots and downloads show it; ?version=1 serves the old bytes", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const v1 = await stored(await upload(roomId, alice, "first draft", { name: "plan.txt", description: "draft" }));
    expect(v1).toMatchObject({ version: 1, version_uploader_id: alice.id, version_uploaded_at: v1.uploaded_at });
    const watcher = await TestSocket.open(roomId, bob);
    const head = await roomHead(roomId);
    const v2 = await stored(await addVersion(v1.file_id, alice, "final text!", { name: "plan-final.txt", description: "final" }));
    expect(v2).toMatchObject({
      file_id: v1.file_id,
      room_id: roomId,
      filename: "plan-final.txt",
      file_size: 11,
      description: "final",
      uploaded_by: alice.username,
      uploader_id: alice.id,
      uploaded_at: v1.uploaded_at,
      version: 2,
      version_uploaded_by: alice.username,
      version_uploader_id: alice.id,
      seq: head + 1,
    });
    expect(v2.version_uploaded_at).toBeGreaterThanOrEqual(v1.uploaded_at);
    const event = await watcher.waitFor((f) => f.type === "file_version_added");
    expect(event).toEqual({ type: "file_version_added", seq: head + 1, ts: expect.any(Number), file: v2 });
    watcher.close();

    const list = await (await call(`/api/rooms/${roomId}/files`, { cookie: bob.cookie })).json<FilesPage>();
    expect(list.files).toEqual([v2]);
    const snap = await (await call(`/api/rooms/${roomId}`, { cookie: bob.cookie })).json<RoomSnapshot>();
    expect(snap.files).toEqual([v2]);

    const latest = await call(`/api/files/${v1.file_id}`, { cookie: bob.cookie });
    expect(await latest.text()).toBe("final text!");
    expect(latest.headers.get("Content-Disposition")).toContain('filename="plan-final.txt"');
    const older = await call(`/api/files/${v1.file_id}?version=1`, { cookie: bob.cookie });
    expect(older.status).toBe(200);
    expect(await older.text()).toBe("first draft");
    expect(older.headers.get("Content-Disposition")).toContain('filename="plan.txt"');
    expect(older.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(older.headers.get("Content-Security-Policy")).toBe("sandbox; default-src 'none'");
    const ranged = await call(`/api/files/${v1.file_id}?version=1`, { cookie: bob.cookie, headers: { Range: "bytes=0-4" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("Content-Range")).toBe("bytes 0-4/11");
    expect(await ranged.text()).toBe("first");
    expect(await (await call(`/api/files/${v1.file_id}?version=2`, { cookie: bob.cookie })).text()).toBe("final text!");
    for (const bad of ["3", "0", "x"]) expect((await call(`/api/files/${v1.file_id}?version=${bad}`, { cookie: bob.cookie })).status).toBe(bad === "3" ? 404 : 400);
  });

  it("lists every version newest first, each with its own name, size, seq and who stored it", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const v1 = await stored(await upload(roomId, bob, "1", { name: "a.txt" }));
    const v2 = await stored(await addVersion(v1.file_id, bob, "22", { name: "b.txt" }));
    const v3 = await stored(await addVersion(v1.file_id, alice, "333", { name: "c.txt", thumbnail: thumb() }));
    const { versions: all } = await versions(v1.file_id, alice);
    expect(all.map((v) => [v.version, v.filename, v.file_size, v.version_uploader_id, v.has_thumbnail])).toEqual([
      [3, "c.txt", 3, alice.id, true],
      [2, "b.txt", 2, bob.id, false],
      [1, "a.txt", 1, bob.id, false],
    ]);
    expect(all.map((v) => v.seq)).toEqual([v3.seq, v2.seq, v1.seq]);
    expect(new Set(all.map((v) => v.uploader_id))).toEqual(new Set([bob.id]));
    expect(all[0]).toEqual(v3);
    expect(all[2]).toEqual(v1);
    // The thumbnail follows the version too.
    expect((await call(`/api/files/${v1.file_id}/thumbnail`, { cookie: alice.cookie })).status).toBe(200);
    expect((await call(`/api/files/${v1.file_id}/thumbnail?version=2`, { cookie: alice.cookie })).status).toBe(404);
  });

  it("a retry with the same clientId answers the original version: one row, one event, one object", async () => {
    const { roomId, alice } = await roomWithTwo();
    const v1 = await stored(await upload(roomId, alice, "one"));
    const clientId = crypto.randomUUID();
    const v2 = await stored(await addVersion(v1.file_id, alice, "two", { clientId }));
    const again = await addVersion(v1.file_id, alice, "two", { clientId });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ file: v2, duplicate: true });
    expect((await versionRows(v1.file_id)).length).toBe(1);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_version_added"]);
    expect((await objects(roomId)).length).toBe(2);
  });

  it("U8 a field after the file of a version is a 400 and nothing of it stays", async () => {
    const { roomId, alice } = await roomWithTwo();
    const v1 = await stored(await upload(roomId, alice, "one"));
    const res = await addVersion(v1.file_id, alice, "two", { description: "late", descriptionLast: true });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: "bad_request" });
    expect(await versionRows(v1.file_id)).toEqual([]);
    expect(await objects(roomId)).toEqual([`rooms/${roomId}/${v1.file_id}`]);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded"]);
  });
});

describe("versions: who may", () => {
  it("the uploader and the room's owner may add a version; another member gets 403 and nothing is stored", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const carol = await register();
    await addMember(alice, roomId, carol);
    const f = await stored(await upload(roomId, bob, "bob's"));
    expect((await stored(await addVersion(f.file_id, alice, "by the owner"))).version).toBe(2);
    expect((await stored(await addVersion(f.file_id, bob, "by the uploader"))).version).toBe(3);
    const refused = await addVersion(f.file_id, carol, "not hers");
    expect(await errorOf(refused)).toMatchObject({ status: 403, code: "forbidden" });
    expect((await versionRows(f.file_id)).length).toBe(2);
    expect((await objects(roomId)).length).toBe(3);
    // Every member may read the versions.
    expect((await versions(f.file_id, carol)).versions.map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it("U10 a new version by a non-member is refused (403) and nothing is stored; a non-member cannot list or download versions", async () => {
    const { roomId, alice } = await roomWithTwo();
    const mallory = await register();
    const f = await stored(await upload(roomId, alice, "secret"));
    await stored(await addVersion(f.file_id, alice, "secret v2"));
    const before = await objects(roomId);
    const refused = await addVersion(f.file_id, mallory, "evil");
    expect(await errorOf(refused)).toMatchObject({ status: 403, code: "forbidden" });
    expect((await versionRows(f.file_id)).map((r) => r.n)).toEqual([2]);
    expect(await objects(roomId)).toEqual(before);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_version_added"]);
    expect((await call(`/api/files/${f.file_id}/versions`, { cookie: mallory.cookie })).status).toBe(403);
    expect((await call(`/api/files/${f.file_id}?version=1`, { cookie: mallory.cookie })).status).toBe(403);
  });

  it("U10 a version of a deleted file (or an unknown one) is a 404 and nothing is stored", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "gone soon"));
    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    const res = await addVersion(f.file_id, alice, "too late");
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
    expect(await errorOf(await addVersion("no-such-file", alice, "x"))).toMatchObject({ status: 404 });
    expect(await versionRows(f.file_id)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_deleted"]);
    expect((await call(`/api/files/${f.file_id}/versions`, { cookie: alice.cookie })).status).toBe(404);
  });

  it("U10 a file deleted while its new version streams in: the version answers 404 and leaves no bytes, row or event", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "original"));
    const slow = slowVersion(f.file_id, alice);
    await eventually(async () => (await versionRows(f.file_id)).length === 1, "the pending version row");
    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    slow.finish();
    expect(await errorOf(await slow.response)).toMatchObject({ status: 404, code: "not_found" });
    expect(await versionRows(f.file_id)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_deleted"]);
  });
});

describe("versions: unread, replay, deletion, cost, sweep", () => {
  it("a new version counts as one unread item for everyone but who stored it; deleting the file takes all of them back", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await stored(await upload(roomId, bob, "v1"));
    expect((await unread(alice)).total).toBe(1);
    await stored(await addVersion(f.file_id, bob, "v2"));
    expect(await unread(alice)).toMatchObject({ total: 2, rooms: { [roomId]: 2 } });
    expect((await unread(bob)).total).toBe(0);
    // The owner's version counts for the uploader too (and brings the owner's own cursor up to it).
    await stored(await addVersion(f.file_id, alice, "v3"));
    expect((await unread(bob)).total).toBe(1);
    expect((await unread(alice)).total).toBe(0);
    const snap = await (await call(`/api/rooms/${roomId}`, { cookie: bob.cookie })).json<RoomSnapshot>();
    expect(snap.unread).toBe(1);
    // A fresh derivation (after a wake) agrees with the adjusted numbers.
    expect(await derived(roomId, [alice.id, bob.id])).toEqual([0, 1]);
    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    expect((await unread(bob)).total).toBe(0);
    expect(await derived(roomId, [alice.id, bob.id])).toEqual([0, 0]);
  });

  it("U10 a version the room refuses because the file is deleted there: 404, its bytes and row removed, the file still at its last version", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "v1"));
    // The room has dropped the file, D1 not yet (a deletion half-way).
    await env.ROOM.getByName(roomId).removeFile(f.file_id);
    const res = await addVersion(f.file_id, alice, "v2");
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
    expect(await versionRows(f.file_id)).toEqual([]);
    expect(await objects(roomId)).toEqual([`rooms/${roomId}/${f.file_id}`]);
    expect(await env.DB.prepare("SELECT version FROM files WHERE id = ?").bind(f.file_id).first("version")).toBe(1);
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_deleted"]);
  });

  it("a socket that reconnects with after= gets file_version_added in the replay", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "v1"));
    const after = await roomHead(roomId);
    const v2 = await stored(await addVersion(f.file_id, alice, "v2"));
    const s = await TestSocket.open(roomId, bob, after);
    const replayed = s.frames.filter((fr): fr is Extract<RoomEvent, { type: "file_version_added" }> => fr.type === "file_version_added");
    expect(replayed).toEqual([{ type: "file_version_added", seq: v2.seq, ts: expect.any(Number), file: v2 }]);
    s.close();
  });

  it("a deleted account's name leaves its versions: lists, version lists and replayed file_version_added say “deleted user”", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await stored(await upload(roomId, bob, "v1"));
    const after = await roomHead(roomId);
    await stored(await addVersion(f.file_id, bob, "v2"));
    const gone = await call("/api/me", { method: "DELETE", cookie: bob.cookie, json: { password: bob.password }, headers: { "CF-Connecting-IP": "198.18.7.7" } });
    expect(gone.status).toBe(204);
    const { versions: all } = await versions(f.file_id, alice);
    expect(all.map((v) => [v.uploaded_by, v.version_uploaded_by])).toEqual([
      [DELETED_USER_NAME, DELETED_USER_NAME],
      [DELETED_USER_NAME, DELETED_USER_NAME],
    ]);
    const s = await TestSocket.open(roomId, alice, after);
    const replayed = s.frames.find((fr): fr is Extract<RoomEvent, { type: "file_version_added" }> => fr.type === "file_version_added");
    expect(replayed?.file).toMatchObject({ uploaded_by: DELETED_USER_NAME, version_uploaded_by: DELETED_USER_NAME, version_uploader_id: bob.id });
    s.close();
  });

  it("deleting a file deletes every version's bytes and thumbnails from R2, and their rows", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "v1", { thumbnail: thumb() }));
    await stored(await addVersion(f.file_id, alice, "v2", { thumbnail: thumb() }));
    await stored(await addVersion(f.file_id, alice, "v3"));
    expect((await objects(roomId)).length).toBe(5);
    const watcher = await TestSocket.open(roomId, bob);
    expect((await call(`/api/files/${f.file_id}`, { cookie: alice.cookie, method: "DELETE" })).status).toBe(204);
    await watcher.waitFor((fr) => fr.type === "file_deleted");
    watcher.close();
    expect(await objects(roomId)).toEqual([]);
    expect(await allVersionRowsOfRoom(roomId)).toBe(0);
    expect((await call(`/api/files/${f.file_id}?version=1`, { cookie: alice.cookie })).status).toBe(404);
  });

  it("a version writes a bounded number of rows, the same in a room of 10 as of 300 members (no row per member)", async () => {
    const rows: number[] = [];
    for (const n of [10, 300]) {
      const owner = await register();
      const room = await createRoom(owner);
      await seedMembers(room.id, n - 1);
      const f = await stored(await upload(room.id, owner, "v1"));
      const cost = await costOf(room.id, async () => stored(await addVersion(f.file_id, owner, "v2")));
      expect(cost.total).toBeLessThanOrEqual(10);
      expect(cost.hubRows).toBe(0);
      rows.push(cost.roomRows);
    }
    expect(rows[1]).toBe(rows[0]);
  });

  it("the sweep removes a version upload that died half-way (row and bytes, nothing announced) and announces a ready one that was not", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "v1"));
    const old = Date.now() - PENDING_MAX_AGE_MS - 1000;
    const deadKey = `rooms/${roomId}/${f.file_id}.v/dead`;
    const lostKey = `rooms/${roomId}/${f.file_id}.v/lost`;
    await env.DB.prepare(
      `INSERT INTO file_versions (id, file_id, n, uploader_id, client_id, r2_key, name, size, type, description, state, created_at, progress_at)
       VALUES ('dead', ?1, NULL, ?2, 'c1', ?3, 'half.bin', 0, 'application/octet-stream', '', 'pending', ?5, ?5),
              ('lost', ?1, 2, ?2, 'c2', ?4, 'v2.txt', 2, 'text/plain', '', 'ready', ?6, NULL)`,
    )
      .bind(f.file_id, alice.id, deadKey, lostKey, old, Date.now() - ANNOUNCE_AFTER_MS - 1000)
      .run();
    await env.DB.prepare("UPDATE files SET version = 2 WHERE id = ?").bind(f.file_id).run();
    await env.FILES.put(deadKey, "half");
    await env.FILES.put(lostKey, "v2");
    const before = (await unread(bob)).total;
    const result = await sweepFiles(env, db(env.DB));
    expect(result.removed).toBeGreaterThanOrEqual(1);
    expect((await versionRows(f.file_id)).map((r) => [r.id, r.n, r.state, r.seq !== null])).toEqual([["lost", 2, "ready", true]]);
    expect(await objects(roomId)).toEqual([`rooms/${roomId}/${f.file_id}`, lostKey].sort());
    expect(await fileEvents(roomId)).toEqual(["file_uploaded", "file_version_added"]);
    expect((await unread(bob)).total).toBe(before + 1);
    const list = await (await call(`/api/rooms/${roomId}/files`, { cookie: bob.cookie })).json<FilesPage>();
    expect(list.files.map((x) => [x.version, x.filename])).toEqual([[2, "v2.txt"]]);
  });
});

/** A version upload whose file part streams until the test says it is done. */
function slowVersion(fileId: string, user: TestUser) {
  const boundary = `----parley${crypto.randomUUID()}`;
  const enc = new TextEncoder();
  let push!: (s: string) => void;
  let end!: () => void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (s) => controller.enqueue(enc.encode(s));
      end = () => controller.close();
    },
  });
  push(`--${boundary}\r\nContent-Disposition: form-data; name="clientId"\r\n\r\n${crypto.randomUUID()}\r\n`);
  push(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="long.txt"\r\nContent-Type: text/plain\r\n\r\n`);
  push("the first bytes of a long version ");
  const response = post(`/api/files/${fileId}/versions`, user, body, { "Content-Type": `multipart/form-data; boundary=${boundary}` });
  return {
    response,
    finish() {
      push(`and the last ones\r\n--${boundary}--\r\n`);
      end();
    },
  };
}

describe("finding a file by its latest version", () => {
  it("the search and the type filter read the latest version's name, description and type (what the list shows)", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await stored(await upload(roomId, alice, "plain words", { name: "notes.txt", type: "text/plain", description: "first draft" }));
    await stored(await addVersion(f.file_id, alice, "not really a png", { name: "diagram.png", type: "image/png", description: "the picture" }));
    const ids = async (query: string) =>
      (await (await call(`/api/rooms/${roomId}/files?${query}`, { cookie: alice.cookie })).json<FilesPage>()).files.map((x) => x.file_id);
    expect(await ids("q=diagram")).toEqual([f.file_id]);
    expect(await ids("q=picture")).toEqual([f.file_id]);
    expect(await ids("q=notes")).toEqual([]);
    expect(await ids("q=draft")).toEqual([]);
    expect(await ids("type=image")).toEqual([f.file_id]);
    expect(await ids("type=document")).toEqual([]);
  });
});
