// The signed-in layout (issue #14): a rooms sidebar beside the room on wide
// screens (rooms, then direct messages, each with its count, and the total),
// a drawer and Chat / Members / Files tabs on a phone with nothing
// overflowing sideways, and a rooms list ordered by latest activity that
// reorders and re-previews itself live. Setup goes through the HTTP API;
// what is checked is what the page shows.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { BASE_URL, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: events cross a loaded 2-core machine. */
const LIVE = 20_000;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** An API call as `p` (their session cookie, the app's Origin); answers the JSON body. */
async function api(p: Person, method: string, path: string, data?: unknown): Promise<Record<string, unknown>> {
  const res = await p.page.request.fetch(`${BASE_URL}${path}`, { method, data, headers: { Origin: BASE_URL } });
  assert.ok(res.ok(), `${method} ${path}: ${res.status()} ${await res.text()}`);
  return res.status() === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

/** `owner` creates a room with `others` in it; answers its id. */
async function room(owner: Person, name: string, ...others: Person[]): Promise<string> {
  const { room } = (await api(owner, "POST", "/api/rooms", { name })) as { room: { id: string } };
  for (const o of others) await api(owner, "POST", `/api/rooms/${room.id}/members`, { username: o.name });
  return room.id;
}

const say = (p: Person, roomId: string, text: string) => api(p, "POST", `/api/rooms/${roomId}/messages`, { clientId: randomUUID(), text });

async function upload(p: Person, roomId: string, name: string, body: string): Promise<void> {
  const res = await p.page.request.post(`${BASE_URL}/api/rooms/${roomId}/files`, {
    headers: { Origin: BASE_URL },
    multipart: { clientId: randomUUID(), description: "", file: { name, mimeType: "text/plain", buffer: Buffer.from(body) } },
  });
  assert.ok(res.ok(), `upload: ${res.status()} ${await res.text()}`);
}

async function connected(page: Page): Promise<void> {
  await page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: LIVE });
}

async function countIs(page: Page, selector: string, n: number): Promise<void> {
  await page
    .waitForFunction(([sel, want]) => document.querySelector(sel as string)?.getAttribute("data-count") === String(want), [selector, n] as const, {
      timeout: LIVE,
    })
    .catch(async (err: unknown) => {
      const have = await page.evaluate((sel) => document.querySelector(sel)?.getAttribute("data-count"), selector);
      throw new Error(`${selector}: want ${n}, have ${have} (${String(err)})`);
    });
}

/** The sidebar's room ids in display order. */
const order = (page: Page) =>
  page.$$eval('[data-testid="room-sidebar"] [data-testid="room-link"]', (els) => els.map((el) => el.getAttribute("data-room-id")));

async function orderIs(page: Page, ids: string[]): Promise<void> {
  await page
    .waitForFunction(
      (want) =>
        JSON.stringify([...document.querySelectorAll('[data-testid="room-sidebar"] [data-testid="room-link"]')].map((el) => el.getAttribute("data-room-id"))) ===
        JSON.stringify(want),
      ids,
      { timeout: LIVE },
    )
    .catch(async (err: unknown) => {
      throw new Error(`rooms order: want ${ids.join(", ")}, have ${(await order(page)).join(", ")} (${String(err)})`);
    });
}

/** Nothing on the page is wider than the viewport. */
async function noSidewaysScroll(page: Page, where: string): Promise<void> {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  assert.ok(scroll <= inner, `${where}: the page is ${scroll}px wide in a ${inner}px viewport`);
}

async function mark(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { parleyMarker: string }).parleyMarker = "same page"));
}

async function notReloaded(page: Page): Promise<void> {
  assert.equal(await page.evaluate(() => (window as unknown as { parleyMarker?: string }).parleyMarker), "same page", "the page was not reloaded");
}

const link = (page: Page, roomId: string) => page.locator(`[data-testid="room-sidebar"] [data-room-id="${roomId}"]`);

