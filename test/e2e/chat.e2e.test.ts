// Real-time chat in the browser: two people in one room over the room socket,
// and recovery from a dropped connection (offline emulation) without a reload.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { BASE_URL, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Reconnecting can take a backoff step or two on a loaded machine. */
const RECOVERY_TIMEOUT = 30_000;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Alice makes a room and adds Bob; both open it and see each other online. */
async function twoInARoom(roomName: string): Promise<{ alice: Person; bob: Person; roomId: string }> {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);

  await alice.page.getByTestId("room-name-input").fill(roomName);
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: roomName });
  const roomId = await link.getAttribute("data-room-id");
  assert.ok(roomId);
  await link.click();
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();

  await bob.page.goto(`/rooms/${roomId}`);
  for (const [p, other] of [
    [alice, bob],
    [bob, alice],
  ] as const) {
    await status(p.page, "connected");
    await p.page.locator('[data-testid="member"][data-online="true"]').filter({ hasText: other.name }).waitFor();
  }
  return { alice, bob, roomId };
}

async function status(page: Page, state: "connected" | "connecting" | "offline", timeout?: number): Promise<void> {
  await page.locator(`[data-testid="connection-status"][data-state="${state}"]`).waitFor({ timeout });
}

/** Type into the composer and press Enter. */
async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId("composer");
  await composer.fill(text);
  await composer.press("Enter");
  assert.equal(await composer.inputValue(), "", "the composer clears once sent");
}

/** Stored messages (with a seq) whose text is exactly `text`. */
function stored(page: Page, text: string) {
  return page
    .locator('[data-testid="message-list"] [data-testid="message"][data-seq]')
    .filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });
}

/** Every message row (stored or pending) in the list: its seq, pending flag and text. */
function rows(page: Page): Promise<{ seq: number | null; pending: boolean; text: string | null }[]> {
  return page.$$eval('[data-testid="message-list"] :is([data-testid="message"], [data-testid="unsent-message"])', (els) =>
    els.map((el) => ({
      seq: el.hasAttribute("data-seq") ? Number(el.getAttribute("data-seq")) : null,
      pending: el.getAttribute("data-pending") === "true",
      text: el.querySelector('[data-testid="message-text"]')?.textContent ?? null,
    })),
  );
}

/** Wait until exactly one row, a stored one, carries `text`; return its seq. */
async function deliveredOnce(page: Page, text: string, timeout = 15_000): Promise<number> {
  await page.waitForFunction(
    (t) => {
      const all = [...document.querySelectorAll('[data-testid="message-list"] :is([data-testid="message"], [data-testid="unsent-message"])')];
      const mine = all.filter((el) => el.querySelector('[data-testid="message-text"]')?.textContent === t);
      return mine.length === 1 && mine[0]!.hasAttribute("data-seq") && !mine[0]!.hasAttribute("data-pending");
    },
    text,
    { timeout },
  );
  return Number(await stored(page, text).getAttribute("data-seq"));
}

