/** S11: a limit on every write, one refusal shape, nothing refused stored or broadcast. */
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished } from "vitest";
import type { ServerFrame } from "#protocol";
import { accountRates, roomRates } from "../../worker/lib/limits";
import { call, errorOf, roomWithTwo, uniqueName } from "./helpers";
import { TestSocket } from "./socket";

const rates = roomRates(env);
type ErrorFrame = Extract<ServerFrame, { type: "error" }>;
const errorsOf = (s: TestSocket) => s.frames.filter((f): f is ErrorFrame => f.type === "error");
/** The most a bucket can admit in `elapsedMs`: its burst plus what refilled meanwhile. */
const admitted = (rate: { count: number; seconds: number }, elapsedMs: number) => rate.count + Math.ceil((elapsedMs / 1000) * (rate.count / rate.seconds)) + 1;

async function openPair() {
  const { roomId, alice, bob } = await roomWithTwo();
  const a = await TestSocket.open(roomId, alice);
  onTestFinished(() => a.close());
  const b = await TestSocket.open(roomId, bob);
  onTestFinished(() => b.close());
  return { roomId, alice, bob, a, b };
}

describe("S11 every write is throttled", () => {
  it("S11 a flood of edits is throttled with rate_limited; refused edits are neither stored nor broadcast", async () => {
    const { roomId, alice, a, b } = await openPair();
    const sent = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: "v0" } });
    const { message } = await sent.json<{ message: { id: string } }>();
    const N = 80;
    const started = Date.now();
    for (let i = 1; i <= N; i++) a.send({ type: "edit", ref: `e${i}`, messageId: message.id, text: `v${i}` });
    await a.until(() => a.frames.filter((f) => f.type === "done").length + errorsOf(a).length === N, "an answer to every edit", 30_000);
    const done = a.frames.filter((f) => f.type === "done").length;
    const refused = errorsOf(a).filter((e) => e.code === "rate_limited");
    expect(done + refused.length).toBe(N);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.retryAfter).toBeGreaterThanOrEqual(1);
    expect(refused[0]!.ref).toMatch(/^e\d+$/);
    expect(done).toBeLessThanOrEqual(admitted(rates.edit, Date.now() - started));
    // Bob saw exactly the applied edits; the stored log has exactly those.
    b.send({ type: "send", clientId: crypto.randomUUID(), text: "marker" });
    await b.until(() => b.messageTexts().includes("marker"), "the marker");
    expect(b.events().filter((e) => e.type === "message_edited").length).toBe(done);
    const log = await call(`/api/rooms/${roomId}/events?after=0`, { cookie: alice.cookie });
    const { events } = await log.json<{ events: { type: string }[] }>();
    expect(events.filter((e) => e.type === "message_edited").length).toBe(done);
  });

  it("S11 deletes share the edit limit; over HTTP the refusal is 429 with Retry-After and the message stays", async () => {
    const { roomId, alice, a } = await openPair();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie, json: { clientId: crypto.randomUUID(), text: `m${i}` } });
      ids.push((await res.json<{ message: { id: string } }>()).message.id);
    }
    // Spend the bucket on edits, then try a delete.
    for (let i = 0; i < rates.edit.count * 2; i++) a.send({ type: "edit", ref: `e${i}`, messageId: ids[0], text: `x${i}` });
    await a.until(() => errorsOf(a).some((e) => e.code === "rate_limited"), "a refusal");
    const del = await call(`/api/rooms/${roomId}/messages/${ids[1]}`, { cookie: alice.cookie, method: "DELETE" });
    if (del.status !== 429) throw new Error(`expected the delete to be throttled, got ${del.status} (the bucket refilled: raise the flood)`);
    expect(await errorOf(del)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(del.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    const snap = await call(`/api/rooms/${roomId}/messages`, { cookie: alice.cookie });
    const body = await snap.json<{ messages: { id: string; deletedAt: number | null }[] }>();
    expect(body.messages.find((m) => m.id === ids[1])?.deletedAt ?? null).toBeNull();
  });

  it("S11 a flood of typing frames is throttled; the others get no more than the limit admits", async () => {
    const { a, b } = await openPair();
    const N = 400;
    const started = Date.now();
    for (let i = 0; i < N; i++) a.send({ type: "typing", typing: i % 2 === 0 });
    const refused = () => errorsOf(a).filter((e) => e.code === "rate_limited").length;
    await a.until(() => refused() > N / 2, "most of the flood refused", 30_000);
    // The room handles a socket's frames in order: once Bob has this message, he has every typing frame the flood caused.
    a.send({ type: "send", clientId: crypto.randomUUID(), text: "marker" });
    await b.until(() => b.messageTexts().includes("marker"), "the marker", 20_000);
    const typingSeen = b.frames.filter((f) => f.type === "typing").length;
    // At most what the bucket admitted, plus the "stopped typing" the message itself causes.
    expect(typingSeen).toBeLessThanOrEqual(admitted(rates.typing, Date.now() - started) + 1);
    expect(typingSeen).toBeLessThan(N / 4);
  });

  it("S11 registrations per address: over the limit a 429 with Retry-After, and no account is made", async () => {
    const limit = accountRates(env).register;
    const ip = "192.0.2.201";
    const register = (username: string) => call("/api/auth/register", { json: { username, password: "long enough pw" }, headers: { "CF-Connecting-IP": ip } });
    for (let i = 0; i < limit.count; i++) expect((await register(uniqueName())).status).toBe(201);
    const name = uniqueName();
    const refused = await register(name);
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "rate_limited" });
    const retry = Number(refused.headers.get("Retry-After"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(limit.seconds);
    expect(await env.DB.prepare("SELECT 1 FROM users WHERE username = ?").bind(name).first()).toBeNull();
    // Another address is unaffected.
    const other = await call("/api/auth/register", { json: { username: name, password: "long enough pw" }, headers: { "CF-Connecting-IP": "192.0.2.202" } });
    expect(other.status).toBe(201);
  });
});
