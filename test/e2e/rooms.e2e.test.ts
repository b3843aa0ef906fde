import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { launch, person, screenshot, signUp } from "./lib.ts";

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("two people register, one creates a room and adds the other, both see it", async () => {
  const alice = await person(browser, "alice");
  const bob = await person(browser, "bob");

  await alice.page.goto("/");
  await alice.page.getByTestId("auth-username").waitFor();
  await screenshot(alice.page, "01-sign-in");
  await signUp(alice);
  await signUp(bob);
  await screenshot(alice.page, "02-rooms-empty");

  // The badge is on every signed-in page and starts at zero.
  assert.equal(await alice.page.getByTestId("unread-badge").getAttribute("data-count"), "0");

  // Alice creates a room and opens it.
  await alice.page.getByTestId("room-name-input").fill("Launch plan");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Launch plan" });
  await link.waitFor();
  const roomId = await link.getAttribute("data-room-id");
  assert.ok(roomId, "room link carries its id");
  await link.click();
  await alice.page.waitForURL(`**/rooms/${roomId}`);
  await alice.page.getByTestId("room-title").filter({ hasText: "Launch plan" }).waitFor();

  // She adds Bob by username; he appears in the members list without a reload.
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();
  await screenshot(alice.page, "03-room-owner");

  // Bob sees the room in his list and can open it.
  await bob.page.goto("/rooms");
  const bobLink = bob.page.locator(`[data-testid="room-link"][data-room-id="${roomId}"]`);
  await bobLink.waitFor();
  assert.match((await bobLink.textContent()) ?? "", /Launch plan/);
  assert.equal(await bobLink.getByTestId("room-unread").getAttribute("data-count"), "0");
  await screenshot(bob.page, "04-rooms-member");
  await bobLink.click();
  await bob.page.getByTestId("room-title").filter({ hasText: "Launch plan" }).waitFor();
  await bob.page.getByTestId("member").filter({ hasText: alice.name }).waitFor();
  // A member (not owner) gets no add-member form.
  assert.equal(await bob.page.getByTestId("member-add").count(), 0);
  await screenshot(bob.page, "05-room-member");

  await alice.context.close();
  await bob.context.close();
});

test("a wrong password shows the error in words and signs nobody in", async () => {
  const eve = await person(browser, "eve");
  await signUp(eve);
  await eve.page.getByTestId("signout").click();
  await eve.page.getByTestId("auth-username").waitFor();
  await eve.page.getByTestId("auth-username").fill(eve.name);
  await eve.page.getByTestId("auth-password").fill("definitely wrong");
  await eve.page.getByTestId("auth-login").click();
  const error = eve.page.getByTestId("error");
  await error.filter({ hasText: "Wrong username or password" }).waitFor();
  await screenshot(eve.page, "06-sign-in-error");
  const me = await eve.page.request.get("/api/me");
  assert.equal(me.status(), 401);
  await eve.context.close();
});

test("signed-out visitors of a room page are sent to sign in", async () => {
  const ghost = await person(browser, "ghost");
  await ghost.page.goto("/rooms/AAAAAAAAAAAAAAAAAAAAAA");
  await ghost.page.getByTestId("auth-username").waitFor();
  await ghost.context.close();
});
