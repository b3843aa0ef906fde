import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { away, launch, person, screenshot, signUp } from "./lib.ts";

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const count = async (page: Page, testId: string) => Number(await page.getByTestId(testId).first().getAttribute("data-count"));
/** Wait until an element's data-count equals `n`. */
async function countIs(page: Page, selector: string, n: number): Promise<void> {
  await page.waitForFunction(([sel, want]) => document.querySelector(sel as string)?.getAttribute("data-count") === String(want), [selector, n], {
    timeout: 15_000,
  });
}

test("ORIGIN case 1, strengthened: badges move in every tab with the number in the event; mark read; receipts; no re-fetch", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);

  // Alice makes a room with Bob and opens it.
  await alice.page.getByTestId("room-name-input").fill("Badges");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Badges" });
  const roomId = (await link.getAttribute("data-room-id"))!;
  await link.click();
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();

  // Bob: tab 1 in the room, tab 2 on the rooms list.
  const bobRoom = bob.page;
  await bobRoom.goto(`/rooms/${roomId}`);
  await bobRoom.getByTestId("room-title").filter({ hasText: "Badges" }).waitFor();
  const bobList = await bob.context.newPage();
  await bobList.goto("/rooms");
  const roomUnread = `[data-testid="room-link"][data-room-id="${roomId}"] [data-testid="room-unread"]`;
  await bobList.locator(roomUnread).waitFor();
  for (const p of [alice.page, bobRoom, bobList]) await p.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: 15_000 });
  const before = await count(bobList, "unread-badge");
  // Bob has the room open but is not looking at that tab (reading it would mark the message read at once).
  await away(bobRoom);

  // From here on, no client may make an API request because a count changed.
  const requests: string[] = [];
  for (const p of [alice.page, bobRoom, bobList]) {
    p.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/api/")) requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
  }

  await alice.page.getByTestId("composer").fill("Did you see the plan?");
  await alice.page.getByTestId("composer").press("Enter");
  await countIs(bobRoom, '[data-testid="unread-badge"]', before + 1);
  await countIs(bobList, '[data-testid="unread-badge"]', before + 1);
  await countIs(bobList, roomUnread, 1);
  assert.equal(await bobList.title(), `(${before + 1}) Parley`);
  await screenshot(bobRoom, "10-badge-unread");

  // Bob marks it read in the room tab: both tabs drop, and Alice sees the receipt.
  const message = bobRoom.getByTestId("message").filter({ hasText: "Did you see the plan?" });
  await message.getByTestId("mark-read").click();
  await countIs(bobRoom, '[data-testid="unread-badge"]', before);
  await countIs(bobList, '[data-testid="unread-badge"]', before);
  await countIs(bobList, roomUnread, 0);
  await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).waitFor();
  assert.equal(await message.getByTestId("mark-read").count(), 0);
  await screenshot(alice.page, "11-receipt");

  assert.deepEqual(requests, [], "a badge change triggers no request from any client");
  await alice.context.close();
  await bob.context.close();
});

test("mark unread from here and mark all as read move the badge both ways", async () => {
  const alice = await person(browser, "ann");
  const bob = await person(browser, "ben");
  await signUp(alice);
  await signUp(bob);
  await alice.page.getByTestId("room-name-input").fill("Cursor");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Cursor" });
  const roomId = (await link.getAttribute("data-room-id"))!;
  await link.click();
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();
  await bob.page.goto(`/rooms/${roomId}`);
  await bob.page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: 15_000 });
  // Bob has the room open but is not looking (else reading would mark each message read as it comes).
  await away(bob.page);
  for (const t of ["one", "two", "three"]) {
    await alice.page.getByTestId("composer").fill(t);
    await alice.page.getByTestId("composer").press("Enter");
  }
  await countIs(bob.page, '[data-testid="unread-badge"]', 3);
  await bob.page.getByTestId("new-messages-divider").waitFor();
  await bob.page.getByTestId("mark-all-read").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 0);
  assert.equal(await bob.page.getByTestId("new-messages-divider").count(), 0);
  const two = bob.page.getByTestId("message").filter({ hasText: "two" });
  await two.hover();
  await two.getByTestId("mark-unread").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 2);
  await bob.page.getByTestId("new-messages-divider").waitFor();
  await alice.context.close();
  await bob.context.close();
});

test("desktop notifications: asked for by a button, shown for rooms you are not viewing", async () => {
  const alice = await person(browser, "amy");
  const bob = await person(browser, "bill");
  // A stand-in Notification API that records what would be shown.
  await bob.context.addInitScript(() => {
    const shown: { title: string; body: string }[] = [];
    (window as unknown as { __shown: typeof shown }).__shown = shown;
    class FakeNotification {
      static permission: NotificationPermission = "default";
      static async requestPermission() {
        FakeNotification.permission = "granted";
        return "granted" as NotificationPermission;
      }
      onclick: (() => void) | null = null;
      constructor(title: string, opts?: NotificationOptions) {
        shown.push({ title, body: opts?.body ?? "" });
      }
    }
    (window as unknown as { Notification: unknown }).Notification = FakeNotification;
  });
  await signUp(alice);
  await signUp(bob);
  await alice.page.getByTestId("room-name-input").fill("Pings");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Pings" });
  await link.click();
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();

  await bob.page.goto("/rooms");
  await bob.page.getByTestId("room-link").filter({ hasText: "Pings" }).waitFor();
  const shown = () => bob.page.evaluate(() => (window as unknown as { __shown: { title: string; body: string }[] }).__shown);
  await bob.page.getByTestId("notifications-enable").click();
  await bob.page.getByTestId("notifications-enable").waitFor({ state: "detached" });
  await bob.page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: 15_000 });
  await alice.page.getByTestId("composer").fill("ping");
  await alice.page.getByTestId("composer").press("Enter");
  await countIs(bob.page, '[data-testid="unread-badge"]', 1);
  await bob.page.waitForFunction(() => (window as unknown as { __shown: unknown[] }).__shown.length === 1, undefined, { timeout: 15_000 });
  assert.deepEqual(await shown(), [{ title: "#Pings", body: "1 new message in #Pings" }]);
  await alice.context.close();
  await bob.context.close();
});
