/** Helpers for calling the Worker from tests running inside workerd. */
import { exports } from "cloudflare:workers";

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

/** Register a fresh user and return its session cookie. */
export async function register(username = uniqueName(), password = "correct horse battery"): Promise<TestUser> {
  const res = await call("/api/auth/register", { json: { username, password } });
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
