/** Playwright helpers for Parley's browser tests (system Chromium, no downloads). */
import { mkdirSync } from "node:fs";
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
