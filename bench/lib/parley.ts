/**
 * The benchmark's client of Parley: accounts, rooms, and the two sockets
 * (room socket and badge socket), used the way the SPA uses them.
 */
import type WebSocket from "ws";
import { User } from "#protocol";
import { type HubFrame, parseHubFrame, parseServerFrame, readServerFrame, type ServerFrame } from "./frames.ts";
import { api, type ApiOptions, now, openSocket, PING_MS, pool, wsUrl } from "./harness.ts";

/** A registered account and its session cookie. */
export interface BenchUser {
  id: string;
  username: string;
  cookie: string;
}

/** Register `username` on `base`; the session cookie comes back with it. */
export async function register(base: string, username: string): Promise<BenchUser> {
  const res = await api(base, "/api/auth/register", { json: { username, password: "bench password 1" } });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  const { user } = (await res.json()) as { user: unknown };
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith("__Host-parley_session="))
    ?.split(";")[0];
  if (!cookie) throw new Error(`register ${username}: no session cookie`);
  return { ...User.parse(user), cookie };
}

/** Times of one room-socket connection: the attempt, `open`, and the `live` frame. */
export interface Timings {
  start?: number;
  open?: number;
  live?: number;
}

export interface RoomSocketOptions {
  /** A close after `live` (a close before it rejects instead). */
  onClose?: (code: number) => void;
  liveTimeoutMs?: number;
  timings?: Timings;
  /**
   * Check every frame with the protocol's schema (the default). `false` on
   * hot receive paths: frames are read with a typed JSON.parse (lib/frames.ts).
   */
  check?: boolean;
}

export type FrameHandler = (frame: ServerFrame, t: number, bytes: number) => void;

/** Parley at `base`, with `owner` (the first seeded user) creating the rooms. */
export class Parley {
  readonly base: string;
  readonly owner: BenchUser;

  constructor(base: string, owner: BenchUser) {
    this.base = base;
    this.owner = owner;
  }

  /** An API call with the owner's session. */
  ownerApi(path: string, options: ApiOptions = {}): Promise<Response> {
    return api(this.base, path, { cookie: this.owner.cookie, ...options });
  }

  /** A new room (owned by `owner`, who is `members[0]`) with the other `members` added; its id. */
  async roomWith(members: readonly BenchUser[], name: string): Promise<string> {
    const res = await this.ownerApi("/api/rooms", { json: { name } });
    if (res.status !== 201) throw new Error(`create room: ${res.status} ${await res.text()}`);
    const { room } = (await res.json()) as { room: { id: string } };
    await pool(members.slice(1), 6, async (u) => {
      const r = await this.ownerApi(`/api/rooms/${room.id}/members`, { json: { username: u.username } });
      // 201 for a new member, 200 when already one (adding is idempotent).
      if (r.status !== 201 && r.status !== 200) throw new Error(`add member: ${r.status} ${await r.text()}`);
    });
    return room.id;
  }

  /**
   * A room socket for `user`, calling `onFrame` for each frame; resolves at
   * `live` (after hello, any replay from `after`, and the `receipts` frame).
   * It pings every 15 s like a client. Rejects if the socket closes, or
   * `live` does not come within `liveTimeoutMs`.
   */
  async roomSocket(roomId: string, user: BenchUser, onFrame: FrameHandler, after?: number, { onClose, liveTimeoutMs = 30_000, timings, check = true }: RoomSocketOptions = {}): Promise<WebSocket> {
    const read = check ? parseServerFrame : readServerFrame;
    let isLive = false;
    let live!: () => void;
    let fail!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      live = resolve;
      fail = reject;
    });
    ready.catch(() => {}); // it may fail before anyone awaits it
    const ws = await openSocket(wsUrl(this.base, `/api/rooms/${roomId}/ws${after === undefined ? "" : `?after=${after}`}`), {
      cookie: user.cookie,
      origin: this.base,
      pingMs: PING_MS,
      onOpen: () => {
        if (timings) timings.open = now();
      },
      onMessage: (data, t, bytes) => {
        const frame = read(data);
        if (!frame) return;
        if (!isLive && frame.type === "live") {
          isLive = true;
          if (timings) timings.live = t;
          live();
        }
        onFrame(frame, t, bytes);
      },
      onClose: (code) => {
        if (isLive) onClose?.(code);
        else fail(new Error(`room socket closed (${code}) before live`));
      },
    });
    const timer = setTimeout(() => {
      if (isLive) return;
      fail(new Error("no live frame in time"));
      ws.terminate();
    }, liveTimeoutMs);
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
    return ws;
  }

  /** The badge socket `/api/me/ws` for `user`, pinging like a client; every frame checked with `HubFrame`. */
  badgeSocket(user: BenchUser, onFrame: (frame: HubFrame, t: number, bytes: number) => void): Promise<WebSocket> {
    return openSocket(wsUrl(this.base, "/api/me/ws"), {
      cookie: user.cookie,
      origin: this.base,
      pingMs: PING_MS,
      onMessage: (data, t, bytes) => {
        const frame = parseHubFrame(data);
        if (frame) onFrame(frame, t, bytes);
      },
    });
  }
}
