/** Upload edge cases: form order (U8), uploads in flight during the sweep (U9), per-hour upload limits (S11). */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { db } from "../../worker/db";
import { sweepFiles } from "../../worker/files/sweep";
import { accountRates } from "../../worker/lib/limits";
import { addMember, call, createRoom, errorOf, eventually, ORIGIN, register, roomWithTwo, type TestUser } from "./helpers";

const rates = accountRates(env);
const fileRows = (roomId: string) => env.DB.prepare("SELECT id, state FROM files WHERE room_id = ?").bind(roomId).all<{ id: string; state: string }>().then((r) => r.results);
const objects = async (roomId: string) => (await env.FILES.list({ prefix: `rooms/${roomId}/` })).objects.map((o) => o.key);
const fileEvents = (roomId: string) =>
  runInDurableObject(env.ROOM.getByName(roomId), (_r, s) => s.storage.sql.exec<{ type: string }>("SELECT type FROM events WHERE type LIKE 'file_%'").toArray().length);

function post(roomId: string, user: TestUser, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}/api/rooms/${roomId}/files`, { method: "POST", headers: { Origin: ORIGIN, Cookie: user.cookie, ...headers }, body }));
}

/** A form with its parts in the given order. */
function form(parts: Array<["clientId" | "description", string] | ["file", string]>): FormData {
  const fd = new FormData();
  for (const [name, value] of parts) {
    if (name === "file") fd.append("file", new Blob([value], { type: "text/plain" }), "notes.txt");
    else fd.append(name, value);
  }
  return fd;
}

describe("U8 upload form order", () => {
  it("U8 a clientId after the file is a 400, and its retry too: nothing stored, nothing announced, never a second copy", async () => {
    const { roomId, alice } = await roomWithTwo();
    const clientId = crypto.randomUUID();
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await post(roomId, alice, form([["file", "late id"], ["clientId", clientId]]));
      const err = await errorOf(res);
      expect(err).toMatchObject({ status: 400, code: "bad_request" });
      expect(err.message).toMatch(/before the file/);
    }
    const late = await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", "x"], ["description", "after"]]));
    expect(late.status).toBe(400);
    expect(await fileRows(roomId)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
    expect(await fileEvents(roomId)).toBe(0);
    // The right order works, and its retry is recognised: one copy.
    const ok = await post(roomId, alice, form([["clientId", clientId], ["description", "first"], ["file", "right order"]]));
    expect(ok.status).toBe(201);
    const again = await post(roomId, alice, form([["clientId", clientId], ["description", "first"], ["file", "right order"]]));
    expect(again.status).toBe(200);
    expect((await fileRows(roomId)).length).toBe(1);
    expect(await fileEvents(roomId)).toBe(1);
  });
});

/** A multipart upload whose file part streams until the test says it is done. */
function slowUpload(roomId: string, user: TestUser) {
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
  push("the first bytes of a long upload ");
  const response = post(roomId, user, body, { "Content-Type": `multipart/form-data; boundary=${boundary}` });
  return {
    response,
    finish() {
      push(`and the last ones\r\n--${boundary}--\r\n`);
      end();
    },
  };
}

describe("U9 no ghost files", () => {
  it("U9 an upload that started long ago but is still streaming is not swept; it finishes and is announced", async () => {
    const { roomId, alice } = await roomWithTwo();
    const up = slowUpload(roomId, alice);
    await eventually(async () => (await fileRows(roomId)).length === 1, "the pending row");
    // It started two hours ago (by its creation time) but made progress a moment ago.
    await env.DB.prepare("UPDATE files SET created_at = created_at - 7200000 WHERE room_id = ?").bind(roomId).run();
    const swept = await sweepFiles(env, db(env.DB));
    expect(swept.removed).toBe(0);
    up.finish();
    const res = await up.response;
    expect(res.status).toBe(201);
    expect((await fileRows(roomId)).map((r) => r.state)).toEqual(["ready"]);
    expect(await fileEvents(roomId)).toBe(1);
  });

  it("U9 an upload swept as dead while streaming is not announced when it finishes, and leaves no bytes", async () => {
    const { roomId, alice } = await roomWithTwo();
    const up = slowUpload(roomId, alice);
    await eventually(async () => (await fileRows(roomId)).length === 1, "the pending row");
    await env.DB.prepare("UPDATE files SET created_at = created_at - 7200000, progress_at = progress_at - 7200000 WHERE room_id = ?").bind(roomId).run();
    expect((await sweepFiles(env, db(env.DB))).removed).toBe(1);
    up.finish();
    const res = await up.response;
    expect(await errorOf(res)).toMatchObject({ status: 409, code: "conflict" });
    expect(await fileRows(roomId)).toEqual([]);
    expect(await objects(roomId)).toEqual([]);
    expect(await fileEvents(roomId)).toBe(0);
  });
});

describe("S11 per-hour limits on uploads, rooms and members", () => {
  it("S11 uploads per user per hour: over the count a 429 with Retry-After, nothing stored", async () => {
    const { roomId, alice } = await roomWithTwo();
    for (let i = 0; i < rates.uploadCount.count; i++) {
      expect((await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", `f${i}`]]))).status).toBe(201);
    }
    const refused = await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", "one too many"]]));
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await fileRows(roomId)).length).toBe(rates.uploadCount.count);
  });

  it("S11 uploaded bytes per user per hour: over the budget a 429; a failed upload gives its bytes back", async () => {
    const { roomId, alice } = await roomWithTwo();
    const chunk = "x".repeat(Math.floor(rates.uploadBytes.count / 3));
    // A refused form (400) takes nothing for good.
    for (let i = 0; i < 3; i++) expect((await post(roomId, alice, form([["file", chunk], ["clientId", crypto.randomUUID()]]))).status).toBe(400);
    expect((await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", chunk]]))).status).toBe(201);
    expect((await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", chunk]]))).status).toBe(201);
    const refused = await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", chunk]]));
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    expect((await fileRows(roomId)).length).toBe(2);
    // Another user has a budget of their own.
    const bob = await register();
    expect((await addMember(alice, roomId, bob)).status).toBeLessThan(300);
    expect((await post(roomId, bob, form([["clientId", crypto.randomUUID()], ["file", chunk]]))).status).toBe(201);
  });

  it("S11 room creation per user per hour", async () => {
    const alice = await register();
    for (let i = 0; i < rates.createRoom.count; i++) await createRoom(alice);
    const refused = await call("/api/rooms", { cookie: alice.cookie, json: { name: "one too many" } });
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM rooms WHERE owner_id = ?").bind(alice.id).first<{ n: number }>();
    expect(count?.n).toBe(rates.createRoom.count);
  });

  it("S11 member additions per user per hour", async () => {
    const alice = await register();
    const room = await createRoom(alice);
    const limit = rates.addMember.count;
    const people = await Promise.all(Array.from({ length: limit + 1 }, () => register()));
    for (const p of people.slice(0, limit)) expect((await addMember(alice, room.id, p)).status).toBe(201);
    const refused = await addMember(alice, room.id, people[limit]!);
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    const members = await env.DB.prepare("SELECT COUNT(*) AS n FROM memberships WHERE room_id = ?").bind(room.id).first<{ n: number }>();
    expect(members?.n).toBe(limit + 1);
  });
});

describe("downloads: R2's own Range and conditional handling", () => {
  async function stored(text: string) {
    const { roomId, alice, bob } = await roomWithTwo();
    const res = await post(roomId, alice, form([["clientId", crypto.randomUUID()], ["file", text]]));
    const { file } = await res.json<{ file: { file_id: string } }>();
    return { fileId: file.file_id, alice, bob };
  }
  const get = (fileId: string, user: TestUser, headers: Record<string, string> = {}) => call(`/api/files/${fileId}`, { cookie: user.cookie, headers });

  it("answers an ETag; If-None-Match with it is a 304 without a body; a stale one gets the bytes", async () => {
    const { fileId, bob } = await stored("0123456789");
    const first = await get(fileId, bob);
    expect(first.status).toBe(200);
    const etag = first.headers.get("ETag")!;
    expect(etag).toMatch(/^"/);
    expect(await first.text()).toBe("0123456789");
    const cached = await get(fileId, bob, { "If-None-Match": etag });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe("");
    const stale = await get(fileId, bob, { "If-None-Match": '"not-it"' });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe("0123456789");
  });

  it("If-Range: a range while the ETag matches, the whole file once it does not", async () => {
    const { fileId, bob } = await stored("0123456789");
    const etag = (await get(fileId, bob)).headers.get("ETag")!;
    const part = await get(fileId, bob, { Range: "bytes=2-4", "If-Range": etag });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("234");
    const whole = await get(fileId, bob, { Range: "bytes=2-4", "If-Range": '"an-older-version"' });
    expect(whole.status).toBe(200);
    expect(await whole.text()).toBe("0123456789");
  });

  it("a suffix range and an open range are served by R2 with the right Content-Range", async () => {
    const { fileId, bob } = await stored("0123456789");
    const tail = await get(fileId, bob, { Range: "bytes=-3" });
    expect(tail.status).toBe(206);
    expect(tail.headers.get("Content-Range")).toBe("bytes 7-9/10");
    expect(await tail.text()).toBe("789");
    const open = await get(fileId, bob, { Range: "bytes=7-" });
    expect(open.headers.get("Content-Range")).toBe("bytes 7-9/10");
    expect(await open.text()).toBe("789");
  });
});
