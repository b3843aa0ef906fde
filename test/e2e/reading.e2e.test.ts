// Reading marks read (#14): what is on screen while the tab is visible and focused counts as read, at most
// one read per ~500 ms; away, nothing is read; "mark unread from here" holds; the "New messages" divider
// stays for the visit; files count too; new messages from others are announced politely.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { Browser, Page, Request } from "playwright-core";
import { away, back, BASE_URL, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: a loaded 2-core machine. */
const LIVE = 20_000;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Each read the page's code sends, recorded in the page when `fetch` is called (and when it is answered). */
interface PageRead {
  seq: number;
  at: number;
  done: boolean;
}
declare global {
  interface Window {
    __reads: PageRead[];
  }
}

/** Record every `POST /api/rooms/:id/read` the app makes, with the time `fetch` was called (the app's own clock). */
async function recordReads(p: Person): Promise<void> {
  await p.context.addInitScript(() => {
    const reads: PageRead[] = [];
    window.__reads = reads;
    const original = window.fetch;
    window.fetch = async function (input: RequestInfo | URL, init?: RequestInit) {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (init?.method !== "POST" || !/\/api\/rooms\/[^/]+\/read$/.test(url)) return original.call(this, input, init);
      const entry = { seq: (JSON.parse(String(init.body)) as { seq: number }).seq, at: performance.timeOrigin + performance.now(), done: false };
      reads.push(entry);
      try {
        return await original.call(this, input, init);
      } finally {
        entry.done = true;
      }
    };
  });
}

/** The read requests that reach the network from `page`, by seq, from now on. */
function networkReads(page: Page): number[] {
  const seqs: number[] = [];
  page.on("request", (r: Request) => {
    if (r.method() === "POST" && /\/api\/rooms\/[^/]+\/read$/.test(new URL(r.url()).pathname)) seqs.push((r.postDataJSON() as { seq: number }).seq);
  });
  return seqs;
}

const pageReads = (page: Page) => page.evaluate(() => window.__reads.map((r) => ({ ...r })));

/** Alice and Bob signed up; Alice made a room with Bob in it and has it open. Bob is on the rooms page. */
async function pair(roomName: string, before?: (alice: Person, roomId: string) => Promise<void>) {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await recordReads(bob);
  await signUp(alice);
  await signUp(bob);
  await alice.page.getByTestId("room-name-input").fill(roomName);
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: roomName }).first();
  const roomId = (await link.getAttribute("data-room-id"))!;
  await link.click();
  await connected(alice.page);
  await before?.(alice, roomId);
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();
  return { alice, bob, roomId };
}

async function connected(page: Page): Promise<void> {
  await page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: LIVE });
}

/** Bob opens the room from his rooms page (an in-app navigation, as a person would). */
async function enter(p: Person, roomId: string): Promise<void> {
  if (!new URL(p.page.url()).pathname.endsWith("/rooms")) await p.page.goto("/rooms");
  await p.page.locator(`[data-testid="room-link"][data-room-id="${roomId}"]`).first().click();
  await p.page.waitForURL(`**/rooms/${roomId}`);
  await p.page.locator('[data-testid="message-list"]:not([data-reading="off"])').waitFor({ timeout: LIVE });
  await connected(p.page);
}

/** Post messages over HTTP as `p` (past the send limit's burst by waiting out each 429). */
async function post(p: Person, roomId: string, texts: string[]): Promise<void> {
  for (const text of texts) {
    for (;;) {
      const res = await p.page.request.post(`${BASE_URL}/api/rooms/${roomId}/messages`, {
        data: { clientId: randomUUID(), text },
        headers: { Origin: BASE_URL },
      });
      if (res.status() === 201) break;
      assert.equal(res.status(), 429, await res.text());
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("composer").press("Enter");
}

async function badgeIs(page: Page, n: number): Promise<void> {
  await page.locator(`[data-testid="unread-badge"][data-count="${n}"]`).waitFor({ timeout: LIVE });
}

const stored = (page: Page, text: string) =>
  page.locator('[data-testid="message-list"] [data-testid="message"][data-seq]').filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });

