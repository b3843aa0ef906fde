/** Helpers for calling the Worker from tests running inside workerd. */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { Room } from "../../worker/room";
import type { FileInfo, Message } from "#protocol";

export const ORIGIN = "https://parley.test";

export interface CallOptions {
  method?: string;
  /** JSON body (sent with Content-Type: application/json). */
  json?: unknown;
  /** Raw body, sent as is. */
  body?: BodyInit;
  cookie?: string;
  /** `null` sends no Origin header at all. Defaults to the app's own origin. */
  origin?: string | null;
  headers?: Record<string, string>;
}

/** Call the Worker's fetch handler as a browser on ORIGIN would. */
export function call(path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  if (opts.origin !== null) headers.set("Origin", opts.origin ?? ORIGIN);
  if (opts.cookie) headers.set("Cookie", opts.cookie);
  let body = opts.body;
  if (opts.json !== undefined) {
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
    body = JSON.stringify(opts.json);
  }
  const method = opts.method ?? (body === undefined ? "GET" : "POST");
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method, headers, body }));
}

/** `name=value` of the session cookie a response set, for the next request. */
export function sessionCookie(res: Response): string {
  const set = res.headers.getSetCookie().find((c) => c.startsWith("__Host-parley_session="));
  if (!set) throw new Error(`no session cookie in ${res.status} response`);
  return set.split(";")[0]!;
}

/** A username no other test in this file uses. */
export function uniqueName(prefix = "u"): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  cookie: string;
}

/** A random documentation-range address, so test registrations don't share one address's limit (S11). */
export const randomAddress = () => `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;

/** Register a fresh user (from a random address) and return its session cookie. */
export async function register(username = uniqueName(), password = "correct horse battery"): Promise<TestUser> {
  const res = await call("/api/auth/register", { json: { username, password }, headers: { "CF-Connecting-IP": randomAddress() } });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  const { user } = await res.json<{ user: { id: string; username: string } }>();
  return { ...user, password, cookie: sessionCookie(res) };
}

/** Create a room owned by `owner`. */
export async function createRoom(owner: TestUser, name = uniqueName("room")): Promise<{ id: string; name: string }> {
  const res = await call("/api/rooms", { cookie: owner.cookie, json: { name } });
  if (res.status !== 201) throw new Error(`create room: ${res.status} ${await res.text()}`);
  return (await res.json<{ room: { id: string; name: string } }>()).room;
}

export async function addMember(owner: TestUser, roomId: string, member: TestUser): Promise<Response> {
  return call(`/api/rooms/${roomId}/members`, { cookie: owner.cookie, json: { username: member.username } });
}

/** Expect the standard error shape with a given status and code. */
export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = await res.json<{ error: { code: string; message: string } }>();
  return { status: res.status, code: body.error.code, message: body.error.message };
}

/** A room owned by a fresh user (alice) with one fresh member (bob). */
export async function roomWithTwo(): Promise<{ roomId: string; alice: TestUser; bob: TestUser }> {
  const alice = await register();
  const bob = await register();
  const room = await createRoom(alice);
  await addMember(alice, room.id, bob);
  return { roomId: room.id, alice, bob };
}

/** The seq of a room's newest stored event (membership events included), straight from the object. */
export function roomHead(roomId: string): Promise<number> {
  return runInDurableObject(env.ROOM.getByName(roomId), (room: Room) => room.log.head());
}

/** Every stored log entry's seq, in order: messages (their own entries) and all other events. */
export function storedLogSeqs(roomId: string): Promise<number[]> {
  return runInDurableObject(env.ROOM.getByName(roomId), (_room, state) =>
    state.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM messages UNION ALL SELECT seq FROM events ORDER BY seq")
      .toArray()
      .map((r) => r.seq),
  );
}

/** `n` consecutive integers from `from`. */
export const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Wait (polling) until `fn` holds: pushes to the hubs happen after the caller's answer. */
export async function pollUntil<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 10_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Wait (polling every `everyMs`) until `check` holds. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 10_000, everyMs = 25): Promise<void> {
  await pollUntil(async () => await check(), Boolean, what, ms, everyMs);
}

/** A second session of `user` (signed in again), e.g. another browser. */
export async function signInAgain(user: TestUser): Promise<TestUser> {
  const res = await call("/api/auth/login", { json: { username: user.username, password: user.password }, headers: { "CF-Connecting-IP": randomAddress() } });
  if (res.status !== 200) throw new Error(`login ${user.username}: ${res.status} ${await res.text()}`);
  return { ...user, cookie: sessionCookie(res) };
}

/** Send a message over HTTP; answers the stored message and its seq. */
export async function sendText(roomId: string, user: TestUser, text: string): Promise<{ message: Message; seq: number }> {
  const res = await call(`/api/rooms/${roomId}/messages`, { cookie: user.cookie, json: { clientId: crypto.randomUUID(), text } });
  if (res.status !== 201) throw new Error(`send: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Upload a small text file (fields before the file, as the server wants). */
export async function uploadText(roomId: string, user: TestUser, text: string, name = "notes.txt"): Promise<FileInfo> {
  const fd = new FormData();
  fd.append("clientId", crypto.randomUUID());
  fd.append("file", new Blob([text], { type: "text/plain" }), name);
  const res = await exports.default.fetch(new Request(`${ORIGIN}/api/rooms/${roomId}/files`, { method: "POST", headers: { Origin: ORIGIN, Cookie: user.cookie }, body: fd }));
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return (await res.json<{ file: FileInfo }>()).file;
}

/** Open (or create) the DM of `user` with `username`. */
export function openDm(user: TestUser, username: string): Promise<Response> {
  return call("/api/dm", { cookie: user.cookie, json: { username } });
}

/**
 * Add `n` members straight into D1 (fast: no password hashing), then tell the room.
 * Returns their ids, in order (`seed-<roomId>-<i>`).
 */
export async function seedMembers(roomId: string, n: number): Promise<string[]> {
  const now = Date.now();
  const stmts: D1PreparedStatement[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `seed-${roomId}-${i}`;
    ids.push(id);
    stmts.push(
      env.DB.prepare("INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (?, ?, ?, 'x', ?)").bind(id, `s${i}_${roomId.slice(0, 6)}`, `s${i}_${roomId.slice(0, 6)}`.toLowerCase(), now),
      env.DB.prepare("INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)").bind(roomId, id, now),
    );
  }
  for (let i = 0; i < stmts.length; i += 400) await env.DB.batch(stmts.slice(i, i + 400));
  await env.DB.prepare("UPDATE rooms SET version = version + 1 WHERE id = ?").bind(roomId).run();
  await env.ROOM.getByName(roomId).syncMembers(roomId);
  return ids;
}
