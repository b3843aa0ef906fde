/**
 * Comments on files (issue #16 item 2): the Files list's `file-comments`
 * opens the file's thread in the thread panel; comments arrive live in an
 * open panel, the count moves live in everyone's Files list and on the
 * file's timeline entry (which opens the same thread), survives a reload,
 * and a deleted file closes its thread for good.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launch, type Person, person, roomWith, screenshot, signUp } from "./lib.ts";

const LIVE = 15_000;

let browser: Browser;
let alice: Person;
let bob: Person;

const item = (page: Page, name: string) =>
  page.getByTestId("files-list").getByTestId("file-item").filter({ has: page.getByTestId("file-name").getByText(name, { exact: true }) });

/** Wait until `selector`'s data-count is `n`. */
const countIs = (page: Page, selector: string, n: number) =>
  page.waitForFunction(([s, want]) => document.querySelector(s as string)?.getAttribute("data-count") === String(want), [selector, n] as const, { timeout: LIVE });

/** Comment `text` in the open panel and wait until it shows (as `shown`, formatted). */
async function comment(page: Page, text: string, shown = text) {
  const panel = page.getByTestId("thread-panel");
  await panel.getByTestId("composer").fill(text);
  await panel.getByTestId("send").click();
  await panel.getByTestId("thread-reply").filter({ hasText: shown }).waitFor({ timeout: LIVE });
}

before(async () => {
  browser = await launch();
  alice = await person(browser, "alice");
  bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  await roomWith(alice, "Reviews", [bob]);
  await alice.page.getByTestId("file-input").setInputFiles([{ name: "draft.txt", mimeType: "text/plain", buffer: Buffer.from("the first draft") }]);
  await alice.page.getByTestId("upload-button").click();
  await item(bob.page, "draft.txt").waitFor({ timeout: LIVE });
  for (const p of [alice, bob]) p.page.on("dialog", (d) => assert.fail(`a dialog opened: ${d.message()}`));
});

after(async () => {
  await browser?.close();
});

test("a comment from the Files list shows in the thread panel, and its count moves live for everyone", async () => {
  const mine = item(bob.page, "draft.txt").getByTestId("file-comments");
  assert.equal(await mine.getAttribute("data-count"), "0");
  await mine.click();
  const panel = bob.page.getByTestId("thread-panel");
  await panel.getByTestId("thread-file").filter({ hasText: "draft.txt" }).waitFor();
  await comment(bob.page, "Could you **tighten** the intro?", "Could you tighten the intro?");
  assert.equal(await panel.getByTestId("thread-reply").getByTestId("message-body").locator("strong").textContent(), "tighten", "comments are formatted like messages");

  const fileId = (await item(alice.page, "draft.txt").getAttribute("data-file-id")) ?? "";
  await countIs(alice.page, `[data-testid="file-item"][data-file-id="${fileId}"] [data-testid="file-comments"]`, 1);
  await countIs(alice.page, `[data-testid="file-message"][data-file-id="${fileId}"] [data-testid="file-message-comments"]`, 1);
  await countIs(bob.page, '[data-testid="thread-panel"] [data-testid="thread-reply-count"]', 1);
  // Comments are the file's thread, not messages of the room's timeline.
  assert.equal(await alice.page.getByTestId("message").filter({ hasText: "tighten" }).count(), 0);
  await screenshot(bob.page, "90-file-comments");
});

test("the file's timeline entry opens the same thread; replies arrive live in an open panel", async () => {
  const entry = alice.page.getByTestId("file-message").filter({ hasText: "draft.txt" });
  await entry.getByTestId("file-message-comments").click();
  const panel = alice.page.getByTestId("thread-panel");
  await panel.getByTestId("thread-reply").filter({ hasText: "tighten" }).waitFor({ timeout: LIVE });
  await comment(alice.page, "Done, see v2 soon");
  await bob.page.getByTestId("thread-panel").getByTestId("thread-reply").filter({ hasText: "Done, see v2 soon" }).waitFor({ timeout: LIVE });
  await countIs(bob.page, '[data-testid="thread-panel"] [data-testid="thread-reply-count"]', 2);
  await countIs(bob.page, '[data-testid="file-item"] [data-testid="file-comments"]', 2);
});

test("the count comes back after a reload (the room's count is in the list)", async () => {
  await bob.page.reload();
  await item(bob.page, "draft.txt").waitFor({ timeout: LIVE });
  await countIs(bob.page, '[data-testid="file-item"] [data-testid="file-comments"]', 2);
  assert.equal(await item(bob.page, "draft.txt").getByTestId("file-comments").getAttribute("aria-label"), "Comments on draft.txt: 2");
  await item(bob.page, "draft.txt").getByTestId("file-comments").click();
  const panel = bob.page.getByTestId("thread-panel");
  await panel.getByTestId("thread-reply").nth(1).waitFor({ timeout: LIVE });
  assert.deepEqual(await panel.getByTestId("thread-reply").getByTestId("message-body").allTextContents(), ["Could you tighten the intro?", "Done, see v2 soon"]);
});

test("deleting the file closes its thread: the open panel says so and takes no more comments", async () => {
  // The panel lies over the side column: alice closes hers to reach the Files list.
  await alice.page.getByTestId("thread-close").click();
  const theirs = item(alice.page, "draft.txt");
  await theirs.getByTestId("file-delete").click();
  await alice.page.getByTestId("file-delete-confirm").click();
  const panel = bob.page.getByTestId("thread-panel");
  await panel.getByText("This file was deleted, with its comments").waitFor({ timeout: LIVE });
  assert.equal(await panel.getByTestId("thread-reply").count(), 0);
  assert.equal(await panel.getByTestId("composer").isDisabled(), true);
  await panel.getByTestId("thread-close").click();
  await panel.waitFor({ state: "detached" });
});