const seqOf = async (page: Page, text: string) => Number(await stored(page, text).getAttribute("data-seq"));

/** Where an element is against the message list's visible area: how much of it shows, and whether it all does. */
function placeIn(page: Page, selector: string) {
  return page.evaluate((sel) => {
    const list = document.querySelector('[data-testid="message-list"]')!.getBoundingClientRect();
    const el = document.querySelector(sel)!.getBoundingClientRect();
    const shown = Math.max(0, Math.min(el.bottom, list.bottom) - Math.max(el.top, list.top));
    return { shown, whole: el.top >= list.top - 1 && el.bottom <= list.bottom + 1 };
  }, selector);
}

/** Two frames: any intersection change of the last one has been delivered. */
const frames = (page: Page) => page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0)))));

/**
 * Wait until what came on screen has been read: no read waiting or on its way (`data-read-pending`), every
 * read sent answered, and the badge showing what lies after the last one.
 */
async function readsSettle(page: Page): Promise<number> {
  await frames(page);
  await page.waitForFunction(
    () => {
      const reads = window.__reads;
      if (document.querySelector('[data-testid="message-list"][data-read-pending]')) return false;
      if (reads.length === 0 || reads.some((r) => !r.done)) return false;
      const last = reads.at(-1)!.seq;
      const below = [...document.querySelectorAll<HTMLElement>('[data-testid="message-list"] [data-testid="message"][data-seq]')].filter(
        (el) => Number(el.dataset.seq) > last,
      ).length;
      return document.querySelector('[data-testid="unread-badge"]')?.getAttribute("data-count") === String(below);
    },
    undefined,
    { timeout: LIVE },
  );
  return (await pageReads(page)).at(-1)!.seq;
}


test("opening a room with unread messages reads what is on screen: the badge falls to what is still below, then to 0", async () => {
  const texts = Array.from({ length: 40 }, (_, i) => `unread ${i + 1}`);
  const { alice, bob, roomId } = await pair("Catch up");
  await post(alice, roomId, texts);
  await bob.page.goto("/rooms");
  await badgeIs(bob.page, 40);

  await enter(bob, roomId);
  // Opened at the divider, above the first unread message, not at the bottom.
  const divider = bob.page.getByTestId("new-messages-divider");
  assert.equal(await divider.getAttribute("data-before"), String(await seqOf(bob.page, "unread 1")));
  assert.ok((await placeIn(bob.page, '[data-testid="new-messages-divider"]')).whole, "the divider is in view");
  const list = bob.page.getByTestId("message-list");
  assert.ok(await list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight > 100), "not opened at the bottom");

  // What is on screen is read; the badge shows the rest.
  const last = await readsSettle(bob.page);
  const seqs = await bob.page.$$eval('[data-testid="message-list"] [data-testid="message"][data-seq]', (els) => els.map((el) => Number(el.getAttribute("data-seq"))));
  const index = seqs.indexOf(last) + 1;
  assert.ok(index > 1 && index < 40, `read up to message ${index} of 40`);
  assert.ok((await placeIn(bob.page, `[data-testid="message"][data-seq="${last}"]`)).shown > 0, "the last one read is on screen");
  assert.equal((await placeIn(bob.page, `[data-testid="message"][data-seq="${last + 1}"]`)).whole, false, "the next one is not all on screen");
  await badgeIs(bob.page, 40 - index);
  await screenshot(bob.page, "60-reading-opened-at-divider");

  await list.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  await badgeIs(bob.page, 0);
  assert.equal((await pageReads(bob.page)).at(-1)!.seq, await seqOf(bob.page, "unread 40"));
  // The divider stays where it was while reading moved on.
  assert.equal(await divider.getAttribute("data-before"), String(await seqOf(bob.page, "unread 1")));

  // On a phone: the same list, nothing wider than the screen.
  await bob.page.setViewportSize({ width: 390, height: 844 });
  await bob.page.reload();
  await alice.page.getByTestId("composer").fill("one more for the phone");
  await alice.page.getByTestId("composer").press("Enter");
  await stored(bob.page, "one more for the phone").waitFor({ timeout: LIVE });
  assert.ok(await bob.page.evaluate(() => document.documentElement.scrollWidth <= 390), "no horizontal overflow");
  await screenshot(bob.page, "64-reading-phone");
  await alice.context.close();
  await bob.context.close();
});

