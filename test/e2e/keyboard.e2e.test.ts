// Keyboard only (issue #14 item 7): reach a message, edit it, mark one unread, send one and
// reach the files panel with Tab, Shift+Tab, Enter and typing — no mouse — and every stop on
// the way shows a visible focus ring.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiCall, BASE_URL, launch, person, screenshot, signUp } from "./lib.ts";

const LIVE = 20_000;
/** Tab stops to try before giving up on reaching something. */
const MAX_TABS = 120;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** What has focus, and whether it shows a ring (`:focus-visible` with an outline or a box shadow). */
function focusInfo(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== "none";
    return {
      testid: el.getAttribute("data-testid"),
      ring: el.matches(":focus-visible") && (outline || shadow),
      rowSeq: el.closest("[data-seq]")?.getAttribute("data-seq") ?? null,
      inFiles: !!el.closest('[data-testid="files-list"]'),
      tag: el.tagName,
    };
  });
}

/** Press Tab (or Shift+Tab) until `wanted` holds for the focused element; every stop must show its ring. */
async function tabTo(page: Page, what: string, wanted: (f: NonNullable<Awaited<ReturnType<typeof focusInfo>>>) => boolean, backwards = false) {
  for (let i = 0; i < MAX_TABS; i++) {
    await page.keyboard.press(backwards ? "Shift+Tab" : "Tab");
    const f = await focusInfo(page);
    if (!f) continue;
    assert.ok(f.ring, `no visible focus ring on ${f.tag} ${f.testid ?? ""} (on the way to ${what})`);
    if (wanted(f)) return;
  }
  assert.fail(`${what} not reached with ${MAX_TABS} Tab presses`);
}

test("keyboard only: reach a message, edit it, mark unread from another, send one, reach the files panel — with a visible focus ring", async () => {
  const alice = await person(browser, "kbd");
  const bob = await person(browser, "kbdb");
  try {
    await signUp(alice);
    await signUp(bob);
    const { room } = (await apiCall(alice.page, "POST", "/api/rooms", { name: "Keyboard" })) as { room: { id: string } };
    await apiCall(alice.page, "POST", `/api/rooms/${room.id}/members`, { username: bob.name });
    const mine = (await apiCall(alice.page, "POST", `/api/rooms/${room.id}/messages`, { clientId: crypto.randomUUID(), text: "typo here" })) as {
      message: { seq: number };
    };
    const bobs = (await apiCall(bob.page, "POST", `/api/rooms/${room.id}/messages`, { clientId: crypto.randomUUID(), text: "from bob" })) as {
      message: { seq: number };
    };
    const upload = await bob.page.request.post(`/api/rooms/${room.id}/files`, {
      headers: { Origin: BASE_URL },
      multipart: { clientId: crypto.randomUUID(), description: "agenda", file: { name: "agenda.txt", mimeType: "text/plain", buffer: Buffer.from("1. hi") } },
    });
    assert.equal(upload.status(), 201, await upload.text());

    await alice.page.goto(`/rooms/${room.id}`);
    await alice.page.locator(`[data-testid="message"][data-seq="${bobs.message.seq}"]:not([data-unread])`).waitFor({ timeout: LIVE });
    await alice.page.getByTestId("file-item").first().waitFor();

    // 1. Reach my message and edit it.
    await tabTo(alice.page, "my message's Edit", (f) => f.testid === "message-edit" && f.rowSeq === String(mine.message.seq));
    await screenshot(alice.page, "90-keyboard-edit-focus");
    await alice.page.keyboard.press("Enter");
    await alice.page.keyboard.press("ControlOrMeta+a");
    await alice.page.keyboard.type("fixed text");
    await alice.page.keyboard.press("Enter");
    await alice.page.locator(`[data-testid="message"][data-seq="${mine.message.seq}"] [data-testid="message-edited"]`).waitFor({ timeout: LIVE });
    assert.equal(await alice.page.locator(`[data-seq="${mine.message.seq}"] [data-testid="message-text"]`).textContent(), "fixed text");
    assert.equal((await focusInfo(alice.page))?.testid, "message-edit", "focus returns to Edit after saving");

    // 2. Mark Bob's message unread from here: the badge counts it again.
    await tabTo(alice.page, "Mark unread on Bob's message", (f) => f.testid === "mark-unread" && f.rowSeq === String(bobs.message.seq));
    await alice.page.keyboard.press("Enter");
    await alice.page.locator(`[data-testid="message"][data-seq="${bobs.message.seq}"][data-unread="true"]`).waitFor({ timeout: LIVE });
    await alice.page.waitForFunction(() => Number(document.querySelector('[data-testid="unread-badge"]')?.getAttribute("data-count")) >= 1, null, { timeout: LIVE });

    // 3. Send one from the composer.
    await tabTo(alice.page, "the composer", (f) => f.testid === "composer");
    await alice.page.keyboard.type("sent without a mouse");
    await alice.page.keyboard.press("Enter");
    await bob.page.goto(`/rooms/${room.id}`);
    await bob.page.getByTestId("message-text").getByText("sent without a mouse", { exact: true }).waitFor({ timeout: LIVE });

    // 4. Reach the files panel.
    await tabTo(alice.page, "the files panel", (f) => f.inFiles);
    await screenshot(alice.page, "91-keyboard-files-focus");
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});
