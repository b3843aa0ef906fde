/** A badge-socket test client and a polling wait, shared by the badge and cost tests. */
import { exports } from "cloudflare:workers";
import { HubFrame, type NotificationCountUpdate } from "#protocol";
import { ORIGIN, type TestUser } from "./helpers";
export { pollUntil as eventually } from "./helpers";

/** A badge socket (`/api/me/ws`), i.e. one open tab of a user, on any page. */
export class BadgeTab {
  readonly frames: NotificationCountUpdate[] = [];
  readonly raw: unknown[] = [];
  /** Every parsed frame (counts and rooms-list frames). */
  readonly all: HubFrame[] = [];
  /** How the server closed it, once it has. */
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
    });
    ws.addEventListener("message", (e) => {
      const parsed = JSON.parse(e.data as string);
      this.raw.push(parsed);
      const frame = HubFrame.parse(parsed);
      this.all.push(frame);
      if (frame.type === "notification_count_update") this.frames.push(frame);
    });
  }
  static async open(user: TestUser): Promise<BadgeTab> {
    const res = await exports.default.fetch(
      new Request(`${ORIGIN}/api/me/ws`, { headers: { Upgrade: "websocket", Origin: ORIGIN, Cookie: user.cookie } }),
    );
    if (!res.webSocket) throw new Error(`badge upgrade refused: ${res.status}`);
    res.webSocket.accept();
    const tab = new BadgeTab(res.webSocket);
    await tab.until(() => tab.frames.some((f) => f.full), "the initial full count");
    return tab;
  }
  get last(): NotificationCountUpdate | undefined {
    return this.frames.at(-1);
  }
  async until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}; frames ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  close(): void {
    this.ws.close(1000);
  }
  /** Resolves once the server has seen the close (the socket reports closed). */
  async closedLocally(): Promise<void> {
    await this.until(() => this.ws.readyState === WebSocket.CLOSED, "the socket to close");
  }
}