test("away, nothing is read and the badge rises; back, what is on screen is read", async () => {
  const { alice, bob, roomId } = await pair("Away");
  await enter(bob, roomId);
  const list = bob.page.getByTestId("message-list");
  await away(bob.page);
  assert.equal(await list.getAttribute("data-reading"), "away");
  const network = networkReads(bob.page);

  await send(alice.page, "while you were out");
  await send(alice.page, "and another");
  await badgeIs(bob.page, 2);
  await stored(bob.page, "and another").getByTestId("mark-read").waitFor();
  assert.equal(await stored(bob.page, "while you were out").getByTestId("mark-read").count(), 1, "mark as read is offered while away");
  assert.equal(await bob.page.getByTestId("new-messages-divider").getAttribute("data-before"), String(await seqOf(bob.page, "while you were out")));
  await frames(bob.page);
  assert.deepEqual(network, [], "nothing read while away");
  await screenshot(bob.page, "61-reading-away");

  await back(bob.page);
  assert.equal(await list.getAttribute("data-reading"), "on");
  await badgeIs(bob.page, 0);
  assert.deepEqual(network, [await seqOf(bob.page, "and another")]);
  assert.equal(await stored(bob.page, "and another").getByTestId("mark-read").count(), 0);
  await alice.context.close();
  await bob.context.close();
});

test("scrolling fast through 60 unread messages sends at most one read per 500 ms, increasing, ending at the last", async () => {
  const texts = Array.from({ length: 60 }, (_, i) => `fast ${i + 1}`);
  const { alice, bob, roomId } = await pair("Fast");
  await post(alice, roomId, texts);
  await bob.page.goto("/rooms");
  await badgeIs(bob.page, 60);
  const network = networkReads(bob.page);

  await enter(bob, roomId);
  // Deterministic start: all 60 loaded (the first unread is older than the snapshot's page), the divider
  // above the first one and in view, and the read of what the opening shows answered.
  await bob.page.waitForFunction(() => document.querySelectorAll('[data-testid="message-list"] [data-testid="message"][data-seq]').length === 60);
  const first = await seqOf(bob.page, "fast 1");
  const lastSeq = await seqOf(bob.page, "fast 60");
  assert.equal(await bob.page.getByTestId("new-messages-divider").getAttribute("data-before"), String(first));
  assert.ok((await placeIn(bob.page, '[data-testid="new-messages-divider"]')).whole, "the divider is in view");
  const opened = await readsSettle(bob.page);
  assert.ok(opened >= first && opened < lastSeq, "the opening read what it showed, not everything");

  // Scroll to the bottom in small steps, a frame or two each, each scrollTop applied before the next.
  const steps = await bob.page.getByTestId("message-list").evaluate(async (el) => {
    let n = 0;
    const frame = () => new Promise((r) => requestAnimationFrame(() => r(undefined)));
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) {
      const want = Math.min(el.scrollTop + 90, el.scrollHeight - el.clientHeight);
      el.scrollTop = want;
      while (Math.abs(el.scrollTop - want) > 1) await frame();
      await frame();
      n++;
    }
    return n;
  });
  assert.ok(steps >= 5, `scrolled in ${steps} steps`);
  await badgeIs(bob.page, 0);
  await bob.page.waitForFunction((seq) => window.__reads.at(-1)?.seq === seq && window.__reads.every((r) => r.done), lastSeq, { timeout: LIVE });

  const reads = await pageReads(bob.page);
  const seqs = reads.map((r) => r.seq);
  for (let i = 1; i < reads.length; i++) {
    assert.ok(seqs[i]! > seqs[i - 1]!, `reads strictly increase: ${seqs.join(", ")}`);
    const gap = reads[i]!.at - reads[i - 1]!.at;
    assert.ok(gap >= 495, `reads ${i} and ${i + 1} are ${gap.toFixed(0)} ms apart (at most one per 500 ms)`);
  }
  assert.equal(seqs.at(-1), lastSeq, "the last read is the last message");
  assert.deepEqual(network, seqs, "the network saw exactly these reads");
  await alice.context.close();
  await bob.context.close();
});

