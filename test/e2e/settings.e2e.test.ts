// Account settings (/settings, issue #14): a display name that others see
// live on my messages, files, typing and in the members list; a password
// change that signs my other browser out; "sign out everywhere"; and deleting
// the account (signed out, my messages show "deleted user", my username is
// free again). Nothing on the watching side is reloaded.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: events cross a loaded 2-core machine. */
const LIVE = 20_000;
const DELETED = "deleted user";

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function connected(page: Page): Promise<void> {
  await page.locator('[data-testid="connection-status"][data-state="connected"]').waitFor({ timeout: LIVE });
}

/** Mark the page so a later check can tell it was never reloaded. */
async function mark(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { parleyMarker: string }).parleyMarker = "same page"));
}

async function notReloaded(page: Page, who: string): Promise<void> {
  const marker = await page.evaluate(() => (window as unknown as { parleyMarker?: string }).parleyMarker);
  assert.equal(marker, "same page", `${who}'s page was not reloaded`);
}

/** Alice makes a room, adds Bob, both have it open. */
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
  await connected(alice.page);
  await connected(bob.page);
  return { alice, bob, roomId };
}

/** The same account in another browser (its own cookies), signed in through the form. */
async function secondBrowser(p: Person): Promise<Person> {
  const other = await person(browser, "again");
  other.name = p.name;
  other.password = p.password;
  await other.page.goto("/");
  await signIn(other, p.password);
  await other.page.waitForURL("**/rooms");
  return other;
}

async function signIn(p: Person, password: string): Promise<void> {
  await p.page.getByTestId("auth-username").waitFor();
  await p.page.getByTestId("auth-username").fill(p.name);
  await p.page.getByTestId("auth-password").fill(password);
  await p.page.getByTestId("auth-login").click();
}

/** Send a message and wait until it is stored. */
async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("composer").press("Enter");
  await storedMessage(page, text).waitFor();
}

function storedMessage(page: Page, text: string) {
  return page.locator('[data-testid="message"][data-seq]').filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });
}

/** The author shown on the stored message with this text. */
async function authorOf(page: Page, text: string, want: string): Promise<void> {
  await storedMessage(page, text).getByTestId("message-author").filter({ hasText: want }).waitFor({ timeout: LIVE });
  assert.equal((await storedMessage(page, text).getByTestId("message-author").textContent())?.trim(), want);
}

/** Open the settings from the top bar's link. */
async function openSettings(p: Person): Promise<void> {
  await p.page.getByRole("link", { name: /^Settings, signed in as/ }).click();
  await p.page.waitForURL("**/settings");
  await p.page.getByRole("heading", { name: "Account settings" }).waitFor();
}

/** At the sign-in page, signed out. */
async function atSignIn(page: Page): Promise<void> {
  await page.waitForURL((url) => url.pathname === "/", { timeout: LIVE });
  await page.getByTestId("auth-username").waitFor({ timeout: LIVE });
}

