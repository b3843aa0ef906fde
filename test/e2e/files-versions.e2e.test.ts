/**
 * File versions in the browser (#16 item 1), two people: Alice owns the room
 * and uploads a file, Bob is a member. Only Alice is offered "Upload new
 * version"; her new version (through the UI, with its progress bar) replaces
 * the file in Bob's list live — the same list item, v2, NEW, and his unread
 * badge counts it; Bob's versions dialog lists both, newest first, refreshes
 * while open when another version arrives, and the v1 link downloads the
 * original bytes. A failed version upload says why, and Retry sends the same
 * clientId. The dialog closes with Escape (focus back on its button) and fits
 * a phone screen.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Locator, Page } from "playwright-core";
import { audit, away, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: uploads, events and badges cross a loaded machine. */
const LIVE = 15_000;

let browser: Browser;
let alice: Person;
let bob: Person;
let roomId: string;
let fileId: string;

const V1 = "first draft\n".repeat(20);
const V2 = "second draft, longer\n".repeat(30);

const badge = async (page: Page) => Number(await page.getByTestId("unread-badge").getAttribute("data-count"));
const itemOf = (page: Page): Locator => page.getByTestId("files-list").locator(`[data-testid="file-item"][data-file-id="${fileId}"]`);
const rows = (page: Page): Locator => page.getByTestId("file-versions-dialog").getByTestId("file-version-row");

/** Wait until the open versions dialog lists exactly `versions` (in this order). */
async function rowsAre(page: Page, versions: number[]) {
  await page.waitForFunction(
    (want) =>
      JSON.stringify([...document.querySelectorAll('[data-testid="file-versions-dialog"] [data-testid="file-version-row"]')].map((el) => Number(el.getAttribute("data-version")))) ===
      JSON.stringify(want),
    versions,
    { timeout: LIVE },
  );
}

/** Open the versions dialog of the file on `page`. */
async function openVersions(page: Page) {
  await itemOf(page).getByTestId("file-versions").click();
  await page.getByTestId("file-versions-dialog").waitFor();
}

/** Pick `name` with the bytes `text` through "Upload new version" (the button opens the file chooser). */
async function uploadVersion(page: Page, name: string, text: string, description?: string) {
  const dialog = page.getByTestId("file-versions-dialog");
  if (description !== undefined) await dialog.getByTestId("file-version-description").fill(description);
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), dialog.getByTestId("file-upload-version").click()]);
  await chooser.setFiles({ name, mimeType: "text/plain", buffer: Buffer.from(text) });
}

