/** Previews and finding files: the inline text preview, the image lightbox, the type filter and the wider search. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { crc32, deflateSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { launch, type Person, person, screenshot, signUp } from "./lib.ts";

const LIVE = 15_000;

let browser: Browser;
let alice: Person;
let bob: Person;

/** A small solid-colour PNG. */
function png(width: number, height: number, rgb: [number, number, number]): Buffer {
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
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from(rgb))]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const item = (page: Page, name: string) =>
  page.getByTestId("files-list").getByTestId("file-item").filter({ has: page.getByTestId("file-name").getByText(name, { exact: true }) });

/** The names the Files list shows, in order. */
const shownNames = (page: Page) => page.getByTestId("files-list").getByTestId("file-name").allTextContents();

/** Wait until the Files list shows exactly `names` (in any order). */
async function listIs(page: Page, names: string[]) {
  const want = [...names].sort();
  await page.waitForFunction(
    (w) =>
      JSON.stringify([...document.querySelectorAll('[data-testid="files-list"] [data-testid="file-name"]')].map((n) => n.textContent).sort()) ===
      JSON.stringify(w),
    want,
    { timeout: LIVE },
  );
}

async function upload(p: Person, files: { name: string; mimeType: string; buffer: Buffer }[], description = "") {
  await p.page.getByTestId("file-input").setInputFiles(files);
  if (description) await p.page.getByTestId("file-description").fill(description);
  await p.page.getByTestId("upload-button").click();
  for (const f of files) await item(bob.page, f.name).waitFor({ timeout: LIVE });
}

const MARKUP = '<b id="bold">not bold</b>\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>';
const IMAGES = ["red.png", "green.png", "blue.png"];
const ALL = ["page.html", "big.txt", ...IMAGES, "report.pdf", "bob-data.bin"];

before(async () => {
  browser = await launch();
  alice = await person(browser, "alice");
  bob = await person(browser, "bob");
  await signUp(alice);
  await signUp(bob);
  await alice.page.getByTestId("room-name-input").fill("Previews");
  await alice.page.getByTestId("room-create").click();
  const link = alice.page.getByTestId("room-link").filter({ hasText: "Previews" });
  await link.waitFor();
  const roomId = (await link.getAttribute("data-room-id")) ?? "";
  await link.click();
  await alice.page.waitForURL(`**/rooms/${roomId}`);
  await alice.page.getByTestId("member-username").fill(bob.name);
  await alice.page.getByTestId("member-add").click();
  await alice.page.getByTestId("member").filter({ hasText: bob.name }).waitFor();
  await bob.page.goto(`/rooms/${roomId}`);
  await bob.page.getByTestId("files-empty").waitFor();

  await upload(alice, [
    { name: "page.html", mimeType: "text/html", buffer: Buffer.from(MARKUP) },
    { name: "big.txt", mimeType: "text/plain", buffer: Buffer.from("0123456789abcdef\n".repeat(5000)) },
  ]);
  await upload(alice, [
    { name: "red.png", mimeType: "image/png", buffer: png(64, 48, [220, 38, 38]) },
    { name: "green.png", mimeType: "image/png", buffer: png(48, 64, [22, 163, 74]) },
    { name: "blue.png", mimeType: "image/png", buffer: png(80, 40, [37, 99, 235]) },
  ]);
  await upload(alice, [{ name: "report.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n") }], "Quarterly budget");
  await upload(bob, [{ name: "bob-data.bin", mimeType: "application/octet-stream", buffer: Buffer.from([1, 2, 3]) }]);
  await listIs(bob.page, ALL);
  for (const p of [alice, bob]) p.page.on("dialog", (d) => assert.fail(`a dialog opened: ${d.message()}`));
});

after(async () => {
  await browser?.close();
});

test("a text file's preview shows its first 64 KiB as text, never as markup; others have none", async () => {
  const page = bob.page;
  const html = item(page, "page.html");
  await html.getByTestId("file-preview").click();
  const text = html.getByTestId("file-preview-text");
  await text.waitFor({ timeout: LIVE });
  assert.equal(await text.textContent(), MARKUP);
  assert.equal(await html.getByTestId("file-preview").getAttribute("aria-expanded"), "true");
  assert.equal(await page.locator("#bold").count(), 0, "the markup is not rendered");
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.equal(await html.getByTestId("file-preview-truncated").count(), 0);

  const big = item(page, "big.txt");
  await big.getByTestId("file-preview").click();
  await big.getByTestId("file-preview-truncated").filter({ hasText: "(first 64 KiB)" }).waitFor({ timeout: LIVE });
  const shown = (await big.getByTestId("file-preview-text").textContent()) ?? "";
  assert.equal(shown.length, 64 * 1024);
  assert.ok("0123456789abcdef\n".repeat(5000).startsWith(shown));
  await screenshot(page, "files-preview-01-text");

  // Hiding it takes the text away; PDFs, images and binaries have no preview.
  await html.getByTestId("file-preview").click();
  await html.getByTestId("file-preview-text").waitFor({ state: "detached" });
  for (const name of ["report.pdf", "red.png", "bob-data.bin"]) assert.equal(await item(page, name).getByTestId("file-preview").count(), 0, name);
});

