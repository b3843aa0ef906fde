/**
 * The SPA's one reconnecting transport (app/lib/transport.svelte.ts): backoff
 * between attempts, reconnecting at once on `online` / a visible tab,
 * heartbeat, polling only while down, 1008 and 4029, and dispose. A fake
 * WebSocket and browser are injected; time is fake.
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { z } from "zod";
import { CLOSE, HEARTBEAT, PING_FRAME, PONG_FRAME } from "#protocol";
import { Connection } from "../../app/lib/connection.svelte.ts";
import { Transport, type TransportOptions } from "../../app/lib/transport.svelte.ts";
import { FakeBrowser, fakeSockets, flush, useFakeTime } from "./fake-socket.ts";

const Frame = z.object({ type: z.literal("hi"), n: z.number() });
type Frame = z.infer<typeof Frame>;

/** A started-or-not transport on fakes; disposed after the test. `random` 0.5 makes every wait half its step. */
function setup(options: Partial<TransportOptions<Frame>> = {}) {
  useFakeTime();
  const net = fakeSockets();
  const browser = new FakeBrowser();
  const connection = new Connection();
  const frames: Frame[] = [];
  const downs: boolean[] = [];
  const ends: string[] = [];
  let polls = 0;
  const transport = new Transport<Frame>({
    source: "room",
    path: () => "/api/test/ws",
    frames: Frame,
    onframe: (f) => frames.push(f),
    ondown: (wasUp) => downs.push(wasUp),
    onend: (reason) => ends.push(reason),
    poll: async () => void polls++,
    pollMs: 5_000,
    WebSocket: net.WebSocket,
    random: () => 0.5,
    surroundings: browser,
    connection,
    ...options,
  });
  onTestFinished(() => transport.dispose());
  return { transport, net, browser, connection, frames, downs, ends, polls: () => polls };
}

/** Open the newest socket, have the server say something, and declare it up. */
function bringUp(t: ReturnType<typeof setup>) {
  t.net.last.open().receive({ type: "hi", n: 0 });
  t.transport.up();
}

/** Let `ms` pass on a socket that answers every ping. */
async function stayUp(t: ReturnType<typeof setup>, ms: number) {
  for (let left = ms; left > 0; left -= HEARTBEAT.pingMs) {
    await vi.advanceTimersByTimeAsync(Math.min(left, HEARTBEAT.pingMs));
    t.net.last.receive(PONG_FRAME);
  }
}

describe("Transport: connecting and frames", () => {
  it("connects to the path's URL, parses frames with the schema, drops invalid ones and swallows pongs", () => {
    const t = setup();
    t.transport.start();
    expect(t.net.sockets).toHaveLength(1);
    expect(t.net.last.url).toBe("ws://parley.test/api/test/ws");
    expect(t.transport.status).toBe("connecting");
    expect(t.connection.state).toBe("connecting");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    onTestFinished(() => warn.mockRestore());
    t.net.last.open().receive({ type: "hi", n: 1 }).receive("not json").receive({ type: "other" }).receive(PONG_FRAME).receive({ type: "hi", n: 2 });
    expect(t.frames).toEqual([
      { type: "hi", n: 1 },
      { type: "hi", n: 2 },
    ]);
    expect(warn).toHaveBeenCalledTimes(2);
    t.transport.up();
    expect(t.transport.status).toBe("up");
    expect(t.connection.state).toBe("connected");
    expect(t.transport.send("x")).toBe(true);
    expect(t.net.last.sent).toEqual(["x"]);
  });

  it("asks for the path before every attempt (so a resume can carry after=)", async () => {
    let after = 3;
    const t = setup({ path: () => `/api/test/ws?after=${after}` });
    t.transport.start();
    bringUp(t);
    after = 7;
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.net.sockets.map((s) => s.after)).toEqual(["3", "7"]);
  });
});

describe("Transport: backoff", () => {
  it("waits a jittered, doubling step between attempts, and starts over once up", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    t.net.last.drop(1012);
    expect(t.transport.status).toBe("down");
    expect(t.downs).toEqual([true]);
    // A healthy connection dropped: "connecting", first retry after 0.5 × 1 s.
    expect(t.connection.state).toBe("connecting");
    await vi.advanceTimersByTimeAsync(499);
    expect(t.net.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.net.sockets).toHaveLength(2);

    // That attempt fails without a word: "offline", and the next step is 0.5 × 2 s.
    t.net.last.drop();
    expect(t.connection.state).toBe("offline");
    await vi.advanceTimersByTimeAsync(999);
    expect(t.net.sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.net.sockets).toHaveLength(3);
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(1_999);
    expect(t.net.sockets).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.net.sockets).toHaveLength(4);

    // Up again: the next drop waits the first step once more.
    bringUp(t);
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(500);
    expect(t.net.sockets).toHaveLength(5);
  });

  it("4029 (too many sockets) jumps to the longest step", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    t.net.last.drop(CLOSE.tooManyConnections);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(t.net.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.net.sockets).toHaveLength(2);
  });

  it("1008 ends it for good: onend with the reason, no reconnect, no polling, \"offline\"", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    t.net.last.drop(CLOSE.policy, "signed out");
    expect(t.ends).toEqual(["signed out"]);
    expect(t.transport.status).toBe("ended");
    expect(t.connection.state).toBe("offline");
    await vi.advanceTimersByTimeAsync(120_000);
    t.browser.goOnline();
    expect(t.net.sockets).toHaveLength(1);
    expect(t.polls()).toBe(0);
  });
});

