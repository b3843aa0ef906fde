import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { crc32, deflateSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { away, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: uploads, events and badges cross a loaded machine. */
const LIVE = 15_000;

let browser: Browser;
let alice: Person;
let bob: Person;
let roomId: string;

/** A small solid-colour PNG (so the browser can make a thumbnail of it). */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([79, 70, 229]))]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(pixels)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const badge = async (page: Page) => Number(await page.getByTestId("unread-badge").getAttribute("data-count"));

/** Wait until the top-bar badge shows exactly `n`. */
async function badgeIs(page: Page, n: number) {
  await page.locator(`[data-testid="unread-badge"][data-count="${n}"]`).waitFor({ timeout: LIVE });
}

const item = (page: Page, name: string) =>
  page.getByTestId("files-list").getByTestId("file-item").filter({ has: page.getByTestId("file-name").getByText(name, { exact: true }) });

/** A screenshot with the Files list scrolled into view (the sidebar scrolls on its own). */
async function shot(page: Page, name: string) {
  await page.getByTestId("files-list").evaluate((list) => list.scrollIntoView({ block: "end" }));
  await screenshot(page, name);
}

/** Record whether an upload progress bar ever appears on `page`. */
async function watchProgress(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { sawProgress: boolean };
    w.sawProgress = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="upload-progress"]')) w.sawProgress = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
}

before(async () => {
  browser = await launch();
  alice = await person(browser, "alice");
  bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);

  await alice.page.getByTestId("room-name-input").fill("Design files");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Design files" });
  await link.waitFor();
  roomId = (await link.getAttribute("data-room-id")) ?? "";
  assert.ok(roomId);
  await link.click();
  await alice.page.waitForURL(`**/rooms/${roomId}`);
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();

  await bob.page.goto(`/rooms/${roomId}`);
  await bob.page.getByTestId("room-title").filter({ hasText: "Design files" }).waitFor();
  // Both have the room open (presence shows the other one).
  await alice.page.locator(`[data-testid="member"][data-online="true"]`).filter({ hasText: bob.name }).waitFor({ timeout: LIVE });
  await bob.page.locator(`[data-testid="member"][data-online="true"]`).filter({ hasText: alice.name }).waitFor({ timeout: LIVE });
  await bob.page.getByTestId("files-empty").waitFor();
  // Bob has the room open but is not looking: what arrives stays unread, so his badge counts it.
  await away(bob.page);
});

after(async () => {
  await browser?.close();
});

test("an upload with a description reaches the other member live, NEW for about 5 s", async () => {
  const before = await badge(bob.page);
  await watchProgress(alice.page);
  const text = "hello world\n".repeat(100); // 1,200 bytes
  await alice.page.getByTestId("file-input").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from(text) });
  await alice.page.getByTestId("file-description").fill("Minutes of Monday's meeting");
  await alice.page.getByTestId("upload-button").click();

  const mine = item(alice.page, "notes.txt");
  await mine.waitFor({ timeout: LIVE });
  const theirs = item(bob.page, "notes.txt");
  await theirs.waitFor({ timeout: LIVE });
  const badgeSeen = Date.now();
  assert.equal(await theirs.getByTestId("file-new-badge").count(), 1, "the new file is marked NEW");
  await shot(bob.page, "files-01-new-file");

  assert.equal(await theirs.getByTestId("file-name").textContent(), "notes.txt");
  assert.equal(await theirs.getByTestId("file-size").textContent(), "1.2 KB");
  assert.equal(await theirs.getByTestId("file-description-text").textContent(), "Minutes of Monday's meeting");
  assert.equal(await theirs.getByTestId("file-uploader").textContent(), alice.name);
  assert.equal(await theirs.getByTestId("file-download").getAttribute("href"), `/api/files/${await theirs.getAttribute("data-file-id")}`);
  // Bob did not upload it and does not own the room: no delete for him.
  assert.equal(await theirs.getByTestId("file-delete").count(), 0);
  // It is in the conversation too.
  await bob.page.getByTestId("file-message").filter({ hasText: "notes.txt" }).waitFor({ timeout: LIVE });
  await badgeIs(bob.page, before + 1);

  // Alice saw her progress bar, and it went away.
  await alice.page.getByTestId("upload-progress").waitFor({ state: "detached", timeout: LIVE });
  assert.equal(await alice.page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress), true);
  await shot(alice.page, "files-02-uploader");

  // The NEW badge leaves by itself after about 5 s.
  await theirs.getByTestId("file-new-badge").waitFor({ state: "detached", timeout: 12_000 });
  const shown = Date.now() - badgeSeen;
  assert.ok(shown > 3_000, `the NEW badge stayed ${shown} ms`);
  await theirs.waitFor();
});

