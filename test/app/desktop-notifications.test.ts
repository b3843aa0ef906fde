/**
 * Desktop notifications (issue #15): a muted room gives none — except a
 * mention of me, which says so; the room open in a visible tab gives none.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RoomSummary } from "#protocol";

const shown: { title: string; body: string }[] = [];

beforeEach(() => {
  shown.length = 0;
  class FakeNotification {
    static permission: NotificationPermission = "granted";
    static requestPermission = async () => "granted" as NotificationPermission;
    onclick: (() => void) | null = null;
    constructor(title: string, opts: { body: string }) {
      shown.push({ title, body: opts.body });
    }
  }
  vi.stubGlobal("Notification", FakeNotification);
  vi.stubGlobal("window", globalThis);
  vi.stubGlobal("document", { visibilityState: "visible" });
  vi.stubGlobal("location", { pathname: "/rooms" });
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

const room = (id: string, muted: boolean): RoomSummary => ({
  id,
  name: id,
  ownerId: "o",
  createdAt: 1,
  role: "member",
  memberCount: 2,
  unread: 0,
  kind: "room",
  lastActivityAt: 1,
  preview: null,
  muted,
});

async function setup() {
  const { rooms } = await import("#lib/rooms.svelte.ts");
  const { DesktopNotifications } = await import("#lib/desktop-notifications.svelte.ts");
  rooms.upsert(room("loud", false));
  rooms.upsert(room("quiet", true));
  return new DesktopNotifications();
}

describe("DesktopNotifications.roomActivity", () => {
  it("notifies for a room I am not viewing; not for the one open in a visible tab", async () => {
    const n = await setup();
    n.roomActivity("loud", 2);
    expect(shown).toEqual([{ title: "#loud", body: "2 new messages in #loud" }]);
    vi.stubGlobal("location", { pathname: "/rooms/loud" });
    n.roomActivity("loud", 1);
    expect(shown).toHaveLength(1);
  });

  it("a muted room stays silent, unless I was mentioned there", async () => {
    const n = await setup();
    n.roomActivity("quiet", 3);
    expect(shown).toEqual([]);
    n.roomActivity("quiet", 1, true);
    expect(shown).toEqual([{ title: "#quiet", body: "You were mentioned in #quiet" }]);
  });
});
