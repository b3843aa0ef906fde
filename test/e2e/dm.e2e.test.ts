// Direct messages in the SPA (issue #14): "New message" and the members
// panel's "Message" button open the one room a pair has, from either side and
// every time; DMs are listed apart, named after the other person, headed by
// them, without owner controls; their unread counts move the other person's
// DM link and total badge live.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { BASE_URL, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: events cross a loaded 2-core machine. */
const LIVE = 20_000;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function api(p: Person, method: string, path: string, data?: unknown): Promise<Record<string, unknown>> {
  const res = await p.page.request.fetch(`${BASE_URL}${path}`, { method, data, headers: { Origin: BASE_URL } });
  assert.ok(res.ok(), `${method} ${path}: ${res.status()} ${await res.text()}`);
  return res.status() === 204 ? {} : ((await res.json()) as Record<string, unknown>);
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

const dmLinks = (page: Page) => page.getByTestId("room-sidebar").getByTestId("dm-link");

/** On a page with a "New message" form: message `username`; answers the DM's id from the URL it lands on. */
async function newMessage(page: Page, username: string): Promise<string> {
  const from = new URL(page.url()).pathname;
  await page.getByTestId("dm-username").fill(username);
  await page.getByTestId("dm-start").click();
  await page.waitForURL((url) => url.pathname !== from && /^\/rooms\/[^/]+$/.test(url.pathname), { timeout: LIVE });
  return new URL(page.url()).pathname.split("/").pop()!;
}

/** The DM page shows the person, and none of a room's owner or member controls. */
async function looksLikeDmWith(page: Page, other: Person): Promise<void> {
  await page.getByTestId("room-title").filter({ hasText: other.name }).waitFor({ timeout: LIVE });
  assert.equal(((await page.getByTestId("room-title").textContent()) ?? "").trim(), other.name, "the heading is the person, no #");
  await page.getByTestId("member").filter({ hasText: other.name }).waitFor();
  for (const id of ["room-rename", "member-add", "member-username", "member-remove", "room-leave", "member-message"]) {
    assert.equal(await page.getByTestId(id).count(), 0, `no ${id} in a DM`);
  }
}

test("New message and the members panel open the same DM for a pair, from both sides and every time", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  await connected(bob.page);

  // Refused in words: an unknown user, and yourself.
  await alice.page.getByTestId("dm-username").fill(`nobody_${randomUUID().slice(0, 8)}`);
  await alice.page.getByTestId("dm-start").click();
  await alice.page.getByTestId("error").filter({ hasText: "No user named" }).waitFor({ timeout: LIVE });
  await alice.page.getByTestId("dm-username").fill(alice.name.toUpperCase());
  await alice.page.getByTestId("dm-start").click();
  await alice.page.getByTestId("error").filter({ hasText: "That is you" }).waitFor();
  assert.match(alice.page.url(), /\/rooms$/, "nothing opened");
  await screenshot(alice.page, "70-dm-errors");

  // Alice messages Bob: the DM opens, named after him, listed under "Direct messages".
  const dmId = await newMessage(alice.page, bob.name);
  await looksLikeDmWith(alice.page, bob);
  const aliceLink = alice.page.locator(`[data-testid="dm-link"][data-room-id="${dmId}"]`);
  await aliceLink.waitFor();
  assert.equal(await aliceLink.getByTestId("room-name").textContent(), bob.name);
  assert.equal(await aliceLink.getAttribute("aria-current"), "page");
  assert.equal(await alice.page.locator(`[data-testid="room-link"][data-room-id="${dmId}"]`).count(), 0, "a DM is not listed with the rooms");
  await screenshot(alice.page, "71-dm-open");

  // Bob's list gets it at once, named after Alice; from his side he lands in the same room (any letter case).
  const bobLink = bob.page.locator(`[data-testid="dm-link"][data-room-id="${dmId}"]`);
  await bobLink.waitFor({ timeout: LIVE });
  assert.equal(await bobLink.getByTestId("room-name").textContent(), alice.name);
  assert.equal(await newMessage(bob.page, alice.name.toUpperCase()), dmId);
  await looksLikeDmWith(bob.page, alice);

  // Again from Alice's side, from the sidebar's own "New message": still the same room, still one link.
  await alice.page.goto(`/rooms`);
  const { room } = (await api(alice, "POST", "/api/rooms", { name: "Team" })) as { room: { id: string } };
  await api(alice, "POST", `/api/rooms/${room.id}/members`, { username: bob.name });
  await alice.page.goto(`/rooms/${room.id}`);
  await alice.page.getByTestId("room-title").filter({ hasText: "Team" }).waitFor();
  await alice.page.getByTestId("dm-new").click();
  assert.equal(await alice.page.getByTestId("dm-new").getAttribute("aria-expanded"), "true");
  assert.equal(await newMessage(alice.page, bob.name), dmId);
  await looksLikeDmWith(alice.page, bob);

  // The "Message" button beside a member of a group room: both sides land in it too.
  for (const [me, other] of [
    [alice, bob],
    [bob, alice],
  ] as const) {
    await me.page.goto(`/rooms/${room.id}`);
    await me.page.getByTestId("room-title").filter({ hasText: "Team" }).waitFor();
    const row = me.page.getByTestId("member").filter({ hasText: other.name });
    assert.equal(await me.page.getByTestId("member").filter({ hasText: me.name }).getByTestId("member-message").count(), 0, "no Message button for myself");
    await row.getByRole("button", { name: `Message ${other.name}` }).click();
    await me.page.waitForURL(`**/rooms/${dmId}`, { timeout: LIVE });
    await looksLikeDmWith(me.page, other);
    assert.equal(await dmLinks(me.page).count(), 1, "one DM link for the pair");
  }

  const list = (await api(alice, "GET", "/api/rooms")) as { rooms: { id: string; kind: string }[] };
  assert.deepEqual(
    list.rooms.filter((r) => r.kind === "dm").map((r) => r.id),
    [dmId],
  );
  await alice.context.close();
  await bob.context.close();
});

