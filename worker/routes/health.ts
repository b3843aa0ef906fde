/** `GET /api/health`: 200 when the Worker, D1 and R2 answer; 503 otherwise. */
import { Hono } from "hono";
import type { AppEnv } from "../types";

export const health = new Hono<AppEnv>().get("/", async (c) => {
  const checks: Record<string, "ok" | "fail"> = { worker: "ok", d1: "fail", r2: "fail" };
  await Promise.all([
    c.env.DB.prepare("SELECT 1 AS ok")
      .first<{ ok: number }>()
      .then((r) => (checks.d1 = r?.ok === 1 ? "ok" : "fail"))
      .catch(() => undefined),
    c.env.FILES.head("health-check")
      .then(() => (checks.r2 = "ok"))
      .catch(() => undefined),
  ]);
  const ok = Object.values(checks).every((v) => v === "ok");
  return c.json({ ok, checks }, ok ? 200 : 503);
});
