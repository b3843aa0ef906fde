// Rooms change live for everyone: renames, members joining and leaving (room
// events on the room socket), rooms appearing in, being renamed in and
// disappearing from my list (badge-socket frames), and read receipts that
// moved while a socket was down (the `receipts` frame on reconnect). Nothing
// here reloads a page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { randomUUID } from "node:crypto";
import type { Browser, Page, WebSocketRoute } from "playwright-core";
import { away, BASE_URL, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: events cross a loaded 2-core machine; reconnecting can take a backoff step or two. */
const LIVE = 20_000;
const RECOVERY = 30_000;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function connected(page: Page, timeout = LIVE): Promise<void> {
  await page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout });
}

/** Wait until the element matching `selector` has `data-count` = `n`. */
async function countIs(page: Page, selector: string, n: number): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel as string)?.getAttribute("data-count") === String(want),
    [selector, n] as const,
    { timeout: LIVE },
  );
}

/** Mark the page so a later check can tell it was never reloaded. */
async function mark(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { parleyMarker: string }).parleyMarker = "same page";
  });
}

async function notReloaded(page: Page, who: string): Promise<void> {
  const marker = await page.evaluate(() => (window as unknown as { parleyMarker?: string }).parleyMarker);
  assert.equal(marker, "same page", `${who}'s page was not reloaded`);
}

/** On the rooms page: create a room, open it, return its id. */
async function createRoom(owner: Person, name: string): Promise<string> {
  await owner.page.goto("/rooms");
  await owner.page.getByTestId("room-name-input").fill(name);
  await owner.page.getByTestId("room-create").click();
  const link = owner.page.getByTestId("room-link").filter({ hasText: name });
  await link.waitFor();
  const roomId = await link.getAttribute("data-room-id");
  assert.ok(roomId, "room link carries its id");
  await link.click();
  await owner.page.waitForURL(`**/rooms/${roomId}`);
  await owner.page.getByTestId("room-title").filter({ hasText: name }).waitFor();
  await connected(owner.page);
  return roomId;
}

/** On the room page (owner): add someone by username and wait for them in the panel. */
async function addMember(owner: Person, who: Person): Promise<void> {
  await owner.page.getByTestId("member-username").fill(who.name);
  await owner.page.getByTestId("member-add").click();
  await owner.page.getByTestId("member").filter({ hasText: who.name }).waitFor();
}

/** On the room page (owner): remove someone and wait for them to leave the panel. */
async function removeMember(owner: Person, who: Person): Promise<void> {
  const row = owner.page.getByTestId("member").filter({ hasText: who.name });
  await row.getByTestId("member-remove").click();
  await row.waitFor({ state: "detached" });
}

/** On the room page (owner): rename the room through the header. */
async function rename(owner: Person, name: string): Promise<void> {
  await owner.page.getByTestId("room-rename").click();
  await owner.page.getByTestId("room-rename-input").fill(name);
  await owner.page.getByTestId("room-rename-save").click();
  await owner.page.getByTestId("room-title").filter({ hasText: name }).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId("composer");
  await composer.fill(text);
  await composer.press("Enter");
  await page.locator('[data-testid="message"][data-seq]').filter({ hasText: text }).waitFor({ timeout: LIVE });
}

/** Members shown in a page's panel, by username. */
const memberNames = (page: Page) =>
  page.$$eval('[data-testid="member"] .name', (els) => els.map((el) => el.textContent?.trim() ?? "").sort());