test("desktop: the sidebar beside the room lists rooms, then direct messages, each with its count, and the total", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  const atlas = await room(alice, "Atlas", bob);
  const zephyr = await room(alice, "Zephyr", bob);
  const { room: dm } = (await api(alice, "POST", "/api/dm", { username: bob.name })) as { room: { id: string } };
  await say(alice, zephyr, "first");
  await say(alice, zephyr, "second");
  await say(alice, dm.id, "a word in private");

  await bob.page.goto(`/rooms/${atlas}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Atlas" }).waitFor();
  await connected(bob.page);
  const sidebar = bob.page.getByTestId("room-sidebar");
  await sidebar.waitFor();

  // Rooms first (newest activity on top), then the DM in its own section, named after the person.
  const rooms = sidebar.getByRole("region", { name: "Rooms" });
  const dms = sidebar.getByRole("region", { name: "Direct messages" });
  await orderIs(bob.page, [zephyr, atlas]);
  assert.equal(await rooms.getByTestId("dm-link").count(), 0);
  assert.equal(await dms.getByTestId("room-link").count(), 0);
  const dmLink = dms.locator(`[data-testid="dm-link"][data-room-id="${dm.id}"]`);
  assert.equal(await dmLink.getByTestId("room-name").textContent(), alice.name);
  const roomsBox = await rooms.boundingBox();
  const dmsBox = await dms.boundingBox();
  assert.ok(roomsBox && dmsBox && roomsBox.y + roomsBox.height <= dmsBox.y, "the DMs come below the rooms");

  // Counts per room and DM, the total in the sidebar and in the top bar; the open room is marked.
  await countIs(bob.page, `[data-testid="room-link"][data-room-id="${zephyr}"] [data-testid="room-unread"]`, 2);
  await countIs(bob.page, `[data-testid="dm-link"][data-room-id="${dm.id}"] [data-testid="room-unread"]`, 1);
  await countIs(bob.page, '[data-testid="sidebar-total"]', 3);
  await countIs(bob.page, '[data-testid="unread-badge"]', 3);
  assert.equal(await link(bob.page, atlas).getAttribute("aria-current"), "page");
  assert.equal(await link(bob.page, zephyr).getByTestId("room-preview").textContent(), `${alice.name}: second`);
  assert.equal(await dmLink.getByTestId("room-preview").textContent(), "a word in private");

  // Beside the room, not above it; members and files beside the chat (no tabs at this width).
  const side = await sidebar.boundingBox();
  const title = await bob.page.getByTestId("room-title").boundingBox();
  assert.ok(side && title && side.x + side.width <= title.x, "the sidebar is left of the room");
  assert.equal(await bob.page.getByRole("tablist").count(), 0);
  await bob.page.getByTestId("files-panel").waitFor();
  await bob.page.getByTestId("member").filter({ hasText: alice.name }).waitFor();
  assert.equal(await bob.page.getByTestId("drawer-toggle").isVisible(), false);
  await noSidewaysScroll(bob.page, "desktop room");
  await screenshot(bob.page, "60-layout-desktop-sidebar");

  // The sidebar's links switch rooms without reloading the page.
  await mark(bob.page);
  await link(bob.page, zephyr).click();
  await bob.page.waitForURL(`**/rooms/${zephyr}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Zephyr" }).waitFor();
  await bob.page.waitForFunction((id) => document.querySelector(`[data-room-id="${id}"]`)?.getAttribute("aria-current") === "page", zephyr);
  await notReloaded(bob.page);

  // The rooms page uses the same shell: the sidebar, and no second list of the same rooms.
  await bob.page.goto("/rooms");
  await link(bob.page, atlas).waitFor();
  assert.equal(await bob.page.locator(`[data-testid="room-link"][data-room-id="${atlas}"]`).count(), 1);
  await bob.page.getByTestId("room-name-input").waitFor();
  await bob.page.getByTestId("dm-username").waitFor();
  await screenshot(bob.page, "61-layout-desktop-rooms");

  await alice.context.close();
  await bob.context.close();
});