describe("Transport: online, offline and visibility", () => {
  it("offline drops the socket and waits; `online` reconnects at once", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    t.browser.goOffline();
    expect(t.net.last.closedWith).not.toBeNull();
    expect(t.transport.status).toBe("down");
    expect(t.connection.state).toBe("offline");
    // No attempts while the browser says it is offline.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.net.sockets).toHaveLength(1);
    t.browser.goOnline();
    expect(t.net.sockets).toHaveLength(2);
    expect(t.transport.status).toBe("connecting");
  });

  it("starting offline makes no attempt until `online`", () => {
    const t = setup();
    t.browser.onLine = false;
    t.transport.start();
    expect(t.net.sockets).toHaveLength(0);
    expect(t.connection.state).toBe("offline");
    t.browser.goOnline();
    expect(t.net.sockets).toHaveLength(1);
  });

  it("a tab becoming visible skips the backoff wait; a visible tab that is up checks its socket with a ping", async () => {
    const t = setup({ random: () => 0.99 });
    t.transport.start();
    bringUp(t);
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(t.net.sockets).toHaveLength(1);
    t.browser.becomeVisible();
    expect(t.net.sockets).toHaveLength(2);

    bringUp(t);
    t.browser.becomeVisible();
    expect(t.net.sockets).toHaveLength(2);
    expect(t.net.last.pings).toBe(1);
    // …and that ping needs its pong like any other.
    await vi.advanceTimersByTimeAsync(HEARTBEAT.pongTimeoutMs);
    expect(t.net.last.closedWith?.code).toBe(CLOSE.idle);
  });
});

describe("Transport: heartbeat", () => {
  it("pings every 15 s; a missing pong closes the socket and reconnects", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    const first = t.net.last;
    await vi.advanceTimersByTimeAsync(HEARTBEAT.pingMs);
    expect(first.sent).toEqual([PING_FRAME]);
    await vi.advanceTimersByTimeAsync(HEARTBEAT.pongTimeoutMs - 1);
    expect(first.closedWith).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(first.closedWith).toEqual({ code: CLOSE.idle, reason: "unresponsive" });
    expect(t.transport.status).toBe("down");
    await vi.advanceTimersByTimeAsync(500);
    expect(t.net.sockets).toHaveLength(2);
  });

  it("a pong in time keeps the socket", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    for (let i = 0; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(HEARTBEAT.pingMs);
      t.net.last.receive(PONG_FRAME);
    }
    await vi.advanceTimersByTimeAsync(HEARTBEAT.pongTimeoutMs);
    expect(t.net.last.pings).toBe(4);
    expect(t.net.last.closedWith).toBeNull();
    expect(t.net.sockets).toHaveLength(1);
    expect(t.transport.status).toBe("up");
  });

  it("an attempt that hears nothing within the pong timeout is given up and retried", async () => {
    const t = setup();
    t.transport.start();
    t.net.last.open();
    await vi.advanceTimersByTimeAsync(HEARTBEAT.pongTimeoutMs);
    expect(t.net.last.closedWith?.code).toBe(CLOSE.idle);
    expect(t.connection.state).toBe("offline");
    await vi.advanceTimersByTimeAsync(500);
    expect(t.net.sockets).toHaveLength(2);
  });
});

describe("Transport: polling", () => {
  it("polls only while not up, and never while the browser is offline", async () => {
    const t = setup();
    t.transport.start();
    bringUp(t);
    await stayUp(t, 60_000);
    expect(t.net.sockets).toHaveLength(1);
    expect(t.polls()).toBe(0);

    t.net.last.drop();
    // Down (and reconnecting, not up yet): a round every 5 s.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.polls()).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.polls()).toBe(2);

    bringUp(t);
    await stayUp(t, 60_000);
    expect(t.polls()).toBe(2);

    t.browser.goOffline();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t.polls()).toBe(2);
    t.browser.onLine = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.polls()).toBe(3);
  });

  it("pollNow runs a round at once", async () => {
    const t = setup();
    t.transport.start();
    t.transport.pollNow();
    await flush();
    expect(t.polls()).toBe(1);
  });
});

describe("Transport: dispose", () => {
  it("closes the socket and stops every timer and listener, and leaves the indicator", async () => {
    const t = setup();
    t.connection.set("connected", "badge");
    t.transport.start();
    bringUp(t);
    t.net.last.drop();
    await vi.advanceTimersByTimeAsync(500);
    const second = t.net.last;
    second.open().receive({ type: "hi", n: 1 });
    expect(t.connection.state).toBe("connecting");

    t.transport.dispose();
    expect(second.closedWith).toEqual({ code: 1000, reason: "bye" });
    expect(t.transport.status).toBe("ended");
    expect(t.browser.listening).toBe(false);
    // Only the badge is left in the indicator.
    expect(t.connection.state).toBe("connected");
    t.browser.goOnline();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.net.sockets).toHaveLength(2);
    expect(second.pings).toBe(0);
    expect(t.polls()).toBe(0);
    expect(t.transport.send("late")).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
