// After `vite build`: write dist/app/_headers (Workers Static Assets) with the SPA's security
// headers. The CSP allows scripts only from our origin plus the exact inline bootstrap script
// SvelteKit writes into index.html, by its SHA-256 — no 'unsafe-inline' for scripts.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../dist/app/", import.meta.url));
const html = readFileSync(`${dir}index.html`, "utf8");
const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
  (m) => `'sha256-${createHash("sha256").update(m[1], "utf8").digest("base64")}'`,
);

export const CSP = [
  "default-src 'self'",
  `script-src 'self' ${hashes.join(" ")}`.trim(),
  // Svelte writes static style attributes through its templates; scripts stay locked down.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const headers = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const body = ["/*", ...Object.entries(headers).map(([k, v]) => `  ${k}: ${v}`), ""].join("\n");
writeFileSync(`${dir}_headers`, body);
console.log(`wrote dist/app/_headers (${hashes.length} inline script hash${hashes.length === 1 ? "" : "es"})`);
