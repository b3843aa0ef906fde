/**
 * A fuzz pass over the room socket and the HTTP API with a fixed seed and a
 * fixed number of iterations: random and malformed frames and bodies. The
 * objects must keep running, nothing invalid may be stored, and every error
 * must have the standard shape.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ClientFrame, ErrorBody, SOCKET_ERROR_CODES, type ServerFrame } from "#protocol";
import { call, ORIGIN, roomWithTwo } from "./helpers";
import { rng } from "./rng";
import { TestSocket } from "./socket";
import { exports } from "cloudflare:workers";

const SEED = 20261126;
const ITERATIONS = Number(env.FUZZ_ITERATIONS);


function generator(seed: number) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const strings = ["", " ", "\u0000", "\uD800", "\u202E", "a".repeat(5000), "<script>", "💥", "null", "send", "typing", "read", "-1", "1e309"];
  const numbers = [0, -1, 1.5, 2 ** 53, -(2 ** 63), Number.MAX_VALUE, 1e308, -0];
  const value = (depth: number): unknown => {
    switch (int(depth > 3 ? 4 : 7)) {
      case 0:
        return pick(strings);
      case 1:
        return pick(numbers);
      case 2:
        return pick([true, false, null]);
      case 3:
        return crypto.randomUUID();
      case 4:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = 0; i < int(5); i++) o[pick(["type", "text", "clientId", "seq", "messageId", "typing", "ref", "__proto__", "constructor", "userId"])] = value(depth + 1);
        return o;
      }
    }
  };
  const types = ["send", "edit", "delete", "typing", "read", "mark_unread", "ping", "hello", "nope", 42, null];
  /** A frame: mostly near-valid shapes with one thing wrong, sometimes garbage. */
  const frame = (): string => {
    switch (int(6)) {
      case 0:
        return Array.from({ length: int(200) }, () => String.fromCharCode(int(0x10000))).join("");
      case 1:
        return "[".repeat(int(3000)) + "]".repeat(int(3000));
      case 2:
        return JSON.stringify(value(0));
      default: {
        const o: Record<string, unknown> = { type: pick(types) };
        if (r() < 0.8) o.clientId = r() < 0.5 ? crypto.randomUUID() : value(2);
        if (r() < 0.8) o.text = r() < 0.3 ? `ok ${int(1e6)}` : value(2);
        if (r() < 0.5) o.messageId = value(2);
        if (r() < 0.5) o.seq = pick(numbers);
        if (r() < 0.3) o.typing = value(2);
        return JSON.stringify(o);
      }
    }
  };
  return { frame, value, r, int, pick };
}

describe("fuzz: the room socket", () => {
  it(`${ITERATIONS} random frames: typed errors, the room keeps running, only valid sends are stored`, async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const g = generator(SEED);
    const a = await TestSocket.open(roomId, alice);
    const b = await TestSocket.open(roomId, bob);
    // The oracle is the protocol itself: what its schema accepts as a send may be stored, nothing else.
    const acceptable = new Set<string>();
    for (let i = 0; i < ITERATIONS; i++) {
      const f = g.frame();
      let parsed: unknown;
      try {
        parsed = JSON.parse(f);
      } catch {
        // not JSON
      }
      const ok = ClientFrame.safeParse(parsed);
      if (ok.success && ok.data.type === "send") acceptable.add(ok.data.text);
      a.send(f);
    }
    // A marker after the storm proves the room is alive and has processed everything before it.
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "marker" });
    await b.until(() => b.messageTexts().includes("marker"), "the marker", 30_000);
    for (const e of a.frames.filter((x): x is Extract<ServerFrame, { type: "error" }> => x.type === "error")) {
      expect(SOCKET_ERROR_CODES).toContain(e.code);
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.code).not.toBe("internal");
    }
    const stored = await runInDurableObject(env.ROOM.getByName(roomId), (_r, s) =>
      s.storage.sql.exec<{ text: string }>("SELECT text FROM messages ORDER BY seq").toArray().map((m) => m.text),
    );
    // Rate limiting may refuse some valid sends; nothing invalid is ever stored.
    expect(stored.filter((t) => !acceptable.has(t) && t !== "marker")).toEqual([]);
    expect(stored.length).toBeLessThanOrEqual(acceptable.size + 1);
    expect(stored.at(-1)).toBe("marker");
    a.close();
    b.close();
  });
});

describe("fuzz: the HTTP API", () => {
  it(`${ITERATIONS} random bodies: 4xx in the standard shape, never a 500, nothing stored`, async () => {
    const { roomId, alice } = await roomWithTwo();
    const g = generator(SEED + 1);
    const targets = [
      ["POST", "/api/auth/register"],
      ["POST", "/api/auth/login"],
      ["POST", "/api/rooms"],
      ["PATCH", `/api/rooms/${roomId}`],
      ["POST", `/api/rooms/${roomId}/members`],
      ["POST", `/api/rooms/${roomId}/messages`],
      ["POST", `/api/rooms/${roomId}/read`],
      ["POST", `/api/rooms/${roomId}/unread`],
      ["GET", `/api/rooms/${roomId}/messages?limit=`],
      ["GET", `/api/rooms/${roomId}/events?after=`],
      ["POST", `/api/rooms/${roomId}/files`],
    ] as const;
    for (let i = 0; i < ITERATIONS; i++) {
      const [method, path] = g.pick(targets);
      let res: Response;
      if (method === "GET") {
        // Lone surrogates cannot be percent-encoded (URIError): the client would send their replacement.
        res = await call(path + encodeURIComponent(String(g.value(2)).toWellFormed()), { cookie: alice.cookie });
      } else if (g.r() < 0.2) {
        const bytes = new Uint8Array(g.int(2000)).map(() => g.int(256));
        res = await exports.default.fetch(
          new Request(ORIGIN + path, {
            method,
            headers: { Origin: ORIGIN, Cookie: alice.cookie, "Content-Type": g.pick(["application/json", "multipart/form-data; boundary=zz", "text/plain"]) },
            body: bytes,
          }),
        );
      } else {
        res = await call(path, { cookie: alice.cookie, method, json: g.value(0) });
      }
      expect(res.status, `${method} ${path}`).toBeLessThan(500);
      if (res.status >= 400) {
        const body = ErrorBody.safeParse(await res.json());
        expect(body.success, `${method} ${path} error shape`).toBe(true);
      } else {
        await res.body?.cancel();
      }
    }
    // Still healthy, and no stray rooms, members or files were made from garbage.
    expect((await call("/api/health")).status).toBe(200);
    const files = await env.DB.prepare("SELECT COUNT(*) AS n FROM files WHERE room_id = ?").bind(roomId).first<{ n: number }>();
    expect(files?.n).toBe(0);
  });
});