test("two people chat live: send, edit, delete, typing, multi-line", async () => {
  const { alice, bob } = await twoInARoom("Live chat");

  // Alice sends; both see it once, stored (with a seq).
  await send(alice.page, "Hello Bob!");
  const seqBob = await deliveredOnce(bob.page, "Hello Bob!");
  const seqAlice = await deliveredOnce(alice.page, "Hello Bob!");
  assert.equal(seqAlice, seqBob);
  assert.equal(await alice.page.locator('[data-pending="true"]').count(), 0, "no optimistic copy left behind");

  // She edits it: Bob sees the new text, marked edited.
  const mine = stored(alice.page, "Hello Bob!");
  await mine.hover();
  await mine.getByTestId("message-edit").click();
  const editor = alice.page.getByTestId("message-edit-input");
  await editor.fill("Hello Bob, welcome!");
  await editor.press("Enter");
  const edited = stored(bob.page, "Hello Bob, welcome!");
  await edited.getByTestId("message-edited").waitFor();
  assert.equal(await edited.getAttribute("data-seq"), String(seqBob), "an edit keeps the message's place");
  await stored(alice.page, "Hello Bob, welcome!").waitFor();

  // Bob starts typing: Alice sees who.
  await bob.page.getByTestId("composer").pressSequentially("Hi Ali", { delay: 20 });
  await alice.page.getByTestId("typing-indicator").filter({ hasText: `${bob.name} is typing…` }).waitFor();
  // …and when he clears the box, the indicator goes away.
  await bob.page.getByTestId("composer").fill("");
  await bob.page.getByTestId("composer").press("Backspace");
  await alice.page.waitForFunction(() => document.querySelector('[data-testid="typing-indicator"]')?.textContent?.trim() === "");

  // Shift+Enter makes a new line; Enter sends both lines as one message.
  const composer = bob.page.getByTestId("composer");
  await composer.pressSequentially("first line");
  await composer.press("Shift+Enter");
  await composer.pressSequentially("second line");
  assert.equal(await composer.inputValue(), "first line\nsecond line");
  await composer.press("Enter");
  await deliveredOnce(alice.page, "first line\nsecond line");
  const lines = await stored(alice.page, "first line\nsecond line")
    .getByTestId("message-text")
    .evaluate((el) => {
      const p = el.parentElement!;
      return p.getBoundingClientRect().height / parseFloat(getComputedStyle(p).lineHeight);
    });
  assert.ok(Math.round(lines) === 2, `the newline is shown as a line break (${lines} lines)`);
  await screenshot(alice.page, "10-chat-live");

  // A member cannot delete someone else's message; the owner can.
  const aliceOnBobsScreen = stored(bob.page, "Hello Bob, welcome!");
  await aliceOnBobsScreen.hover();
  assert.equal(await aliceOnBobsScreen.getByTestId("message-delete").count(), 0);
  assert.equal(await aliceOnBobsScreen.getByTestId("message-edit").count(), 0);
  const bobsOnAlicesScreen = stored(alice.page, "first line\nsecond line");
  await bobsOnAlicesScreen.hover();
  assert.equal(await bobsOnAlicesScreen.getByTestId("message-edit").count(), 0, "nobody edits someone else's message");
  await bobsOnAlicesScreen.getByTestId("message-delete").click();
  await alice.page.getByTestId("message-delete-confirm").click();
  await bob.page.locator('[data-testid="message"][data-deleted="true"]').filter({ hasText: "This message was deleted" }).waitFor();

  // Alice deletes her message: Bob sees it as deleted, and its text is gone.
  const hers = stored(alice.page, "Hello Bob, welcome!");
  await hers.hover();
  await hers.getByTestId("message-delete").click();
  await alice.page.getByTestId("message-delete-confirm").click();
  const gone = bob.page.locator(`[data-testid="message"][data-seq="${seqBob}"]`);
  await gone.filter({ hasText: "This message was deleted" }).waitFor();
  await bob.page.waitForFunction(() => document.querySelectorAll('[data-deleted="true"]').length === 2);
  assert.equal(await gone.getAttribute("data-deleted"), "true");
  assert.equal(await bob.page.getByText("Hello Bob, welcome!").count(), 0);
  await alice.page.locator(`[data-testid="message"][data-seq="${seqBob}"][data-deleted="true"]`).waitFor();
  await screenshot(bob.page, "11-chat-deleted");

  await alice.context.close();
  await bob.context.close();
});

