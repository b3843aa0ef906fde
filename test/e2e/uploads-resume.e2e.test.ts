/**
 * A 20 MiB upload through the UI (four 5 MiB parts, the resumable path)
 * loses its connection after the 2nd part is stored: the UI shows it waiting,
 * the bar stays at the stored share, and once the connection is back the
 * upload goes on from part 3 — parts 1 and 2 are not sent again — and the
 * file arrives whole (same SHA-256 as what was picked). And a reload
 * half-way: picking the same file again goes on from the stored parts, the
 * bar at once at their share.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page, Route } from "playwright-core";
import { apiCall, launch, type Person, person, screenshot, signUp } from "./lib.ts";

/** Generous: 20 MiB crosses a loaded machine, and retries back off up to 10 s. */
const LONG = 60_000;
const MiB = 1024 * 1024;

let browser: Browser;
let alice: Person;
let roomId: string;

before(async () => {
  browser = await launch();
  alice = await person(browser, "alice");
  await signUp(alice);
  const { room } = (await apiCall(alice.page, "POST", "/api/rooms", { name: "Big files" })) as { room: { id: string } };
  roomId = room.id;
  await alice.page.goto(`/rooms/${roomId}`);
  await alice.page.getByTestId("files-empty").waitFor();
});

after(async () => {
  await browser?.close();
});

/** Count every part PUT the page makes, by part number (aborted ones too). */
function countPuts(page: Page): Map<number, number> {
  const puts = new Map<number, number>();
  page.on("request", (req) => {
    const m = /\/api\/uploads\/[^/]+\/parts\/(\d+)$/.exec(new URL(req.url()).pathname);
    if (m && req.method() === "PUT") puts.set(Number(m[1]), (puts.get(Number(m[1])) ?? 0) + 1);
  });
  return puts;
}

/** SHA-256 and size of a file's download, computed in the page. */
function downloadDigest(page: Page, fileId: string) {
  return page.evaluate(async (id) => {
    const res = await fetch(`/api/files/${id}`);
    const buf = await res.arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
    return { size: buf.byteLength, sha: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") };
  }, fileId);
}

test("a 20 MiB upload cut after its 2nd part resumes from part 3 when the connection is back", async () => {
  const page = alice.page;
  const bytes = randomBytes(20 * MiB);
  const sha = createHash("sha256").update(bytes).digest("hex");

  const puts = countPuts(page);

  // The connection to /api/uploads: cut when part 3 is first sent (parts 1 and 2 are stored by then), until restored.
  let offline = false;
  let cutDone = false;
  let cut!: () => void;
  const wasCut = new Promise<void>((resolve) => (cut = resolve));
  await page.route("**/api/uploads/**", async (route: Route) => {
    const req = route.request();
    if (!cutDone && req.method() === "PUT" && req.url().endsWith("/parts/3")) {
      cutDone = true;
      offline = true;
      cut();
    }
    if (offline) return route.abort("internetdisconnected");
    return route.continue();
  });

  // Watch the bar each frame once the upload waits: its lowest value from then on.
  await page.evaluate(() => {
    const w = window as unknown as { lowestWhileResuming: number | null };
    w.lowestWhileResuming = null;
    const look = () => {
      const bar = document.querySelector<HTMLProgressElement>('[data-testid="upload-progress"]');
      const waitingSeen = w.lowestWhileResuming !== null || document.querySelector('[data-testid="upload"][data-waiting="true"]') !== null;
      if (bar && waitingSeen) w.lowestWhileResuming = Math.min(w.lowestWhileResuming ?? 100, bar.value);
      requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
  });

  await page.getByTestId("file-input").setInputFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: bytes });
  await page.getByTestId("upload-button").click();

  await wasCut;
  const waiting = page.locator('[data-testid="upload"][data-waiting="true"]');
  await waiting.waitFor({ timeout: LONG });
  await page.getByTestId("upload-waiting").waitFor();
  const shownWhileCut = Number(await waiting.getByTestId("upload-progress").getAttribute("value"));
  assert.ok(shownWhileCut >= 50, `while cut off the bar shows ${shownWhileCut}%, at least the 2 of 4 parts stored`);
  await screenshot(page, "uploads-resume-01-waiting");

  // The connection is back: the upload goes on by itself.
  offline = false;
  const item = page.getByTestId("files-list").getByTestId("file-item").filter({ hasText: "big.bin" });
  await item.waitFor({ timeout: LONG });
  await page.getByTestId("upload-progress").waitFor({ state: "detached", timeout: LONG });

  assert.equal(puts.get(1), 1, "part 1 was sent once");
  assert.equal(puts.get(2), 1, "part 2 was sent once");
  assert.equal(puts.get(3), 2, "part 3: the attempt cut off, then once more");
  assert.equal(puts.get(4), 1, "part 4 was sent once");
  const lowest = await page.evaluate(() => (window as unknown as { lowestWhileResuming: number | null }).lowestWhileResuming);
  assert.ok(lowest !== null && lowest >= 50, `after the cut the bar never went below the stored 50% (lowest ${lowest})`);

  // The file is whole: 20 MiB with the same bytes.
  const fileId = await item.getAttribute("data-file-id");
  assert.ok(fileId);
  assert.deepEqual(await downloadDigest(page, fileId), { size: 20 * MiB, sha });
  await page.unrouteAll();
});

