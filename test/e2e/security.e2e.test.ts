import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { BASE_URL, launch, person, signUp } from "./lib.ts";

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const REQUIRED = ["content-security-policy", "x-content-type-options", "referrer-policy", "permissions-policy", "x-frame-options"];

test("the SPA is served with security headers on every page, including the SPA fallback", async () => {
  for (const path of ["/", "/rooms", "/rooms/AAAAAAAAAAAAAAAAAAAAAA"]) {
    const res = await fetch(BASE_URL + path);
    assert.equal(res.status, 200, path);
    for (const h of REQUIRED) assert.ok(res.headers.get(h), `${path}: ${h}`);
    const csp = res.headers.get("content-security-policy")!;
    const scriptSrc = csp.split(";").find((d) => d.trim().startsWith("script-src"))!;
    assert.ok(!scriptSrc.includes("'unsafe-inline'"), "no unsafe-inline scripts");
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  }
  const api = await fetch(`${BASE_URL}/api/health`);
  assert.equal(api.headers.get("x-content-type-options"), "nosniff");
  assert.match(api.headers.get("content-security-policy") ?? "", /default-src 'none'/);
});

test("the app runs under its CSP with no violations", async () => {
  const p = await person(browser, "csp");
  const violations: string[] = [];
  await p.page.exposeFunction("__cspViolation", (v: string) => violations.push(v));
  await p.page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as unknown as { __cspViolation: (v: string) => void }).__cspViolation(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await signUp(p);
  await p.page.getByTestId("room-name-input").fill("CSP check");
  await p.page.getByTestId("room-create").click();
  await p.page.getByTestId("room-link").filter({ hasText: "CSP check" }).click();
  await p.page.getByTestId("room-title").filter({ hasText: "CSP check" }).waitFor();
  assert.deepEqual(violations, []);
  await p.context.close();
});