test("a DM message raises the other person's DM count and total badge live, with its preview, while they are elsewhere", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  const { room: dm } = (await api(alice, "POST", "/api/dm", { username: bob.name })) as { room: { id: string } };
  const { room: elsewhere } = (await api(alice, "POST", "/api/rooms", { name: "Elsewhere" })) as { room: { id: string } };
  await api(alice, "POST", `/api/rooms/${elsewhere.id}/members`, { username: bob.name });

  // Bob is in another room; Alice writes in the DM from its page.
  await bob.page.goto(`/rooms/${elsewhere.id}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Elsewhere" }).waitFor();
  await connected(bob.page);
  const bobDm = `[data-testid="dm-link"][data-room-id="${dm.id}"]`;
  await bob.page.locator(bobDm).waitFor();
  await countIs(bob.page, `${bobDm} [data-testid="room-unread"]`, 0);
  await countIs(bob.page, '[data-testid="unread-badge"]', 0);
  await bob.page.evaluate(() => ((window as unknown as { parleyMarker: string }).parleyMarker = "same page"));

  await alice.page.goto(`/rooms/${dm.id}`);
  await alice.page.getByTestId("room-title").filter({ hasText: bob.name }).waitFor();
  await connected(alice.page);
  for (const text of ["psst", "are you there?"]) {
    await alice.page.getByTestId("composer").fill(text);
    await alice.page.getByTestId("composer").press("Enter");
    await alice.page.locator('[data-testid="message"][data-seq]').filter({ hasText: text }).waitFor({ timeout: LIVE });
  }

  await countIs(bob.page, `${bobDm} [data-testid="room-unread"]`, 2);
  await countIs(bob.page, '[data-testid="unread-badge"]', 2);
  await countIs(bob.page, '[data-testid="sidebar-total"]', 2);
  await bob.page.locator(bobDm).getByTestId("room-preview").filter({ hasText: "are you there?" }).waitFor({ timeout: LIVE });
  assert.equal(await bob.page.title(), "(2) Parley");
  await screenshot(bob.page, "72-dm-unread-elsewhere");

  // Alice takes a display name: Bob's DM is renamed after it, live.
  await api(alice, "PATCH", "/api/me", { displayName: "Alice Liddell" });
  await bob.page.locator(bobDm).getByTestId("room-name").filter({ hasText: "Alice Liddell" }).waitFor({ timeout: LIVE });

  // Opening it shows her, by that name.
  await bob.page.locator(bobDm).click();
  await bob.page.waitForURL(`**/rooms/${dm.id}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Alice Liddell" }).waitFor({ timeout: LIVE });
  await bob.page.getByTestId("message").filter({ hasText: "psst" }).waitFor();
  assert.equal(await bob.page.getByTestId("room-rename").count(), 0);
  assert.equal(await bob.page.evaluate(() => (window as unknown as { parleyMarker?: string }).parleyMarker), "same page");
  await screenshot(bob.page, "73-dm-room");

  await alice.context.close();
  await bob.context.close();
});