test("after a reload half-way, picking the same file again resumes from the stored parts", async () => {
  const page = await alice.context.newPage();
  await page.goto(`/rooms/${roomId}`);
  await page.getByTestId("upload-button").waitFor();
  const bytes = randomBytes(20 * MiB);
  const sha = createHash("sha256").update(bytes).digest("hex");
  // A file on disk, so picking it again gives the browser the same name, size and modification time.
  const dir = mkdtempSync(join(tmpdir(), "parley-resume-"));
  const path = join(dir, "film.bin");
  writeFileSync(path, bytes);
  const puts = countPuts(page);

  // First visit: part 3 never gets through. Second: part 3 waits until the bar has been checked.
  let visit = 1;
  let reachedPart3!: () => void;
  const atPart3 = new Promise<void>((resolve) => (reachedPart3 = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/api/uploads/**", async (route: Route) => {
    const part3 = route.request().method() === "PUT" && route.request().url().endsWith("/parts/3");
    if (visit === 1 && part3) {
      reachedPart3();
      return route.abort("internetdisconnected");
    }
    if (visit === 2 && part3) await released;
    // A request the page gave up on meanwhile cannot be continued; nothing to do then.
    return route.continue().catch(() => undefined);
  });
  try {
    await page.getByTestId("file-input").setInputFiles(path);
    await page.getByTestId("upload-button").click();
    await atPart3;
    assert.equal(puts.get(1), 1);
    assert.equal(puts.get(2), 1);

    // The old page's retries of part 3 are still cut off until it is gone.
    await page.reload();
    await page.getByTestId("upload-button").waitFor();
    visit = 2;
    await page.getByTestId("file-input").setInputFiles(path);
    await page.getByTestId("upload-button").click();
    // The bar shows the 2 of 4 parts stored before part 3 has gone anywhere.
    await page.waitForFunction(() => (document.querySelector<HTMLProgressElement>('[data-testid="upload-progress"]')?.value ?? 0) >= 50, null, {
      timeout: LONG,
    });
    release();

    const item = page.getByTestId("files-list").getByTestId("file-item").filter({ hasText: "film.bin" });
    await item.waitFor({ timeout: LONG });
    assert.equal(puts.get(1), 1, "part 1 was not sent again");
    assert.equal(puts.get(2), 1, "part 2 was not sent again");
    assert.equal(puts.get(4), 1);
    const fileId = await item.getAttribute("data-file-id");
    assert.ok(fileId);
    assert.deepEqual(await downloadDigest(page, fileId), { size: 20 * MiB, sha });
  } finally {
    release();
    rmSync(dir, { recursive: true, force: true });
    await page.close();
  }
});
