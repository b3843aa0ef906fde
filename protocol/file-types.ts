/**
 * What kind of file a media type (and name) makes, for the server and the
 * SPA alike: the Files filter's categories (`image`, `document`, `other`)
 * and which files have a text preview (`GET /api/files/:id/preview`).
 */

/** The Files filter's categories (`GET /api/rooms/:id/files?type=`). */
export const FILE_CATEGORIES = ["image", "document", "other"] as const;
export type FileCategory = (typeof FILE_CATEGORIES)[number];

/** How much of a text file a preview shows, in bytes (64 KiB). */
export const PREVIEW_MAX_BYTES = 64 * 1024;

/** Non-`text/*` types that are text (code, data, config): previewable and documents. */
export const TEXT_MEDIA_TYPES: readonly string[] = [
  "application/json",
  "application/xml",
  "application/javascript",
  "application/x-javascript",
  "application/ecmascript",
  "application/typescript",
  "application/x-sh",
  "application/x-shellscript",
  "application/x-yaml",
  "application/yaml",
  "application/toml",
  "application/sql",
  "application/x-httpd-php",
  "application/x-python",
  "application/ld+json",
  "application/geo+json",
  "application/x-ndjson",
];

/** Office, PDF and e-book types: documents (downloads, never previewed). */
export const DOCUMENT_MEDIA_TYPES: readonly string[] = [
  "application/pdf",
  "application/rtf",
  "application/msword",
  "application/vnd.ms-excel",
  "application/vnd.ms-powerpoint",
  "application/epub+zip",
];
/** Type prefixes that are documents too (OOXML, OpenDocument). */
export const DOCUMENT_MEDIA_PREFIXES: readonly string[] = ["application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument."];

/**
 * Extensions of text and code files. A file with one of these names but a
 * generic type (browsers send none for `.ts`, `.md`, … and the server stores
 * `application/octet-stream`) has a preview too.
 */
export const TEXT_EXTENSIONS: ReadonlySet<string> = new Set([
  "txt", "text", "md", "markdown", "csv", "tsv", "log", "json", "jsonl", "ndjson", "xml", "yaml", "yml",
  "toml", "ini", "cfg", "conf", "env", "html", "htm", "css", "scss", "less", "js", "mjs", "cjs", "ts",
  "tsx", "jsx", "svelte", "vue", "py", "rb", "go", "rs", "java", "kt", "kts", "c", "h", "cc", "cpp",
  "hpp", "cs", "php", "sh", "bash", "zsh", "ps1", "sql", "swift", "lua", "pl", "r", "scala", "dart",
  "ex", "exs", "erl", "hs", "ml", "clj", "gradle", "properties", "diff", "patch", "tex", "rst", "adoc",
  "srt", "vtt", "gitignore", "dockerfile", "makefile",
]);

const base = (type: string): string => type.toLowerCase().split(";")[0]!.trim();

/** The lower-case extension of a file name ("" when none; `.gitignore` gives "gitignore"). */
export function fileExtension(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot >= 0 && dot < name.length - 1) return name.slice(dot + 1).toLowerCase();
  return /^(dockerfile|makefile)$/i.test(name) ? name.toLowerCase() : "";
}

/** Whether a media type is text: `text/*`, a listed code/data type, or a `+json` / `+xml` structured type (SVG is an image, not text). */
export function isTextType(type: string): boolean {
  const t = base(type);
  if (t.startsWith("image/")) return false;
  return t.startsWith("text/") || TEXT_MEDIA_TYPES.includes(t) || t.endsWith("+json") || t.endsWith("+xml");
}

/**
 * Whether a file has a text preview: its type is text, or it has no
 * specific type (`application/octet-stream` or none) and a text or code
 * file's extension.
 */
export function isPreviewable(type: string, name: string): boolean {
  const t = base(type);
  if (isTextType(t)) return true;
  return (t === "" || t === "application/octet-stream") && TEXT_EXTENSIONS.has(fileExtension(name));
}

/**
 * The filter category of a media type, as the server's `type=` filter
 * decides it (from the stored type alone): `image/*` are images; PDF,
 * office, OpenDocument, RTF, EPUB and text types are documents; everything
 * else (audio, video, archives, binaries) is other.
 */
export function fileCategory(type: string): FileCategory {
  const t = base(type);
  if (t.startsWith("image/")) return "image";
  if (isTextType(t) || DOCUMENT_MEDIA_TYPES.includes(t) || DOCUMENT_MEDIA_PREFIXES.some((p) => t.startsWith(p))) return "document";
  return "other";
}

/** Image types a browser may show from our origin (never SVG: it can carry script); the lightbox shows these. */
export const VIEWABLE_IMAGE_TYPES: readonly string[] = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"];

/** Whether the full-size image can be shown in the page (its download is served inline). */
export const isViewableImage = (type: string): boolean => VIEWABLE_IMAGE_TYPES.includes(base(type));