test("mark unread from here keeps the badge up and is not undone by what is on screen", async () => {
  const { alice, bob, roomId } = await pair("Later");
  await enter(bob, roomId);
  for (const t of ["one", "two", "three", "four"]) await send(alice.page, t);
  // Bob, looking, reads them as they come.
  await stored(bob.page, "four").waitFor({ timeout: LIVE });
  await bob.page.waitForFunction((seq) => window.__reads.at(-1)?.seq === seq && window.__reads.every((r) => r.done), await seqOf(bob.page, "four"), {
    timeout: LIVE,
  });
  await badgeIs(bob.page, 0);

  const two = stored(bob.page, "two");
  await two.hover();
  await two.getByTestId("mark-unread").click();
  await badgeIs(bob.page, 3);
  const list = bob.page.getByTestId("message-list");
  assert.equal(await list.getAttribute("data-reading"), "held");
  assert.equal(await bob.page.getByTestId("new-messages-divider").getAttribute("data-before"), String(await seqOf(bob.page, "two")));
  const network = networkReads(bob.page);

  // A new message lands on screen (Bob is at the bottom): still nothing is read.
  await send(alice.page, "five");
  await badgeIs(bob.page, 4);
  await stored(bob.page, "five").getByTestId("mark-read").waitFor();
  assert.ok((await placeIn(bob.page, `[data-testid="message"][data-seq="${await seqOf(bob.page, "five")}"]`)).shown > 0, "it is on screen");
  await frames(bob.page);
  assert.deepEqual(network, [], "the mark unread was not undone");
  await badgeIs(bob.page, 4);
  await screenshot(bob.page, "62-reading-held-after-mark-unread");

  // Bob scrolls the list himself: reading marks read again.
  await list.hover();
  await bob.page.mouse.wheel(0, 200);
  await bob.page.locator('[data-testid="message-list"][data-reading="on"]').waitFor();
  await badgeIs(bob.page, 0);
  await alice.context.close();
  await bob.context.close();
});

test("the New messages divider stays put while reads advance and messages arrive; leaving and coming back places it anew", async () => {
  const { alice, bob, roomId } = await pair("Divider");
  await post(alice, roomId, ["first news", "second news", "third news"]);
  await bob.page.goto("/rooms");
  await badgeIs(bob.page, 3);
  await enter(bob, roomId);
  const divider = bob.page.getByTestId("new-messages-divider");
  const firstNews = String(await seqOf(bob.page, "first news"));
  assert.equal(await divider.getAttribute("data-before"), firstNews);
  await badgeIs(bob.page, 0);
  assert.equal(await divider.getAttribute("data-before"), firstNews, "reading does not move it");

  await send(alice.page, "fourth news");
  await bob.page.waitForFunction((seq) => window.__reads.at(-1)?.seq === seq && window.__reads.every((r) => r.done), await seqOf(bob.page, "fourth news"), {
    timeout: LIVE,
  });
  await badgeIs(bob.page, 0);
  assert.equal(await divider.getAttribute("data-before"), firstNews, "a message read at once does not move it");

  await away(bob.page);
  await send(alice.page, "fifth news");
  await badgeIs(bob.page, 1);
  assert.equal(await divider.getAttribute("data-before"), firstNews, "an unread arrival does not move it either");

  // Leave (still away) and come back: placed anew, above what is unread now.
  await bob.page.goBack();
  await bob.page.waitForURL("**/rooms");
  await enter(bob, roomId);
  assert.equal(await divider.getAttribute("data-before"), String(await seqOf(bob.page, "fifth news")));
  await back(bob.page);
  await badgeIs(bob.page, 0);
  assert.equal(await divider.getAttribute("data-before"), String(await seqOf(bob.page, "fifth news")));

  // Nothing unread: no divider, and the room opens at the bottom.
  await bob.page.goBack();
  await bob.page.waitForURL("**/rooms");
  await enter(bob, roomId);
  await stored(bob.page, "fifth news").waitFor();
  assert.equal(await divider.count(), 0);
  assert.ok(await bob.page.getByTestId("message-list").evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 4), "at the bottom");
  await alice.context.close();
  await bob.context.close();
});

