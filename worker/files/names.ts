/** File names and types from the uploader, made safe to store and to serve. */
import { VIEWABLE_IMAGE_TYPES } from "#protocol";

const MAX_NAME = 255;

/**
 * Keep the last non-empty path segment, drop control characters (CR/LF, NUL, …) and
 * bidi overrides, trim, and cap at 255 characters keeping the extension.
 * The result is shown as text and never used as a storage key.
 */
export function cleanFileName(raw: string | undefined): string {
  // Browsers encode LF, CR and '"' in multipart file names as %0A, %0D, %22 (HTML spec); undo just those.
  let name = (raw ?? "").replace(/%0A|%0D|%22/gi, (m) => decodeURIComponent(m)).normalize("NFC");
  name = name.split(/[/\\]/).filter((seg) => seg.trim() !== "").pop() ?? "";
  // eslint-disable-next-line no-control-regex
  name = name.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, "").trim();
  if (!name.isWellFormed()) name = name.toWellFormed();
  if (name === "" || name === "." || name === "..") name = "file";
  if (name.length > MAX_NAME) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
    name = name.slice(0, MAX_NAME - ext.length) + ext;
  }
  return name;
}

/** A syntactically valid, lower-cased media type, or application/octet-stream. */
export function cleanMediaType(raw: string | undefined): string {
  const t = (raw ?? "").split(";")[0]!.trim().toLowerCase();
  return /^[a-z0-9][\w.+-]{0,63}\/[a-z0-9][\w.+-]{0,63}$/.test(t) ? t : "application/octet-stream";
}

/** Image types a browser may show inline from our origin (never SVG: it can carry script); the SPA's lightbox shows the same. */
export const INLINE_IMAGE_TYPES = new Set(VIEWABLE_IMAGE_TYPES);

/** RFC 6266 Content-Disposition with an ASCII fallback and an RFC 5987 `filename*`. */
export function contentDisposition(name: string, inline: boolean): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\%;]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${inline ? "inline" : "attachment"}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