test("connection recovery: offline, missed messages arrive in order once, no reload (test plan case 4)", async () => {
  const { alice, bob } = await twoInARoom("Recovery");
  await send(alice.page, "before the drop");
  await deliveredOnce(bob.page, "before the drop");
  await bob.page.evaluate(() => {
    (window as unknown as { parleyMarker: string }).parleyMarker = "same page";
  });

  await bob.context.setOffline(true);
  await status(bob.page, "offline");

  const texts = ["missed one", "missed two", "missed three"];
  for (const text of texts) await send(alice.page, text);
  for (const text of texts) await deliveredOnce(alice.page, text);

  await bob.context.setOffline(false);
  for (const text of texts) await deliveredOnce(bob.page, text, RECOVERY_TIMEOUT);
  await status(bob.page, "connected", RECOVERY_TIMEOUT);

  const list = await rows(bob.page);
  const missed = list.filter((r) => r.text !== null && texts.includes(r.text));
  assert.deepEqual(
    missed.map((r) => r.text),
    texts,
    "all three, in order, once each",
  );
  const seqs = missed.map((r) => r.seq!);
  assert.deepEqual(seqs, [seqs[0]!, seqs[0]! + 1, seqs[0]! + 2], "contiguous seqs");
  const allSeqs = list.filter((r) => r.seq !== null).map((r) => r.seq!);
  assert.equal(new Set(allSeqs).size, allSeqs.length, "no message twice");
  assert.equal(
    await bob.page.evaluate(() => (window as unknown as { parleyMarker?: string }).parleyMarker),
    "same page",
    "recovered without a reload",
  );

  await alice.context.close();
  await bob.context.close();
});

test("a message written while offline is delivered exactly once after reconnecting", async () => {
  const { alice, bob, roomId } = await twoInARoom("Outbox");

  await bob.context.setOffline(true);
  await status(bob.page, "offline");
  await send(bob.page, "written offline");
  // Shown at once, as pending (no seq yet).
  const pending = bob.page.locator('[data-testid="unsent-message"]');
  await pending.filter({ hasText: "written offline" }).waitFor();
  assert.equal(await pending.getAttribute("data-seq"), null);
  await screenshot(bob.page, "12-chat-offline-pending");

  await bob.context.setOffline(false);
  const seqBob = await deliveredOnce(bob.page, "written offline", RECOVERY_TIMEOUT);
  const seqAlice = await deliveredOnce(alice.page, "written offline", RECOVERY_TIMEOUT);
  assert.equal(seqAlice, seqBob);

  // Anything late (a second copy) would arrive before a message sent after it.
  await send(alice.page, "sentinel");
  await deliveredOnce(bob.page, "sentinel");
  await deliveredOnce(alice.page, "sentinel");
  for (const p of [alice, bob]) {
    const list = await rows(p.page);
    assert.equal(list.filter((r) => r.text === "written offline").length, 1, `${p.name} sees it once`);
    assert.equal(list.filter((r) => r.pending).length, 0, `${p.name} has nothing pending`);
  }

  // The stored copy is the same message over HTTP too (one message, not two).
  const history = await bob.page.request.get(`${BASE_URL}/api/rooms/${roomId}/messages?limit=100`);
  const { messages } = (await history.json()) as { messages: { text: string | null }[] };
  assert.equal(messages.filter((m) => m.text === "written offline").length, 1);

  await alice.context.close();
  await bob.context.close();
});

test("R18 messages unsent when the page goes away are sent once when the room is opened again", async () => {
  const { alice, bob, roomId } = await twoInARoom("Reload");

  await bob.context.setOffline(true);
  await status(bob.page, "offline");
  const texts = ["unsent before reload", "and a second one"];
  for (const text of texts) await send(bob.page, text);
  await bob.page.locator('[data-testid="unsent-message"]').filter({ hasText: texts[1]! }).waitFor();
  // Leaving asks first while something is unsent.
  const dialog = new Promise<string>((resolve) =>
    bob.page.once("dialog", (d) => {
      resolve(d.type());
      void d.accept();
    }),
  );
  // The tab goes away with both unsent (a reload offline would only show the browser's error page).
  await bob.page.close({ runBeforeUnload: true });
  assert.equal(await dialog, "beforeunload", "a leave-the-page warning while messages are unsent");
  if (!bob.page.isClosed()) await bob.page.waitForEvent("close");
  await bob.context.setOffline(false);

  const page = await bob.context.newPage();
  await page.goto(`/rooms/${roomId}`);
  for (const text of texts) await deliveredOnce(page, text, RECOVERY_TIMEOUT);
  for (const text of texts) await deliveredOnce(alice.page, text, RECOVERY_TIMEOUT);
  const list = (await rows(alice.page)).filter((r) => r.text !== null && texts.includes(r.text));
  assert.deepEqual(list.map((r) => r.text), texts, "once each, in the order written");

  // A second reload sends nothing again: the saved outbox is empty once they are stored.
  await page.reload();
  await status(page, "connected", RECOVERY_TIMEOUT);
  await send(alice.page, "sentinel");
  await deliveredOnce(page, "sentinel");
  const history = await page.request.get(`${BASE_URL}/api/rooms/${roomId}/messages?limit=100`);
  const { messages } = (await history.json()) as { messages: { text: string | null }[] };
  for (const text of texts) assert.equal(messages.filter((m) => m.text === text).length, 1, `"${text}" stored once`);
  assert.equal(await page.locator('[data-pending="true"]').count(), 0, "nothing left pending");

  await alice.context.close();
  await bob.context.close();
});