test("three files at once all arrive, newest first, each NEW", async () => {
  const before = await badge(bob.page);
  const names = ["alpha.md", "beta.json", "gamma.csv"];
  await alice.page.getByTestId("file-input").setInputFiles(
    names.map((name, i) => ({ name, mimeType: "text/plain", buffer: Buffer.from(`file ${i}\n`.repeat(10 + i)) })),
  );
  await alice.page.getByTestId("upload-button").click();

  for (const name of names) await item(bob.page, name).waitFor({ timeout: LIVE });
  for (const name of names) assert.equal(await item(bob.page, name).getByTestId("file-new-badge").count(), 1, `${name} is NEW`);
  await badgeIs(bob.page, before + 3);
  await shot(bob.page, "files-03-three-new");

  const times = await bob.page
    .getByTestId("files-list")
    .getByTestId("file-item")
    .evaluateAll((items) => items.map((li) => Date.parse(li.querySelector("time")?.getAttribute("datetime") ?? "")));
  assert.equal(times.length, 4);
  for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! >= times[i]!, `newest first: ${times.join(", ")}`);
  // The one from the first test is the oldest.
  assert.equal(await bob.page.getByTestId("file-item").last().getByTestId("file-name").textContent(), "notes.txt");
  await alice.page.getByTestId("upload-progress").first().waitFor({ state: "detached", timeout: LIVE });
});

test("a deleted file leaves the other member's list; only uploader or owner may delete", async () => {
  // Bob may not delete Alice's file (he is neither its uploader nor the owner).
  assert.equal(await item(bob.page, "notes.txt").getByTestId("file-delete").count(), 0);
  const before = await badge(bob.page);
  const target = item(alice.page, "notes.txt");
  await target.getByTestId("file-delete").click();
  await target.getByTestId("file-delete-confirm").click();
  await item(bob.page, "notes.txt").waitFor({ state: "detached", timeout: LIVE });
  await target.waitFor({ state: "detached" });
  await bob.page.getByTestId("file-message").filter({ hasText: "notes.txt" }).waitFor({ state: "detached", timeout: LIVE });
  // It was unread for Bob: his count goes down with it.
  await badgeIs(bob.page, before - 1);

  // Bob shares one: he may delete his own, and Alice may too, as the room's owner.
  await bob.page.getByTestId("file-input").setInputFiles({ name: "bob.txt", mimeType: "text/plain", buffer: Buffer.from("from bob") });
  await bob.page.getByTestId("upload-button").click();
  await item(bob.page, "bob.txt").getByTestId("file-delete").waitFor({ timeout: LIVE });
  await item(alice.page, "bob.txt").getByTestId("file-delete").waitFor({ timeout: LIVE });
  // Sharing in the room marks it read for Bob.
  await badgeIs(bob.page, 0);
  await item(alice.page, "bob.txt").getByTestId("file-delete").click();
  await item(alice.page, "bob.txt").getByTestId("file-delete-confirm").click();
  await item(bob.page, "bob.txt").waitFor({ state: "detached", timeout: LIVE });
  await shot(bob.page, "files-04-after-delete");
});

test("a file name made of markup is shown as text and runs nothing", async () => {
  const dialogs: string[] = [];
  for (const p of [alice.page, bob.page]) p.on("dialog", (d) => void (dialogs.push(d.message()), d.dismiss()));
  const name = "<img src=x onerror=alert(1)>.png";
  await alice.page.getByTestId("file-input").setInputFiles({ name, mimeType: "image/png", buffer: png(640, 400) });
  await alice.page.getByTestId("file-description").fill("<b>bold?</b> <script>alert(2)</script>");
  await alice.page.getByTestId("upload-button").click();

  const theirs = item(bob.page, name);
  await theirs.waitFor({ timeout: LIVE });
  assert.equal(await theirs.getByTestId("file-name").textContent(), name);
  assert.equal(await theirs.getByTestId("file-description-text").textContent(), "<b>bold?</b> <script>alert(2)</script>");
  // The browser made a thumbnail, and it loads.
  const thumb = theirs.getByTestId("file-thumbnail");
  await thumb.waitFor({ timeout: LIVE });
  await bob.page.waitForFunction(
    (id) => {
      const img = document.querySelector<HTMLImageElement>(`[data-file-id="${id}"] [data-testid="file-thumbnail"]`);
      return img?.complete && img.naturalWidth > 0;
    },
    await theirs.getAttribute("data-file-id"),
    { timeout: LIVE },
  );
  const size = await thumb.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(size, [320, 200]);
  await bob.page.getByTestId("file-message").filter({ hasText: name }).waitFor({ timeout: LIVE });
  await shot(bob.page, "files-05-markup-name");

  for (const p of [alice.page, bob.page]) {
    assert.equal(await p.locator('img[src="x"]').count(), 0);
    assert.equal(await p.locator("b").filter({ hasText: "bold?" }).count(), 0);
    assert.equal(await p.locator("script").filter({ hasText: "alert(2)" }).count(), 0);
  }
  assert.deepEqual(dialogs, []);
});

