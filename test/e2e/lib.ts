/** Playwright helpers for Parley's browser tests (system Chromium, no downloads). */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const BASE_URL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:8787";
/** Generous: the machine may be a loaded 2-core CI box. */
export const TIMEOUT = 15_000;
export const SHOTS = "test-results/screenshots";

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

export interface Person {
  name: string;
  password: string;
  context: BrowserContext;
  page: Page;
}

/** A fresh browser context (its own cookies) = one person. */
export async function person(browser: Browser, prefix: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  return { name: `${prefix}_${Math.random().toString(36).slice(2, 8)}`, password: "correct horse battery", context, page };
}

/** Register through the sign-in form at `/` and wait for the rooms page. */
export async function signUp(p: Person): Promise<void> {
  await p.page.goto("/");
  await p.page.getByTestId("auth-username").fill(p.name);
  await p.page.getByTestId("auth-password").fill(p.password);
  await p.page.getByTestId("auth-register").click();
  await p.page.waitForURL("**/rooms");
  await p.page.getByTestId("current-user").filter({ hasText: p.name }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/**
 * The person stops looking at `page`: it reports itself hidden and unfocused
 * (and says so with `visibilitychange` and `blur`), so reading no longer marks
 * read. Headless Chromium reports every page visible and focused, so tests of
 * "B is not looking" need this. Lasts until {@link back} or a full page load.
 */
export async function away(page: Page): Promise<void> {
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    Object.defineProperty(document, "hasFocus", { configurable: true, value: () => false });
    document.dispatchEvent(new Event("visibilitychange"));
    window.dispatchEvent(new FocusEvent("blur"));
  });
}

/** The person looks at `page` again (undoes {@link away}). */
export async function back(page: Page): Promise<void> {
  await page.evaluate(() => {
    for (const key of ["visibilityState", "hidden", "hasFocus"]) Reflect.deleteProperty(document, key);
    document.dispatchEvent(new Event("visibilitychange"));
    window.dispatchEvent(new FocusEvent("focus"));
  });
}

/** An API call with the page's session, as the SPA makes it (same Origin, JSON); fails the test on an error status. */
export async function apiCall(page: Page, method: string, path: string, data?: unknown): Promise<unknown> {
  const res = await page.request.fetch(path, { method, data, headers: { Origin: BASE_URL, "Content-Type": "application/json" } });
  assert.ok(res.ok(), `${method} ${path}: ${res.status()} ${await res.text()}`);
  return res.status() === 204 ? null : res.json();
}

/** `owner` creates the room `name` in the UI, opens it and adds `members` (each then opens it too); answers its id. */
export async function roomWith(owner: Person, name: string, members: Person[]): Promise<string> {
  await owner.page.getByTestId("room-name-input").fill(name);
  await owner.page.getByTestId("room-create").click();
  const link = owner.page.getByTestId("room-link").filter({ hasText: name });
  await link.waitFor();
  const roomId = (await link.getAttribute("data-room-id")) ?? "";
  await link.click();
  await owner.page.waitForURL(`**/rooms/${roomId}`);
  for (const m of members) {
    await owner.page.getByTestId("member-username").fill(m.name);
    await owner.page.getByTestId("member-add").click();
    await owner.page.getByTestId("member").filter({ hasText: m.name }).waitFor();
    await m.page.goto(`/rooms/${roomId}`);
    await m.page.getByTestId("room-title").waitFor();
  }
  return roomId;
}

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's browser bundle, read when first needed. */
let axeSource: string | undefined;

/** Run axe (axe-core) on the page as it is; fail on serious or critical violations, naming them. */
export async function audit(page: Page, where: string): Promise<void> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  // evaluate() runs outside the page's CSP, so axe needs no inline script.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const { violations, passed } = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: Violation[]; passes: unknown[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return {
      passed: result.passes.length,
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })),
    };
  });
  // axe really checked this page (a run that failed to start would find nothing wrong, too).
  assert.ok(passed >= 10, `${where}: axe ran only ${passed} passing rules`);
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 4).join(", ")}`),
    [],
    `${where}: axe found serious or critical violations`,
  );
}