test("phone (390 x 844): a drawer for the rooms, tabs for chat, members and files, nothing wider than the screen", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  const other = await room(alice, "Other room", bob);
  const roomId = await room(alice, "A rather long room name for a small phone screen", bob);
  await say(alice, roomId, "Hello! Here is the plan for the week, with enough words to wrap over a few lines on a phone.");
  await say(alice, roomId, `A long link: https://example.com/${"x".repeat(120)}`);
  await upload(alice, roomId, `quarterly-report-with-a-long-file-name-${"y".repeat(40)}.txt`, "numbers");
  await bob.page.setViewportSize(PHONE);

  // The rooms page: the list is on the page itself (no drawer needed).
  await bob.page.goto("/rooms");
  const sidebar = bob.page.getByTestId("room-sidebar");
  await link(bob.page, roomId).waitFor();
  await connected(bob.page);
  await noSidewaysScroll(bob.page, "rooms page");
  assert.equal(await bob.page.getByTestId("drawer-toggle").count(), 0);
  await screenshot(bob.page, "62-layout-phone-rooms");

  // A room with messages and a file: no sidebar, a labelled drawer button instead.
  await link(bob.page, roomId).click();
  await bob.page.getByTestId("message").filter({ hasText: "A long link" }).waitFor();
  await connected(bob.page);
  assert.equal(await sidebar.count(), 0);
  const toggle = bob.page.getByRole("button", { name: /^Rooms/ });
  assert.equal(await toggle.getAttribute("aria-expanded"), "false");
  await noSidewaysScroll(bob.page, "room");
  await screenshot(bob.page, "63-layout-phone-room");

  // The drawer: opens with the focus inside it, closes on Escape with the focus back on the button.
  await toggle.click();
  await sidebar.waitFor();
  assert.equal(await toggle.getAttribute("aria-expanded"), "true");
  await link(bob.page, other).waitFor();
  assert.ok(await bob.page.evaluate(() => !!document.activeElement?.closest("#room-drawer")), "the focus is in the drawer");
  await noSidewaysScroll(bob.page, "drawer");
  await screenshot(bob.page, "64-layout-phone-drawer");
  await bob.page.keyboard.press("Escape");
  await sidebar.waitFor({ state: "detached" });
  assert.equal(await toggle.getAttribute("aria-expanded"), "false");
  assert.equal(await bob.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "drawer-toggle");
  // Its close button does the same; a link in it goes to the room and closes it.
  await toggle.click();
  await bob.page.getByTestId("drawer-close").click();
  await sidebar.waitFor({ state: "detached" });
  assert.equal(await bob.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "drawer-toggle");
  await toggle.click();
  await link(bob.page, other).click();
  await bob.page.waitForURL(`**/rooms/${other}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Other room" }).waitFor();
  await sidebar.waitFor({ state: "detached" });
  assert.equal(await toggle.getAttribute("aria-expanded"), "false");
  await bob.page.goBack();
  await bob.page.getByTestId("message").filter({ hasText: "A long link" }).waitFor();

  // Tabs: Chat first, then Members and Files, each a tabpanel labelled by its tab.
  const tablist = bob.page.getByRole("tablist", { name: "Room" });
  const tab = (name: string) => tablist.getByRole("tab", { name: new RegExp(`^${name}`) });
  assert.equal(await tablist.getByRole("tab").count(), 3);
  assert.equal(await tab("Chat").getAttribute("aria-selected"), "true");
  assert.ok(await bob.page.getByTestId("message-list").isVisible());
  assert.equal(await bob.page.getByTestId("member").first().isVisible(), false);

  await tab("Members").click();
  const members = bob.page.getByRole("tabpanel", { name: /^Members/ });
  await members.getByTestId("member").filter({ hasText: alice.name }).waitFor();
  assert.equal(await tab("Members").getAttribute("aria-selected"), "true");
  assert.equal(await tab("Chat").getAttribute("aria-selected"), "false");
  assert.equal(await bob.page.getByTestId("message-list").isVisible(), false);
  await noSidewaysScroll(bob.page, "members tab");
  await screenshot(bob.page, "65-layout-phone-members");

  await tab("Files").click();
  await bob.page.getByRole("tabpanel", { name: /^Files/ }).getByTestId("file-item").waitFor();
  assert.equal(await members.count(), 0, "only the selected tab's panel is shown");
  await noSidewaysScroll(bob.page, "files tab");
  await screenshot(bob.page, "66-layout-phone-files");

  // Arrow keys move between the tabs.
  await tab("Files").press("ArrowLeft");
  assert.equal(await tab("Members").getAttribute("aria-selected"), "true");
  assert.equal(await bob.page.evaluate(() => document.activeElement?.textContent?.trim().startsWith("Members")), true);
  await tab("Members").press("ArrowLeft");
  assert.equal(await tab("Chat").getAttribute("aria-selected"), "true");

  // In between (1000 px): the sidebar is back beside the room, members and files are still tabs.
  await bob.page.setViewportSize({ width: 1000, height: 800 });
  await sidebar.waitFor();
  await tablist.waitFor();
  await noSidewaysScroll(bob.page, "1000px room");
  await screenshot(bob.page, "68-layout-1000-sidebar-and-tabs");
  // Wide: no tabs, everything side by side.
  await bob.page.setViewportSize(DESKTOP);
  await tablist.waitFor({ state: "detached" });
  await bob.page.getByTestId("files-panel").waitFor();
  assert.ok(await bob.page.getByTestId("message-list").isVisible());

  await alice.context.close();
  await bob.context.close();
});

test("the rooms list is ordered by latest activity and reorders live, with previews, for every member", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  const one = await room(alice, "One", bob);
  const two = await room(alice, "Two", bob);
  const three = await room(alice, "Three", bob);

  for (const p of [alice, bob]) {
    await p.page.goto("/rooms");
    await link(p.page, three).waitFor();
    await connected(p.page);
    await mark(p.page);
  }
  // Nothing said yet: the newest room first.
  await orderIs(bob.page, [three, two, one]);

  // From here on the list changes without being fetched again.
  const fetches: string[] = [];
  bob.page.on("request", (r) => {
    if (r.method() === "GET" && new URL(r.url()).pathname === "/api/rooms") fetches.push(r.url());
  });

  // A message in the oldest room moves it to the top, with who said what.
  await say(alice, one, "news from room one");
  await orderIs(bob.page, [one, three, two]);
  await link(bob.page, one).getByTestId("room-preview").filter({ hasText: `${alice.name}: news from room one` }).waitFor({ timeout: LIVE });
  await screenshot(bob.page, "67-layout-live-order");

  // A file moves its room up too.
  await upload(alice, two, "notes.txt", "some notes");
  await orderIs(bob.page, [two, one, three]);

  // Bob writes in One from its page: his own list moves it up (no frame comes to the author), and so does Alice's.
  await link(bob.page, one).click();
  await bob.page.getByTestId("room-title").filter({ hasText: "One" }).waitFor();
  await connected(bob.page);
  await bob.page.getByTestId("composer").fill("one is back");
  await bob.page.getByTestId("composer").press("Enter");
  await orderIs(bob.page, [one, two, three]);
  await link(bob.page, one).getByTestId("room-preview").filter({ hasText: "You: one is back" }).waitFor({ timeout: LIVE });
  await alice.page.waitForFunction(
    (id) => document.querySelector('[data-testid="room-sidebar"] [data-testid="room-link"]')?.getAttribute("data-room-id") === id,
    one,
    { timeout: LIVE },
  );
  await link(alice.page, one).getByTestId("room-preview").filter({ hasText: `${bob.name}: one is back` }).waitFor({ timeout: LIVE });

  // Renamed live as well (Bob is in another room: the badge socket brings it).
  await api(alice, "PATCH", `/api/rooms/${two}`, { name: "Two, renamed" });
  await link(bob.page, two).getByTestId("room-name").filter({ hasText: "Two, renamed" }).waitFor({ timeout: LIVE });

  assert.deepEqual(fetches, [], "the list was never fetched again");
  await notReloaded(bob.page);
  await notReloaded(alice.page);
  await alice.context.close();
  await bob.context.close();
});