test("a display name replaces my username for the others, live: messages, files, typing, members list; empty clears it", async () => {
  const { alice, bob } = await twoInARoom("Names");
  await send(alice.page, "hello from alice");
  await alice.page.getByTestId("file-input").setInputFiles({ name: "plan.txt", mimeType: "text/plain", buffer: Buffer.from("the plan") });
  await alice.page.getByTestId("upload-button").click();
  const bobsFile = bob.page.getByTestId("files-list").getByTestId("file-item").filter({ hasText: "plan.txt" });
  await bobsFile.waitFor({ timeout: LIVE });
  await authorOf(bob.page, "hello from alice", alice.name);
  // The file's link reads as one phrase (no "Downloadplan.txt").
  assert.equal(await bobsFile.getByRole("link", { name: "Download plan.txt", exact: true }).count(), 1);
  await mark(bob.page);

  await openSettings(alice);
  const input = alice.page.getByTestId("display-name-input");
  // The server's 400 is shown in words, and what was typed stays.
  const tooLong = "A".repeat(65);
  await input.fill(tooLong);
  await alice.page.getByTestId("display-name-save").click();
  await alice.page.getByTestId("error").filter({ hasText: "at most 64 characters" }).waitFor();
  assert.equal(await input.inputValue(), tooLong);
  assert.equal(await input.getAttribute("aria-invalid"), "true");

  await input.fill("  Alice Wonder ");
  await alice.page.getByTestId("display-name-save").click();
  await alice.page.getByTestId("display-name-saved").filter({ hasText: "Alice Wonder" }).waitFor();
  assert.equal(await alice.page.getByTestId("error").count(), 0, "the old error is gone");
  await alice.page.getByTestId("current-user").filter({ hasText: "Alice Wonder" }).waitFor();
  await screenshot(alice.page, "settings-display-name");

  // Bob's open room changes without a reload: the message, the file, the members list.
  await authorOf(bob.page, "hello from alice", "Alice Wonder");
  await bobsFile.getByTestId("file-uploader").filter({ hasText: "Alice Wonder" }).waitFor({ timeout: LIVE });
  await bob.page.getByTestId("member").filter({ hasText: "Alice Wonder" }).waitFor({ timeout: LIVE });
  await notReloaded(bob.page, "bob");

  // Back in the room: her new messages and her typing carry the name too.
  await alice.page.goBack();
  await connected(alice.page);
  await authorOf(alice.page, "hello from alice", "Alice Wonder");
  await alice.page.getByTestId("composer").fill("typing as someone with a name");
  await bob.page.getByTestId("typing-indicator").filter({ hasText: "Alice Wonder is typing…" }).waitFor({ timeout: LIVE });
  await alice.page.getByTestId("composer").press("Enter");
  // A follow-up row names its author for screen readers only ("Alice Wonder: …").
  await storedMessage(bob.page, "typing as someone with a name").filter({ hasText: "Alice Wonder" }).waitFor({ timeout: LIVE });
  await screenshot(bob.page, "settings-display-name-seen-by-bob");

  // Emptying it goes back to the username, for everyone.
  await openSettings(alice);
  await alice.page.getByTestId("display-name-input").fill("");
  await alice.page.getByTestId("display-name-save").click();
  await alice.page.getByTestId("display-name-saved").filter({ hasText: `You appear as ${alice.name}` }).waitFor();
  await alice.page.getByTestId("current-user").filter({ hasText: alice.name }).waitFor();
  await authorOf(bob.page, "hello from alice", alice.name);
  await bob.page.getByTestId("member").filter({ hasText: alice.name }).waitFor({ timeout: LIVE });
  await notReloaded(bob.page, "bob");
  await alice.context.close();
  await bob.context.close();
});

test("changing the password: a wrong current one is refused in words, keeping the input; then my other browser is signed out and only the new password works", async () => {
  const alice = await person(browser, "pw");
  await signUp(alice);
  const elsewhere = await secondBrowser(alice);
  // The other browser sits in a room (its room socket and its badge socket are both open).
  await elsewhere.page.getByTestId("room-name-input").fill("Elsewhere");
  await elsewhere.page.getByTestId("room-create").click();
  await elsewhere.page.getByTestId("room-link").filter({ hasText: "Elsewhere" }).click();
  await connected(elsewhere.page);

  await openSettings(alice);
  const current = alice.page.getByTestId("password-current");
  const next = alice.page.getByTestId("password-new");
  const confirm = alice.page.getByTestId("password-confirm");
  await current.fill("not my password at all");
  await next.fill("a brand new password");
  await confirm.fill("a brand new password");
  await alice.page.getByTestId("password-save").click();
  await alice.page.getByTestId("error").filter({ hasText: "current password is not right" }).waitFor();
  assert.deepEqual(
    [await current.inputValue(), await next.inputValue(), await confirm.inputValue()],
    ["not my password at all", "a brand new password", "a brand new password"],
    "nothing typed is lost",
  );
  await screenshot(alice.page, "settings-password-wrong");

  // A confirmation that does not match is caught before asking the server.
  await current.fill(alice.password);
  await confirm.fill("a brand new passwort");
  await alice.page.getByTestId("password-save").click();
  await alice.page.getByTestId("error").filter({ hasText: "do not match" }).waitFor();

  await confirm.fill("a brand new password");
  await alice.page.getByTestId("password-save").click();
  await alice.page.getByTestId("password-changed").filter({ hasText: "other sessions were signed out" }).waitFor();
  assert.equal(await current.inputValue(), "", "the fields empty once it worked");

  // The other browser lands on the sign-in page by itself; this one stays signed in.
  await atSignIn(elsewhere.page);
  await alice.page.reload();
  await alice.page.getByTestId("current-user").filter({ hasText: alice.name }).waitFor();

  // The old password no longer signs in; the new one does.
  await signIn(elsewhere, alice.password);
  await elsewhere.page.getByTestId("error").filter({ hasText: "Wrong username or password" }).waitFor();
  await signIn(elsewhere, "a brand new password");
  await elsewhere.page.waitForURL("**/rooms");
  await alice.context.close();
  await elsewhere.context.close();
});