test("history pages in when scrolling up, keeping the view still; new messages below show a pill", async () => {
  const { alice, bob, roomId } = await twoInARoom("Long history");
  // 70 messages over HTTP (the send limit allows a burst of 20, then 10 per second).
  for (let i = 1; i <= 70; i++) {
    for (;;) {
      const res = await alice.page.request.post(`${BASE_URL}/api/rooms/${roomId}/messages`, {
        data: { clientId: randomUUID(), text: `history ${i}` },
        headers: { Origin: BASE_URL },
      });
      if (res.status() === 201) break;
      assert.equal(res.status(), 429, await res.text());
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await deliveredOnce(bob.page, "history 70");
  // Bob, at the bottom and looking, read each as it came (Alice sees his receipt under the last).
  await stored(alice.page, "history 70").getByTestId("receipt").filter({ hasText: bob.name }).waitFor();

  // A fresh visit (nothing unread) shows the latest 50, at the bottom.
  await bob.page.reload();
  await deliveredOnce(bob.page, "history 70");
  await bob.page.locator('[data-testid="message-list"]:not([data-reading="off"])').waitFor();
  assert.equal(await bob.page.locator('[data-testid="message"][data-seq]').count(), 50);
  await bob.page.getByTestId("load-older").waitFor();
  const list = bob.page.getByTestId("message-list");
  assert.ok(await list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 4), "starts at the bottom");

  // Scrolling to the top loads the rest; what was on screen stays where it was. (The
  // first loaded message itself loses its author line once grouped with older ones,
  // so watch the one after it.)
  const before = await list.evaluate((el) => {
    el.scrollTop = 0;
    const second = el.querySelectorAll('[data-testid="message"][data-seq]')[1]!;
    return { seq: second.getAttribute("data-seq"), y: second.getBoundingClientRect().top };
  });
  await bob.page.getByTestId("room-beginning").waitFor();
  assert.equal(await bob.page.locator('[data-testid="message"][data-seq]').count(), 70);
  const after = await bob.page
    .locator(`[data-testid="message"][data-seq="${before.seq}"]`)
    .evaluate((el) => el.getBoundingClientRect().top);
  assert.ok(Math.abs(after - before.y) < 4, `the view did not jump (${before.y} → ${after})`);
  const texts = (await rows(bob.page)).map((r) => r.text);
  assert.deepEqual(
    texts,
    Array.from({ length: 70 }, (_, i) => `history ${i + 1}`),
  );

  // Reading old messages: a new one does not yank the view, a pill offers to jump.
  const scrolled = await list.evaluate((el) => el.scrollTop);
  await send(alice.page, "news from below");
  await deliveredOnce(bob.page, "news from below");
  const pill = bob.page.getByTestId("new-messages");
  await pill.waitFor();
  assert.ok(Math.abs((await list.evaluate((el) => el.scrollTop)) - scrolled) < 4);
  await screenshot(bob.page, "13-chat-new-messages-pill");
  await pill.click();
  await pill.waitFor({ state: "detached" });
  await bob.page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="message-list"]')!;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 4;
  });

  // At the bottom, new messages scroll into view by themselves.
  await send(alice.page, "and one more");
  await deliveredOnce(bob.page, "and one more");
  await bob.page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="message-list"]')!;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 4;
  });
  assert.equal(await pill.count(), 0);

  await alice.context.close();
  await bob.context.close();
});