before(async () => {
  browser = await launch();
  alice = await person(browser, "alice");
  bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);

  await alice.page.getByTestId("room-name-input").fill("Drafts");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Drafts" });
  await link.waitFor();
  roomId = (await link.getAttribute("data-room-id")) ?? "";
  assert.ok(roomId);
  await link.click();
  await alice.page.waitForURL(`**/rooms/${roomId}`);
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();

  await bob.page.goto(`/rooms/${roomId}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Drafts" }).waitFor();
  await alice.page.locator(`[data-testid="member"][data-online="true"]`).filter({ hasText: bob.name }).waitFor({ timeout: LIVE });
  await bob.page.locator(`[data-testid="member"][data-online="true"]`).filter({ hasText: alice.name }).waitFor({ timeout: LIVE });
  await bob.page.getByTestId("files-empty").waitFor();
  // Bob has the room open but is not looking: what arrives stays unread.
  await away(bob.page);

  await alice.page.getByTestId("file-input").setInputFiles({ name: "plan.txt", mimeType: "text/plain", buffer: Buffer.from(V1) });
  await alice.page.getByTestId("upload-button").click();
  const mine = alice.page.getByTestId("files-list").getByTestId("file-item").filter({ hasText: "plan.txt" });
  await mine.waitFor({ timeout: LIVE });
  fileId = (await mine.getAttribute("data-file-id")) ?? "";
  assert.ok(fileId);
  await itemOf(bob.page).waitFor({ timeout: LIVE });
});

after(async () => {
  await browser?.close();
});

test("only the uploader or the room's owner is offered Upload new version; Escape closes the dialog and gives the focus back", async () => {
  await openVersions(bob.page);
  await rowsAre(bob.page, [1]);
  const dialog = bob.page.getByTestId("file-versions-dialog");
  assert.equal(await dialog.getByTestId("file-upload-version").count(), 0, "Bob did not upload it and does not own the room");
  assert.equal(await itemOf(bob.page).getByTestId("file-versions").getAttribute("aria-expanded"), "true");
  await bob.page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await bob.page.waitForFunction(
    (id) => document.activeElement?.matches(`[data-file-id="${id}"] [data-testid="file-versions"]`) === true,
    fileId,
    { timeout: LIVE },
  );
  assert.equal(await itemOf(bob.page).getByTestId("file-versions").getAttribute("aria-expanded"), "false");

  await openVersions(alice.page);
  await rowsAre(alice.page, [1]);
  await alice.page.getByTestId("file-versions-dialog").getByTestId("file-upload-version").waitFor();
  await alice.page.getByTestId("file-versions-close").click();
  await alice.page.getByTestId("file-versions-dialog").waitFor({ state: "detached" });
});

test("a new version uploaded through the UI replaces the file in the other member's list live: same item, v2, NEW, unread", async () => {
  // The upload's own NEW mark has gone, so a NEW mark now is the version's.
  await itemOf(bob.page).getByTestId("file-new-badge").waitFor({ state: "detached", timeout: LIVE });
  // The list item Bob sees now: it must be the same element afterwards (the file keeps its place).
  await itemOf(bob.page).evaluate((el) => ((el as unknown as { sameItem: boolean }).sameItem = true));
  const before = await badge(bob.page);

  await alice.page.evaluate(() => {
    const w = window as unknown as { sawProgress: boolean };
    w.sawProgress = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="file-versions-dialog"] [data-testid="upload-progress"]')) w.sawProgress = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  await openVersions(alice.page);
  await uploadVersion(alice.page, "plan-final.txt", V2, "Second draft");
  await alice.page.locator('[data-testid="file-version-upload"][data-status="done"]').waitFor({ timeout: LIVE });
  assert.equal(await alice.page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress), true, "Alice saw the progress bar");
  // Her own dialog lists the new version at once.
  await rowsAre(alice.page, [2, 1]);
  assert.equal(await rows(alice.page).nth(0).getByTestId("file-version-uploader").textContent(), "you");
  await screenshot(alice.page, "files-versions-01-uploaded");

  const theirs = itemOf(bob.page);
  await theirs.locator('[data-testid="file-version"][data-version="2"]').waitFor({ timeout: LIVE });
  assert.equal(await theirs.evaluate((el) => (el as unknown as { sameItem?: boolean }).sameItem === true), true, "the same list item");
  assert.equal(await bob.page.getByTestId("files-list").getByTestId("file-item").count(), 1, "still one file");
  assert.equal(await theirs.getByTestId("file-name").textContent(), "plan-final.txt");
  assert.equal(await theirs.getByTestId("file-description-text").textContent(), "Second draft");
  await theirs.getByTestId("file-new-badge").waitFor({ timeout: LIVE });
  await bob.page.locator(`[data-testid="unread-badge"][data-count="${before + 1}"]`).waitFor({ timeout: LIVE });
});

test("the versions dialog lists every version newest first, the v1 link downloads the original, and it refreshes while open", async () => {
  await openVersions(bob.page);
  await rowsAre(bob.page, [2, 1]);
  const [v2, v1] = [rows(bob.page).nth(0), rows(bob.page).nth(1)];
  assert.match((await v2.textContent()) ?? "", /v2[\s\S]*plan-final\.txt[\s\S]*Latest/);
  assert.match((await v1.textContent()) ?? "", /v1[\s\S]*plan\.txt/);
  assert.equal(await v1.getByTestId("file-version-uploader").textContent(), alice.name);
  assert.equal(await v2.getByTestId("file-version-uploader").textContent(), alice.name);
  const href = await v1.getByTestId("file-version-download").getAttribute("href");
  assert.equal(href, `/api/files/${fileId}?version=1`);
  const got = await bob.page.evaluate(async (url) => (await fetch(url, { credentials: "same-origin" })).text(), href!);
  assert.equal(got, V1, "version 1's bytes");
  const latest = await bob.page.evaluate(async (url) => (await fetch(url, { credentials: "same-origin" })).text(), (await v2.getByTestId("file-version-download").getAttribute("href"))!);
  assert.equal(latest, V2, "version 2's bytes");

  // Alice adds a third while Bob looks at the list: it refreshes by itself.
  await uploadVersion(alice.page, "plan-final.txt", "third\n", "Typos fixed");
  await rowsAre(bob.page, [3, 2, 1]);
  await audit(bob.page, "the versions dialog (member)");
  await screenshot(bob.page, "files-versions-02-list");
  await bob.page.keyboard.press("Escape");
  await bob.page.getByTestId("file-versions-dialog").waitFor({ state: "detached" });
});

test("a failed version upload says why; Retry sends the same clientId; a too-large one offers no retry", async () => {
  const page = alice.page;
  const clientIds: string[] = [];
  let fail = true;
  await page.route(`**/api/files/${fileId}/versions`, async (route) => {
    if (route.request().method() !== "POST") return route.fallback();
    const body = route.request().postDataBuffer()?.toString("latin1") ?? "";
    clientIds.push(/name="clientId"\r\n\r\n([^\r]+)/.exec(body)?.[1] ?? "");
    if (fail) return route.abort("connectionreset");
    return route.fallback();
  });
  try {
    await rowsAre(page, [3, 2, 1]);
    await uploadVersion(page, "plan-v4.txt", "fourth\n", "");
    const error = page.getByTestId("file-version-error");
    await error.waitFor({ timeout: LIVE });
    assert.match((await error.textContent()) ?? "", /Network error/);
    await screenshot(page, "files-versions-03-error");
    fail = false;
    await error.getByTestId("file-version-retry").click();
    await page.locator('[data-testid="file-version-upload"][data-status="done"]').waitFor({ timeout: LIVE });
    await rowsAre(page, [4, 3, 2, 1]);
    assert.equal(clientIds.length, 2);
    assert.ok(clientIds[0]);
    assert.equal(clientIds[1], clientIds[0], "the retry reuses the clientId");
  } finally {
    await page.unroute(`**/api/files/${fileId}/versions`);
  }

  await page.route(`**/api/files/${fileId}/versions`, (route) =>
    route.request().method() === "POST"
      ? route.fulfill({ status: 413, contentType: "application/json", body: JSON.stringify({ error: { code: "payload_too_large", message: "Too large" } }) })
      : route.fallback(),
  );
  try {
    await uploadVersion(page, "huge.txt", "pretend this is big\n");
    const error = page.getByTestId("file-version-error");
    await error.filter({ hasText: "“huge.txt” is larger than the" }).waitFor({ timeout: LIVE });
    assert.equal(await error.getByTestId("file-version-retry").count(), 0);
    await error.getByTestId("file-version-dismiss").click();
    await error.waitFor({ state: "detached" });
  } finally {
    await page.unroute(`**/api/files/${fileId}/versions`);
  }
  await page.getByTestId("file-versions-close").click();
  await page.getByTestId("file-versions-dialog").waitFor({ state: "detached" });
});

test("the versions dialog fits a phone screen", async () => {
  const page = alice.page;
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await page.getByTestId("room-tab-files").click();
    await itemOf(page).getByTestId("file-versions").waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "the Files list fits");
    await openVersions(page);
    await rowsAre(page, [4, 3, 2, 1]);
    const fits = await page
      .getByTestId("file-versions-dialog")
      .evaluate((d) => d.getBoundingClientRect().left >= 0 && d.getBoundingClientRect().right <= window.innerWidth && d.scrollWidth <= d.clientWidth);
    assert.equal(fits, true, "the dialog fits");
    for (const row of await rows(page).all()) {
      assert.ok(await row.evaluate((r) => r.scrollWidth <= r.clientWidth), "a version row does not overflow");
    }
    await audit(page, "the versions dialog with Upload new version (phone)");
    await screenshot(page, "files-versions-04-phone");
    await page.keyboard.press("Escape");
    await page.getByTestId("file-versions-dialog").waitFor({ state: "detached" });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "nothing overflows sideways");
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId("room-tab-files").waitFor({ state: "detached" });
  }
});
