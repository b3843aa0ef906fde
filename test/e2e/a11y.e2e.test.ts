// Accessibility, measured (issue #14 item 7): axe-core in the browser on the sign-in page, the
// rooms list and a room with messages and files, at desktop and phone sizes — no serious or
// critical violations. (The keyboard-only walk is in keyboard.e2e.test.ts.)
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { apiCall, audit, BASE_URL, launch, screenshot, TIMEOUT } from "./lib.ts";

const SIZES = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

for (const size of SIZES) {
  test(`axe at ${size.width}×${size.height}: sign-in, rooms list, a room with messages and files — no serious or critical violations`, async () => {
    const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: size.width, height: size.height } });
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    try {
      await page.goto("/");
      await page.getByTestId("auth-username").waitFor();
      await audit(page, `sign-in (${size.name})`);

      const name = `a11y_${size.name}_${Math.random().toString(36).slice(2, 8)}`;
      await page.getByTestId("auth-username").fill(name);
      await page.getByTestId("auth-password").fill("correct horse battery");
      await page.getByTestId("auth-register").click();
      await page.waitForURL("**/rooms");
      const other = await browser.newContext({ baseURL: BASE_URL });
      const otherName = `${name}_b`;
      await other.request.post("/api/auth/register", { data: { username: otherName, password: "correct horse battery" }, headers: { Origin: BASE_URL } });
      const { room } = (await apiCall(page, "POST", "/api/rooms", { name: `Design review ${size.name}` })) as { room: { id: string } };
      await apiCall(page, "POST", `/api/rooms/${room.id}/members`, { username: otherName });
      await apiCall(page, "POST", "/api/rooms", { name: "Second room" });
      for (const text of ["Hello **team**, the plan is in `plan.md`", "- first\n- second", "See https://example.com for details"]) {
        await apiCall(page, "POST", `/api/rooms/${room.id}/messages`, { clientId: crypto.randomUUID(), text });
      }
      await other.request.post(`/api/rooms/${room.id}/messages`, {
        data: { clientId: crypto.randomUUID(), text: "Sounds good to me" },
        headers: { Origin: BASE_URL },
      });
      await other.close();

      await page.goto("/rooms");
      await page.getByTestId("room-link").first().waitFor();
      await audit(page, `rooms list (${size.name})`);

      await page.goto(`/rooms/${room.id}`);
      await page.getByTestId("message").filter({ hasText: "Sounds good" }).waitFor();
      await audit(page, `room with messages (${size.name})`);
      // On a phone the files are a tab of the room.
      const filesTab = page.getByRole("tab", { name: /Files/ });
      if (await filesTab.isVisible()) await filesTab.click();
      await page.getByTestId("file-input").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("notes") });
      await page.getByTestId("upload-button").click();
      await page.getByTestId("file-item").first().waitFor({ state: "attached" });
      await audit(page, `room with messages and files (${size.name})`);
      await screenshot(page, `a11y-room-${size.name}`);
    } finally {
      await context.close();
    }
  });
}