test("the lightbox loads the original only when opened, moves with the arrow keys and closes with Escape", async () => {
  const page = alice.page;
  const downloads: string[] = [];
  page.on("request", (r) => {
    const m = /\/api\/files\/([^/?]+)$/.exec(new URL(r.url()).pathname);
    if (m) downloads.push(m[1]!);
  });
  await page.reload();
  await listIs(page, ALL);
  // The images in the order the list shows them (newest first).
  const order = (await shownNames(page)).filter((n) => IMAGES.includes(n));
  const ids = await Promise.all(order.map((n) => item(page, n).getAttribute("data-file-id")));
  for (const n of IMAGES) await item(page, n).getByTestId("file-thumbnail").waitFor({ timeout: LIVE });
  assert.deepEqual(downloads, [], "no original is fetched before the lightbox opens");
  // Only images the page may show get the viewer.
  for (const n of ["page.html", "report.pdf"]) assert.equal(await item(page, n).getByTestId("file-view").count(), 0);

  const opener = item(page, order[1]!).getByTestId("file-view");
  await opener.click();
  const box = page.getByTestId("lightbox");
  const showing = async (id: string | null, position: string) => {
    const shown = page.locator(`[data-testid="lightbox"][data-file-id="${id}"] [data-testid="lightbox-image"][data-loaded="true"]`);
    await shown.waitFor({ timeout: LIVE }).catch(async (err: unknown) => {
      // Say what the page had instead (which image, whether it loaded), not only that it timed out.
      const state = await page.evaluate(() => {
        const img = document.querySelector<HTMLImageElement>('[data-testid="lightbox-image"]');
        const box = document.querySelector('[data-testid="lightbox"]');
        return { file: box?.getAttribute("data-file-id"), src: img?.src, complete: img?.complete, width: img?.naturalWidth, loaded: img?.dataset.loaded };
      });
      throw new Error(`lightbox not showing ${id} loaded: ${JSON.stringify(state)}`, { cause: err });
    });
    assert.equal(await box.getByTestId("lightbox-position").textContent(), position);
  };
  await showing(ids[1]!, "2 of 3");
  assert.equal(await box.evaluate((d: HTMLDialogElement) => d.open && d.matches(":modal")), true);
  const natural = await box.getByTestId("lightbox-image").evaluate((img: HTMLImageElement) => img.naturalWidth);
  assert.ok(natural > 0);
  assert.deepEqual(downloads, [ids[1]], "the original of the one shown, on demand");
  await screenshot(page, "files-preview-02-lightbox");

  await page.keyboard.press("ArrowRight");
  await showing(ids[2]!, "3 of 3");
  await page.keyboard.press("ArrowRight");
  await showing(ids[0]!, "1 of 3");
  await page.keyboard.press("ArrowLeft");
  await showing(ids[2]!, "3 of 3");
  await box.getByTestId("lightbox-prev").click();
  await showing(ids[1]!, "2 of 3");

  await page.keyboard.press("Escape");
  await box.waitFor({ state: "detached" });
  await page.waitForFunction(
    (id) => document.activeElement?.matches(`[data-file-id="${id}"] [data-testid="file-view"]`) === true,
    ids[1],
    { timeout: LIVE },
  );
});

test("the lightbox fits a phone screen", async () => {
  const page = alice.page;
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await page.getByTestId("room-tab-files").click();
    await page.getByTestId("files-type-filter").waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "the Files header fits");
    await item(page, "red.png").getByTestId("file-view").click();
    await page.locator('[data-testid="lightbox-image"][data-loaded="true"]').waitFor({ timeout: LIVE });
    const fits = await page.getByTestId("lightbox").evaluate((d) => d.getBoundingClientRect().right <= window.innerWidth && d.scrollWidth <= d.clientWidth);
    assert.equal(fits, true);
    await screenshot(page, "files-preview-03-lightbox-phone");
    await page.getByTestId("lightbox-close").click();
    await page.getByTestId("lightbox").waitFor({ state: "detached" });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "nothing overflows sideways");
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId("room-tab-files").waitFor({ state: "detached" });
  }
});

test("the type filter and the search find files by type, description and uploader", async () => {
  const page = bob.page;
  const filter = page.getByTestId("files-type-filter");
  await filter.selectOption("image");
  await listIs(page, IMAGES);
  await filter.selectOption("document");
  await listIs(page, ["page.html", "big.txt", "report.pdf"]);
  await filter.selectOption("other");
  await listIs(page, ["bob-data.bin"]);
  await screenshot(page, "files-preview-04-filter");
  await filter.selectOption("");
  await listIs(page, ALL);

  const search = page.getByTestId("file-search");
  await search.fill("quarterly");
  await listIs(page, ["report.pdf"]);
  await search.fill(bob.name.toUpperCase());
  await listIs(page, ["bob-data.bin"]);
  await search.fill(alice.name);
  await filter.selectOption("image");
  await listIs(page, IMAGES);
  await search.fill("");
  await filter.selectOption("");
  await listIs(page, ALL);
});
