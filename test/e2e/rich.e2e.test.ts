// Rich messages in the browser (issue #15): formatting renders as elements (S12: hostile input
// stays text or an inert link), search finds messages across rooms and jumps to one, and
// reactions toggle live for everyone.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { apiCall, BASE_URL, launch, type Person, person, screenshot, signUp } from "./lib.ts";

const LIVE = 20_000;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function roomOf(owner: Person, name: string, members: Person[] = []): Promise<string> {
  const { room } = (await apiCall(owner.page, "POST", "/api/rooms", { name })) as { room: { id: string } };
  for (const m of members) await apiCall(owner.page, "POST", `/api/rooms/${room.id}/members`, { username: m.name });
  return room.id;
}

const say = (p: Person, roomId: string, text: string) => apiCall(p.page, "POST", `/api/rooms/${roomId}/messages`, { clientId: crypto.randomUUID(), text });

/** Many messages, waiting out the send rate limit (429 + Retry-After) where it applies. */
async function sayMany(p: Person, roomId: string, texts: string[]) {
  for (const text of texts) {
    const clientId = crypto.randomUUID();
    for (;;) {
      const res = await p.page.request.post(`/api/rooms/${roomId}/messages`, { data: { clientId, text }, headers: { Origin: BASE_URL } });
      if (res.status() !== 429) {
        assert.ok(res.ok(), `send: ${res.status()}`);
        break;
      }
      await new Promise((r) => setTimeout(r, Number(res.headers()["retry-after"] ?? "1") * 1000)); // the server's own wait
    }
  }
}

test("formatting renders as elements; S12 hostile markup and links stay text or inert links", async () => {
  const alice = await person(browser, "fmt");
  try {
    await signUp(alice);
    const roomId = await roomOf(alice, "Formatting");
    const hostile = [
      "[x](javascript:alert(1))",
      "<javascript:alert(1)>",
      "<img src=x onerror=\"window.__pwned=1\">",
      "<script>window.__pwned=1</script>",
      "[d](data:text/html,<script>window.__pwned=1</script>)",
      "<vbscript:msgbox(1)>",
      '<https://ex.com/"onmouseover="window.__pwned=1>',
    ];
    await say(alice, roomId, "**bold** _italic_ ~~strike~~ `code`\n> quoted\n\n- one\n- two\n\n```\nblock **not bold**\n```\nsee https://example.com/page");
    for (const h of hostile) await say(alice, roomId, h);
    await alice.page.goto(`/rooms/${roomId}`);
    const bodies = alice.page.getByTestId("message-body");
    await alice.page.waitForFunction((n) => document.querySelectorAll('[data-testid="message-body"]').length >= n, hostile.length + 1, { timeout: LIVE });

    const first = bodies.first();
    assert.equal(await first.locator("strong").first().textContent(), "bold");
    assert.equal(await first.locator("em").first().textContent(), "italic");
    assert.equal(await first.locator("s").first().textContent(), "strike");
    assert.equal(await first.locator("blockquote").count(), 1);
    assert.equal(await first.locator("li").count(), 2);
    assert.equal(await first.locator("pre code").textContent(), "block **not bold**");
    const link = first.locator("a");
    assert.equal(await link.getAttribute("href"), "https://example.com/page");
    assert.equal(await link.getAttribute("target"), "_blank");
    assert.equal(await link.getAttribute("rel"), "noopener noreferrer nofollow");

    // S12: no element a payload could make, every link http(s), and the text still there.
    const report = await alice.page.evaluate(() => {
      const all = [...document.querySelectorAll('[data-testid="message-body"]')].slice(1);
      return {
        dangerous: all.flatMap((b) => [...b.querySelectorAll("img, script, iframe, object, embed, svg, style, [onerror], [onmouseover], [onclick]")]).length,
        hrefs: all.flatMap((b) => [...b.querySelectorAll("a")].map((a) => a.getAttribute("href") ?? "")),
        texts: all.map((b) => b.textContent),
        pwned: (window as unknown as { __pwned?: number }).__pwned ?? 0,
      };
    });
    assert.equal(report.dangerous, 0);
    assert.equal(report.pwned, 0);
    for (const href of report.hrefs) assert.match(href, /^(https?:|mailto:)/, href);
    assert.deepEqual(report.hrefs, ["https://ex.com/%22onmouseover=%22window.__pwned=1"]);
    assert.ok(report.texts.includes("[x](javascript:alert(1))"), JSON.stringify(report.texts));
    assert.ok(report.texts.includes('<img src=x onerror="window.__pwned=1">'), JSON.stringify(report.texts));
    await screenshot(alice.page, "80-formatting");
  } finally {
    await alice.context.close();
  }
});