test("live room: a rename and members joining and leaving reach a member's open room page without a reload", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  const carol = await person(browser, "carol");
  await signUp(alice);
  await signUp(bob);
  await signUp(carol);

  const roomId = await createRoom(alice, "Roadmap");
  await addMember(alice, bob);
  await bob.page.goto(`/rooms/${roomId}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Roadmap" }).waitFor();
  await connected(bob.page);
  await bob.page.locator('[data-testid="member"][data-online="true"]').filter({ hasText: alice.name }).waitFor({ timeout: LIVE });
  await mark(bob.page);
  const badgeBefore = await bob.page.getByTestId("unread-badge").getAttribute("data-count");

  // Alice renames the room: Bob's title changes by itself.
  await rename(alice, "Roadmap 2027");
  await bob.page.getByTestId("room-title").filter({ hasText: "Roadmap 2027" }).waitFor({ timeout: LIVE });
  await screenshot(bob.page, "40-live-renamed-member");
  await screenshot(alice.page, "41-live-renamed-owner");

  // Alice adds Carol: she appears in Bob's members panel, and the header counts her.
  await addMember(alice, carol);
  await bob.page.getByTestId("member").filter({ hasText: carol.name }).waitFor({ timeout: LIVE });
  assert.deepEqual(await memberNames(bob.page), [alice.name, bob.name, carol.name].sort());
  await bob.page.locator(".room-header .meta").filter({ hasText: "3 members" }).waitFor({ timeout: LIVE });
  await screenshot(bob.page, "42-live-member-joined");

  // Alice removes Carol: she disappears from Bob's panel.
  await removeMember(alice, carol);
  await bob.page.getByTestId("member").filter({ hasText: carol.name }).waitFor({ state: "detached", timeout: LIVE });
  assert.deepEqual(await memberNames(bob.page), [alice.name, bob.name].sort());
  await bob.page.locator(".room-header .meta").filter({ hasText: "2 members" }).waitFor({ timeout: LIVE });

  // None of that is unread for Bob, and his page never reloaded.
  assert.equal(await bob.page.getByTestId("unread-badge").getAttribute("data-count"), badgeBefore);
  assert.equal(await bob.page.getByTestId("new-messages-divider").count(), 0);
  await notReloaded(bob.page, "Bob");

  await alice.context.close();
  await bob.context.close();
  await carol.context.close();
});

test("live room list: added, renamed and removed rooms show up on the rooms page at once, and the badge drops a removed room", async () => {
  const alice = await person(browser, "ava");
  const carol = await person(browser, "cleo");
  await signUp(alice);
  await signUp(carol);

  // Carol is already in one room with an unread message: it must stay counted throughout.
  const otherId = await createRoom(alice, "Other");
  await addMember(alice, carol);
  await send(alice.page, "hello from the other room");
  await carol.page.goto("/rooms");
  const otherLink = carol.page.locator(`[data-testid="room-link"][data-room-id="${otherId}"]`);
  await otherLink.waitFor();
  await connected(carol.page);
  await countIs(carol.page, '[data-testid="unread-badge"]', 1);
  await mark(carol.page);

  // From here on, Carol's page must not re-fetch her room list: the changes arrive on the badge socket.
  const listFetches: string[] = [];
  carol.page.on("request", (r) => {
    const url = new URL(r.url());
    if (r.method() === "GET" && url.pathname === "/api/rooms") listFetches.push(url.pathname);
  });

  // Alice makes a second room and adds Carol: it appears in Carol's list.
  const roomId = await createRoom(alice, "Plans");
  const link = carol.page.locator(`[data-testid="room-link"][data-room-id="${roomId}"]`);
  const unread = `[data-testid="room-link"][data-room-id="${roomId}"] [data-testid="room-unread"]`;
  await addMember(alice, carol);
  await link.waitFor({ timeout: LIVE });
  assert.match((await link.textContent()) ?? "", /Plans/);
  await countIs(carol.page, unread, 0);
  await screenshot(carol.page, "43-live-room-added");

  // Two messages there: Carol's counts include them.
  await send(alice.page, "first plan");
  await send(alice.page, "second plan");
  await countIs(carol.page, unread, 2);
  await countIs(carol.page, '[data-testid="unread-badge"]', 3);

  // Alice renames it: Carol's list shows the new name.
  await rename(alice, "Plans, revised");
  await link.filter({ hasText: "Plans, revised" }).waitFor({ timeout: LIVE });
  await screenshot(carol.page, "44-live-room-renamed");

  // Alice removes Carol: the room leaves Carol's list and her badge, the other room stays.
  await removeMember(alice, carol);
  await link.waitFor({ state: "detached", timeout: LIVE });
  await countIs(carol.page, '[data-testid="unread-badge"]', 1);
  assert.equal(await otherLink.count(), 1, "the other room is still listed");
  assert.equal(await otherLink.getByTestId("room-unread").getAttribute("data-count"), "1");
  assert.equal(await carol.page.title(), "(1) Parley");
  await screenshot(carol.page, "45-live-room-removed");

  // Counts keep flowing for the room she is still in, without the removed one coming back.
  await send(alice.page, "after Carol left");
  await alice.page.goto(`/rooms/${otherId}`);
  await connected(alice.page);
  await send(alice.page, "more in the other room");
  await countIs(carol.page, '[data-testid="unread-badge"]', 2);
  await countIs(carol.page, `[data-testid="room-link"][data-room-id="${otherId}"] [data-testid="room-unread"]`, 2);
  assert.equal(await link.count(), 0, "the removed room did not come back");

  assert.deepEqual(listFetches, [], "the rooms list changed without re-fetching it");
  await notReloaded(carol.page, "Carol");
  await alice.context.close();
  await carol.context.close();
});

test("Seen by: a receipt that moved while my socket was down arrives with the reconnect", async () => {
  const alice = await person(browser, "aria");
  const bob = await person(browser, "boris");
  await signUp(alice);
  await signUp(bob);
  const roomId = await createRoom(alice, "Receipts");
  await addMember(alice, bob);
  await bob.page.goto(`/rooms/${roomId}`);
  await connected(bob.page);
  await bob.page.locator('[data-testid="member"][data-online="true"]').filter({ hasText: alice.name }).waitFor({ timeout: LIVE });
  // Bob has the room open but is not looking: he marks read and unread by hand.
  await away(bob.page);

  await send(alice.page, "please read this");
  const message = bob.page.getByTestId("message").filter({ hasText: "please read this" });
  await message.waitFor({ timeout: LIVE });
  await countIs(bob.page, '[data-testid="unread-badge"]', 1);

  // Live first: Bob reads it and Alice sees "Seen by Bob".
  await message.getByTestId("mark-read").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 0);
  await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).waitFor({ timeout: LIVE });

  // Alice drops off; meanwhile Bob marks the message unread, then a new one read.
  await mark(alice.page);
  await alice.context.setOffline(true);
  await alice.page.locator('[data-testid="connection-status"][data-state="offline"]').waitFor({ timeout: LIVE });
  await message.hover();
  await message.getByTestId("mark-unread").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 1);
  await message.getByTestId("mark-read").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 0);
  // Bob marks unread again: this is the state Alice must end up showing.
  await message.hover();
  await message.getByTestId("mark-unread").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 1);
  // Alice still shows the receipt from before the drop.
  assert.equal(await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).count(), 1);

  // Back online: the reconnect's `receipts` frame says Bob's cursor moved back, so "Seen by Bob" goes.
  await alice.context.setOffline(false);
  await connected(alice.page, RECOVERY);
  await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).waitFor({ state: "detached", timeout: LIVE });

  // And live again: Bob reads it, Alice sees it at once.
  await message.getByTestId("mark-read").click();
  await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).waitFor({ timeout: LIVE });
  await screenshot(alice.page, "46-live-receipt-after-reconnect");
  await notReloaded(alice.page, "Alice");

  await alice.context.close();
  await bob.context.close();
});

test("Seen by: a receipt that moved while only polling kept the room current arrives with the reconnect", async () => {
  const alice = await person(browser, "aylin");
  const bob = await person(browser, "bram");
  await signUp(alice);
  await signUp(bob);

  // Alice's room sockets go through the test, which can cut them while HTTP keeps working.
  let blocked = false;
  const open: { page: WebSocketRoute; server: WebSocketRoute }[] = [];
  await alice.page.routeWebSocket(/\/api\/rooms\/[^/]+\/ws/, (ws) => {
    if (blocked) return ws.close({ code: 1012, reason: "cut by the test" });
    open.push({ page: ws, server: ws.connectToServer() });
  });

  const roomId = await createRoom(alice, "Polling");
  await addMember(alice, bob);
  await bob.page.goto(`/rooms/${roomId}`);
  await connected(bob.page);
  await bob.page.locator('[data-testid="member"][data-online="true"]').filter({ hasText: alice.name }).waitFor({ timeout: LIVE });
  // Bob is not looking yet: he reads the message (by hand) only once Alice's socket is cut.
  await away(bob.page);
  await send(alice.page, "read me later");
  const message = bob.page.getByTestId("message").filter({ hasText: "read me later" });
  await message.waitFor({ timeout: LIVE });
  await mark(alice.page);

  // Cut Alice's room socket: her page falls back to polling /events.
  blocked = true;
  for (const ws of open.splice(0)) {
    await ws.server.close();
    await ws.page.close({ code: 1012, reason: "cut by the test" });
  }
  await alice.page.locator('[data-testid="connection-status"]:not([data-state="connected"])').waitFor({ timeout: LIVE });

  // Bob reads the message; Alice's room moves on through polling only (which carries no receipts).
  await message.getByTestId("mark-read").click();
  await countIs(bob.page, '[data-testid="unread-badge"]', 0);
  const res = await alice.page.request.post(`${BASE_URL}/api/rooms/${roomId}/messages`, {
    data: { clientId: randomUUID(), text: "posted while polling" },
    headers: { Origin: BASE_URL },
  });
  assert.equal(res.status(), 201, await res.text());
  await alice.page.locator('[data-testid="message"][data-seq]').filter({ hasText: "posted while polling" }).waitFor({ timeout: RECOVERY });
  assert.equal(await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).count(), 0, "no receipt came by polling");

  // The socket comes back: its `receipts` frame brings Bob's cursor, although polling had moved the seq past it.
  blocked = false;
  await connected(alice.page, RECOVERY);
  await alice.page.getByTestId("receipt").filter({ hasText: bob.name }).waitFor({ timeout: LIVE });
  const seenUnder = alice.page.getByTestId("message").filter({ has: alice.page.getByTestId("receipt").filter({ hasText: bob.name }) });
  assert.match((await seenUnder.textContent()) ?? "", /read me later/);
  await notReloaded(alice.page, "Alice");

  await alice.context.close();
  await bob.context.close();
});