test("sign out everywhere (after a confirmation): this browser and my other one both land on the sign-in page", async () => {
  const alice = await person(browser, "everywhere");
  await signUp(alice);
  // The other browser is on the rooms list: only its badge socket is open.
  const elsewhere = await secondBrowser(alice);
  await connected(elsewhere.page);

  await openSettings(alice);
  // Usable on a phone: nothing runs off the side.
  await alice.page.setViewportSize({ width: 390, height: 844 });
  await alice.page.getByTestId("signout-everywhere").scrollIntoViewIfNeeded();
  const overflow = await alice.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the settings page overflows the phone's width by ${overflow}px`);
  await screenshot(alice.page, "settings-phone");
  await alice.page.getByTestId("signout-everywhere").click();
  const yes = alice.page.getByTestId("signout-everywhere-confirm");
  await yes.waitFor();
  await screenshot(alice.page, "settings-signout-everywhere-confirm");
  await yes.click();

  await atSignIn(alice.page);
  await atSignIn(elsewhere.page);
  // Signed out for real: a signed-in page sends each back to sign in.
  for (const p of [alice, elsewhere]) {
    await p.page.goto("/settings");
    await atSignIn(p.page);
  }
  await alice.context.close();
  await elsewhere.context.close();
});

test("deleting the account: a wrong password keeps it; then I am signed out, others see my messages as deleted user, and my username is free", async () => {
  const { alice, bob } = await twoInARoom("Farewell");
  await send(alice.page, "goodbye, everyone");
  await authorOf(bob.page, "goodbye, everyone", alice.name);
  await mark(bob.page);

  await openSettings(alice);
  const password = alice.page.getByTestId("delete-account-password");
  await password.fill("the wrong password");
  await alice.page.getByTestId("delete-account").click();
  await alice.page.getByTestId("delete-account-confirm").click();
  await alice.page.getByTestId("error").filter({ hasText: "was not deleted" }).waitFor();
  assert.equal(await password.inputValue(), "the wrong password", "the password typed stays");
  await screenshot(alice.page, "settings-delete-wrong-password");

  await password.fill(alice.password);
  await alice.page.getByTestId("delete-account").click();
  await alice.page.getByTestId("delete-account-confirm").click();
  await atSignIn(alice.page);

  // Bob's open room: the message stays, by "deleted user"; alice is gone from the members.
  await authorOf(bob.page, "goodbye, everyone", DELETED);
  await bob.page.getByTestId("member").filter({ hasText: alice.name }).waitFor({ state: "detached", timeout: LIVE });
  await notReloaded(bob.page, "bob");
  await screenshot(bob.page, "settings-deleted-user-seen-by-bob");

  // The old password signs nobody in; the username can be registered again, as a new account.
  await signIn(alice, alice.password);
  await alice.page.getByTestId("error").filter({ hasText: "Wrong username or password" }).waitFor();
  await signUp(alice);
  await alice.page.getByTestId("current-user").filter({ hasText: alice.name }).waitFor();
  await alice.context.close();
  await bob.context.close();
});

test("too many wrong passwords: the settings say how long to wait (429)", async () => {
  const alice = await person(browser, "slow");
  await signUp(alice);
  await openSettings(alice);
  // The sign-in throttle's free attempts (10 per account) are used up directly, then the form is refused.
  const statuses = await alice.page.evaluate(async () => {
    const out: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch("/api/me/password", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ currentPassword: `wrong password ${i}`, newPassword: "whatever new password" }),
      });
      out.push(res.status);
    }
    return out;
  });
  assert.deepEqual(statuses, Array(10).fill(401));
  await alice.page.getByTestId("password-current").fill(alice.password);
  await alice.page.getByTestId("password-new").fill("a brand new password");
  await alice.page.getByTestId("password-confirm").fill("a brand new password");
  await alice.page.getByTestId("password-save").click();
  await alice.page.getByTestId("error").filter({ hasText: /Try again in \d+ (s|min)/ }).waitFor();
  assert.equal(await alice.page.getByTestId("password-current").inputValue(), alice.password);
  // Still signed in: a throttled attempt is no sign-out.
  assert.ok(alice.page.url().endsWith("/settings"));
  await alice.context.close();
});