test("search finds messages across my rooms (never others'), highlights the words, and a hit opens its room at the message", async () => {
  const alice = await person(browser, "srch");
  const bob = await person(browser, "srchb");
  try {
    await signUp(alice);
    await signUp(bob);
    const mine = await roomOf(alice, "Launch");
    const other = await roomOf(bob, "Bob private");
    await say(alice, mine, "the quarterly launch checklist is ready");
    // Far enough back that the room opens without it: the hit must page it in.
    await sayMany(alice, mine, Array.from({ length: 70 }, (_, i) => `filler message ${i}`));
    await say(bob, other, "quarterly secrets nobody else sees");

    await alice.page.goto("/rooms");
    await alice.page.getByTestId("search-open").click();
    const input = alice.page.getByTestId("search-input");
    await input.waitFor();
    await input.fill("quarterly");
    const results = alice.page.getByTestId("search-result");
    await results.first().waitFor({ timeout: LIVE });
    assert.equal(await results.count(), 1);
    assert.equal(await results.first().getAttribute("data-room-id"), mine);
    assert.equal(await results.first().locator("mark").first().textContent(), "quarterly");
    await screenshot(alice.page, "81-search");

    const seq = await results.first().getAttribute("data-seq");
    await results.first().click();
    await alice.page.waitForURL(`**/rooms/${mine}?at=${seq}`);
    // The hit is shown and marked for a moment.
    await alice.page.locator(`[data-testid="message"][data-seq="${seq}"][data-highlighted="true"]`).waitFor({ timeout: LIVE });

    // Ctrl+K opens it from anywhere; a query that is all operators gets the server's sentence, not an error page.
    await alice.page.getByTestId("search-open").waitFor();
    await alice.page.locator("body").press("Control+k");
    await input.fill("!!!");
    await alice.page.getByRole("alert").filter({ hasText: "at least one word" }).waitFor({ timeout: LIVE });
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test("reactions: a chip appears live for the other member with its count and who; toggling it off removes it", async () => {
  const alice = await person(browser, "rx");
  const bob = await person(browser, "rxb");
  try {
    await signUp(alice);
    await signUp(bob);
    const roomId = await roomOf(alice, "Reactions", [bob]);
    const { message } = (await say(alice, roomId, "react to this")) as { message: { id: string } };
    await alice.page.goto(`/rooms/${roomId}`);
    await bob.page.goto(`/rooms/${roomId}`);
    const row = (p: Person) => p.page.locator(`[data-testid="message"][data-message-id="${message.id}"]`);
    await row(bob).waitFor();
    await row(alice).waitFor();

    // No reactions yet: "Add reaction" is in the message's toolbar (shown on hover or focus).
    await row(bob).hover();
    await row(bob).getByTestId("react-button").click();
    await row(bob).locator('[data-testid="quick-reaction"][data-emoji="🎉"]').click();
    const chip = (p: Person) => row(p).locator('[data-testid="reaction"][data-emoji="🎉"]');
    await chip(alice).waitFor({ timeout: LIVE });
    assert.equal(await chip(alice).getAttribute("data-count"), "1");
    assert.equal(await chip(alice).getAttribute("aria-pressed"), "false");
    assert.match((await chip(alice).getAttribute("aria-label")) ?? "", new RegExp(`${bob.name} reacted with 🎉`));
    assert.equal(await chip(bob).getAttribute("aria-pressed"), "true");

    // Alice joins in: 2 for both; then Bob takes his back: 1, and mine stays pressed.
    await chip(alice).click();
    await bob.page.waitForFunction((id) => document.querySelector(`[data-message-id="${id}"] [data-testid="reaction"][data-emoji="🎉"]`)?.getAttribute("data-count") === "2", message.id, { timeout: LIVE });
    await screenshot(bob.page, "82-reactions");
    await chip(bob).click();
    await alice.page.waitForFunction((id) => document.querySelector(`[data-message-id="${id}"] [data-testid="reaction"][data-emoji="🎉"]`)?.getAttribute("data-count") === "1", message.id, { timeout: LIVE });
    assert.equal(await chip(alice).getAttribute("aria-pressed"), "true");
    await chip(alice).click();
    await row(bob).locator('[data-testid="reaction"]').first().waitFor({ state: "detached", timeout: LIVE });
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test("mentions: @ offers members, the mention is a pill with the name, and the mentioned member's list shows a highlighted count", async () => {
  const alice = await person(browser, "men");
  const bob = await person(browser, "menb");
  try {
    await signUp(alice);
    await signUp(bob);
    const roomId = await roomOf(alice, "Mentions", [bob]);
    await bob.page.goto("/rooms");
    const link = bob.page.locator(`[data-testid="room-link"][data-room-id="${roomId}"]`);
    await link.waitFor();
    assert.equal(await link.getByTestId("room-mentions").count(), 0);

    await alice.page.goto(`/rooms/${roomId}`);
    const composer = alice.page.getByTestId("composer");
    await composer.click();
    await composer.pressSequentially(`hey @${bob.name.slice(0, 4)}`);
    const option = alice.page.locator(`[data-testid="mention-option"][data-user-id]`).filter({ hasText: bob.name });
    await option.waitFor({ timeout: LIVE });
    await composer.press("Enter"); // picks the option
    assert.equal(await composer.inputValue(), `hey @${bob.name} `);
    await composer.pressSequentially("look");
    await composer.press("Enter");
    const pill = alice.page.locator('[data-testid="message-body"] .mention').filter({ hasText: `@${bob.name}` });
    await pill.waitFor({ timeout: LIVE });

    await bob.page.waitForFunction((id) => document.querySelector(`[data-room-id="${id}"] [data-testid="room-mentions"]`)?.getAttribute("data-count") === "1", roomId, {
      timeout: LIVE,
    });
    await screenshot(bob.page, "83-mentions-sidebar");
    await link.click();
    await bob.page.locator('[data-testid="message"][data-mentions-me="true"]').waitFor({ timeout: LIVE });
    // Reading it clears the mention count too.
    await link.getByTestId("room-mentions").waitFor({ state: "detached", timeout: LIVE });
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test("threads: a reply goes to the thread panel, not the timeline, and the parent's reply count moves live for everyone", async () => {
  const alice = await person(browser, "thr");
  const bob = await person(browser, "thrb");
  try {
    await signUp(alice);
    await signUp(bob);
    const roomId = await roomOf(alice, "Threads", [bob]);
    const { message } = (await say(alice, roomId, "what do we ship friday?")) as { message: { id: string } };
    await alice.page.goto(`/rooms/${roomId}`);
    await bob.page.goto(`/rooms/${roomId}`);
    const parentRow = (p: Person) => p.page.locator(`[data-testid="message"][data-message-id="${message.id}"]`);
    await parentRow(alice).waitFor();
    // "Reply in thread" is in the message's toolbar (shown on hover or focus).
    await parentRow(bob).hover();
    await parentRow(bob).getByTestId("thread-open").click();
    const panel = bob.page.getByTestId("thread-panel");
    await panel.waitFor();
    await panel.getByTestId("thread-parent").filter({ hasText: "what do we ship friday?" }).waitFor();
    await panel.getByTestId("composer").fill("the search feature");
    await panel.getByTestId("send").click();
    await panel.getByTestId("thread-reply").filter({ hasText: "the search feature" }).waitFor({ timeout: LIVE });
    await screenshot(bob.page, "84-thread-panel");

    // Alice: the count on the parent, live; the reply is not in her timeline.
    await alice.page.locator(`[data-message-id="${message.id}"] [data-testid="thread-open"][data-replies="1"]`).waitFor({ timeout: LIVE });
    assert.equal(await alice.page.getByTestId("message-list").getByText("the search feature").count(), 0);
    await parentRow(alice).getByTestId("thread-open").click();
    const hers = alice.page.getByTestId("thread-panel");
    await hers.getByTestId("thread-reply").filter({ hasText: "the search feature" }).waitFor({ timeout: LIVE });
    // Her reply reaches Bob's open panel live; Escape closes hers.
    await hers.getByTestId("composer").fill("agreed");
    await hers.getByTestId("composer").press("Enter");
    await panel.getByTestId("thread-reply").filter({ hasText: "agreed" }).waitFor({ timeout: LIVE });
    await bob.page.locator(`[data-message-id="${message.id}"] [data-testid="thread-open"][data-replies="2"]`).waitFor({ timeout: LIVE });
    await hers.getByTestId("composer").press("Escape");
    await hers.waitFor({ state: "detached" });
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test("R18 a thread reply written offline waits in the panel, outlives the tab, and is sent once when the room opens again", async () => {
  const alice = await person(browser, "thro");
  try {
    await signUp(alice);
    const roomId = await roomOf(alice, "Offline thread");
    const { message } = (await say(alice, roomId, "the parent")) as { message: { id: string } };
    await alice.page.goto(`/rooms/${roomId}`);
    const parentRow = alice.page.locator(`[data-testid="message"][data-message-id="${message.id}"]`);
    await parentRow.hover();
    await parentRow.getByTestId("thread-open").click();
    const panel = alice.page.getByTestId("thread-panel");
    await panel.getByTestId("thread-parent").waitFor();
    await alice.context.setOffline(true);
    await alice.page.locator('[data-testid="connection-status"][data-state="offline"]').waitFor({ timeout: LIVE });
    await panel.getByTestId("composer").fill("written offline");
    await panel.getByTestId("send").click();
    await panel.getByTestId("thread-pending").filter({ hasText: "written offline" }).waitFor();
    assert.equal(await alice.page.getByTestId("unsent-message").count(), 0, "a reply is not an unsent message of the main timeline");
    alice.page.once("dialog", (d) => void d.accept());
    await alice.page.close({ runBeforeUnload: true });
    if (!alice.page.isClosed()) await alice.page.waitForEvent("close");
    await alice.context.setOffline(false);

    const page = await alice.context.newPage();
    await page.goto(`/rooms/${roomId}`);
    await page.locator(`[data-message-id="${message.id}"] [data-testid="thread-open"][data-replies="1"]`).waitFor({ timeout: LIVE });
    const thread = async () => {
      const res = await page.request.get(`/api/rooms/${roomId}/messages?thread=${message.id}`);
      return ((await res.json()) as { messages: { text: string | null }[] }).messages.map((m) => m.text);
    };
    assert.deepEqual(await thread(), ["written offline"]);
    // Once stored it is not sent again by a later page.
    await page.reload();
    await page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: LIVE });
    await apiCall(page, "POST", `/api/rooms/${roomId}/messages`, { clientId: crypto.randomUUID(), text: "sentinel" });
    await page.getByTestId("message").filter({ hasText: "sentinel" }).waitFor({ timeout: LIVE });
    assert.deepEqual(await thread(), ["written offline"]);
  } finally {
    await alice.context.close();
  }
});

test("mute: the room header's toggle is kept by the server and reaches my other tab live", async () => {
  const alice = await person(browser, "mute");
  try {
    await signUp(alice);
    const roomId = await roomOf(alice, "Noisy");
    const other = await alice.context.newPage();
    await other.goto("/rooms");
    const link = other.locator(`[data-testid="room-link"][data-room-id="${roomId}"]`);
    await link.waitFor();
    assert.equal(await link.getAttribute("data-muted"), null);

    await alice.page.goto(`/rooms/${roomId}`);
    const mute = alice.page.getByTestId("room-mute");
    await mute.click();
    await alice.page.locator('[data-testid="room-mute"][aria-pressed="true"]').waitFor({ timeout: LIVE });
    await other.locator(`[data-testid="room-link"][data-room-id="${roomId}"][data-muted="true"]`).waitFor({ timeout: LIVE });
    await alice.page.reload();
    await alice.page.locator('[data-testid="room-mute"][aria-pressed="true"]').waitFor({ timeout: LIVE });
    await alice.page.getByTestId("room-mute").click();
    await other.locator(`[data-testid="room-link"][data-room-id="${roomId}"]:not([data-muted])`).waitFor({ timeout: LIVE });
  } finally {
    await alice.context.close();
  }
});