test("dropping or pasting files uploads them", async () => {
  const drop = await alice.page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["dropped"], "dropped.txt", { type: "text/plain" }));
    return dt;
  });
  await alice.page.dispatchEvent("body", "dragenter", { dataTransfer: drop });
  await alice.page.getByTestId("drop-overlay").waitFor();
  await screenshot(alice.page, "files-06-drop-overlay");
  await alice.page.dispatchEvent("body", "drop", { dataTransfer: drop });
  await alice.page.getByTestId("drop-overlay").waitFor({ state: "detached" });
  await item(bob.page, "dropped.txt").waitFor({ timeout: LIVE });

  await alice.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["pasted"], "pasted.txt", { type: "text/plain" }));
    document.getElementById("composer")?.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  await item(bob.page, "pasted.txt").waitFor({ timeout: LIVE });
  await shot(bob.page, "files-07-dropped-pasted");
});

test("searching finds files by name on the server", async () => {
  const search = bob.page.getByTestId("file-search");
  await search.fill("ALPHA");
  await bob.page.waitForFunction(() => document.querySelectorAll('[data-testid="files-list"] [data-testid="file-item"]').length === 1, null, {
    timeout: LIVE,
  });
  assert.equal(await bob.page.getByTestId("file-item").getByTestId("file-name").textContent(), "alpha.md");
  await search.fill("no such file");
  await bob.page.getByTestId("files-empty").filter({ hasText: "No files match" }).waitFor({ timeout: LIVE });
  await search.fill("");
  await item(bob.page, "gamma.csv").waitFor({ timeout: LIVE });
});

test("a slow upload shows progress and “… is uploading”, and Cancel stops it", async () => {
  const cdp = await alice.context.newCDPSession(alice.page);
  const throttle = (bytesPerSecond: number) =>
    cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
  await throttle(256 * 1024);
  try {
    await alice.page.getByTestId("file-input").setInputFiles({
      name: "slow.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(4 * 1024 * 1024, 7),
    });
    await alice.page.getByTestId("upload-button").click();
    // Part-way: a progress bar strictly between 0 and 100.
    await alice.page.waitForFunction(
      () => {
        const value = Number(document.querySelector('[data-testid="upload-progress"]')?.getAttribute("value"));
        return value > 0 && value < 100;
      },
      null,
      { timeout: LIVE },
    );
    await bob.page.getByTestId("typing-indicator").filter({ hasText: `${alice.name} is uploading` }).waitFor({ timeout: LIVE });
    await shot(alice.page, "files-08-progress");
    await screenshot(bob.page, "files-09-uploading-indicator");

    await alice.page.getByTestId("upload-cancel").click();
    await alice.page.getByTestId("upload").waitFor({ state: "detached" });
    // The room hears that the upload stopped.
    await bob.page.getByTestId("typing-indicator").filter({ hasText: "uploading" }).waitFor({ state: "detached", timeout: LIVE });
  } finally {
    await throttle(-1);
    await cdp.detach();
  }
  const res = await alice.page.request.get(`/api/rooms/${roomId}/files?q=slow`);
  assert.deepEqual(((await res.json()) as { files: unknown[] }).files, []);
  assert.equal(await item(bob.page, "slow.bin").count(), 0);
});

test("an upload whose answer was lost fails in words; Retry stores it once", async () => {
  // The server stores the file, but the answer never reaches the page.
  await alice.page.route("**/api/rooms/*/files", async (route) => {
    if (route.request().method() !== "POST") return route.fallback();
    await route.fetch();
    await route.abort("failed");
  });
  await alice.page.getByTestId("file-input").setInputFiles({ name: "lost.txt", mimeType: "text/plain", buffer: Buffer.from("lost answer") });
  await alice.page.getByTestId("upload-button").click();
  await alice.page.getByTestId("upload-error").filter({ hasText: "Network error — check your connection" }).waitFor({ timeout: LIVE });
  await shot(alice.page, "files-10-upload-failed");
  await alice.page.unrouteAll();

  await alice.page.getByTestId("upload-retry").click();
  await alice.page.getByTestId("upload").waitFor({ state: "detached", timeout: LIVE });
  await item(bob.page, "lost.txt").waitFor({ timeout: LIVE });
  await item(alice.page, "lost.txt").waitFor();
  const res = await alice.page.request.get(`/api/rooms/${roomId}/files?q=lost`);
  assert.equal(((await res.json()) as { files: unknown[] }).files.length, 1);
  assert.equal(await bob.page.getByTestId("files-list").getByTestId("file-name").getByText("lost.txt", { exact: true }).count(), 1);
});