test("a file counts as read when it is on screen: in the conversation, or in the Files panel", async () => {
  const history = Array.from({ length: 30 }, (_, i) => `before Bob ${i + 1}`);
  // Bob joins after these (a new member has everything before read) so the list scrolls from the start.
  const { alice, bob, roomId } = await pair("Shared", (a, id) => post(a, id, history));
  await enter(bob, roomId);
  await badgeIs(bob.page, 0);
  const upload = async (name: string) => {
    await alice.page.getByTestId("file-input").setInputFiles({ name, mimeType: "text/plain", buffer: Buffer.from(`contents of ${name}`) });
    await alice.page.getByTestId("upload-button").click();
    await bob.page.getByTestId("file-message").filter({ hasText: name }).waitFor({ timeout: LIVE });
  };
  const fileSeq = async (name: string) => Number(await bob.page.getByTestId("file-message").filter({ hasText: name }).getAttribute("data-seq"));

  // In the conversation: shared while Bob is away, read when he is back (it is at the bottom, on screen).
  await away(bob.page);
  await upload("in-the-list.txt");
  await badgeIs(bob.page, 1);
  await back(bob.page);
  await badgeIs(bob.page, 0);
  assert.equal((await pageReads(bob.page)).at(-1)!.seq, await fileSeq("in-the-list.txt"));

  // In the Files panel: Bob reads old messages at the top, so the new file's row in the conversation is out of view.
  await bob.page.getByTestId("message-list").evaluate((el) => el.scrollTo({ top: 0 }));
  await away(bob.page);
  await upload("in-the-panel.txt");
  await badgeIs(bob.page, 1);
  const seq = await fileSeq("in-the-panel.txt");
  assert.equal((await placeIn(bob.page, `[data-testid="file-message"][data-seq="${seq}"]`)).shown, 0, "its row in the conversation is out of view");
  await bob.page.getByTestId("files-list").evaluate((el) => el.scrollIntoView({ block: "nearest" }));
  await back(bob.page);
  await badgeIs(bob.page, 0);
  assert.equal((await pageReads(bob.page)).at(-1)!.seq, seq);
  await screenshot(bob.page, "63-reading-file-in-panel");
  await alice.context.close();
  await bob.context.close();
});

test("new messages from others are announced once through a polite live region, not a live log", async () => {
  const { alice, bob, roomId } = await pair("Announce");
  await enter(bob, roomId);
  const announcer = bob.page.getByTestId("message-announcer");
  assert.equal(await announcer.getAttribute("aria-live"), "polite");
  assert.equal(await bob.page.getByTestId("message-list").getAttribute("aria-live"), "off");

  await send(alice.page, "hello, screen reader");
  await announcer.getByText(`${alice.name}: hello, screen reader`, { exact: true }).waitFor({ timeout: LIVE });
  await send(bob.page, "my own words");
  await stored(bob.page, "my own words").waitFor({ timeout: LIVE });
  await send(alice.page, "second line");
  await announcer.getByText(`${alice.name}: second line`, { exact: true }).waitFor({ timeout: LIVE });
  assert.deepEqual(await announcer.locator("p").allTextContents(), [`${alice.name}: hello, screen reader`, `${alice.name}: second line`]);
  // What was there when the room opened is not announced.
  await bob.page.reload();
  await stored(bob.page, "second line").waitFor({ timeout: LIVE });
  assert.equal(await bob.page.getByTestId("message-announcer").locator("p").count(), 0);
  await alice.context.close();
  await bob.context.close();
});
