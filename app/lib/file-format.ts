/** How files are described to people: kind (for the icon) and age. Sizes: `formatBytes` in `#protocol`. */

/** The icon families the Files panel draws. */
export type FileKind = "image" | "pdf" | "archive" | "audio" | "video" | "text" | "other";

const ARCHIVE_TYPES = new Set([
  "application/zip",
  "application/x-zip-compressed",
  "application/gzip",
  "application/x-gzip",
  "application/x-tar",
  "application/x-bzip2",
  "application/x-xz",
  "application/x-7z-compressed",
  "application/x-rar-compressed",
  "application/vnd.rar",
  "application/zstd",
]);
const ARCHIVE_EXT = new Set(["zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar", "zst"]);

const TEXT_TYPES = new Set([
  "application/json",
  "application/xml",
  "application/javascript",
  "application/x-javascript",
  "application/typescript",
  "application/x-sh",
  "application/x-yaml",
  "application/yaml",
  "application/toml",
  "application/sql",
]);
const TEXT_EXT = new Set([
  "txt", "md", "csv", "tsv", "log", "json", "xml", "yaml", "yml", "toml", "ini", "html", "css",
  "js", "mjs", "ts", "tsx", "jsx", "svelte", "py", "rb", "go", "rs", "java", "kt", "c", "h", "cpp",
  "hpp", "cs", "php", "sh", "sql", "swift",
]);

/** The lower-case extension of a file name ("" when none). */
export function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toLowerCase() : "";
}

/** Which icon a file gets, from its media type and, failing that, its name. */
export function fileKind(type: string, name: string): FileKind {
  const t = type.toLowerCase().split(";")[0]!.trim();
  const ext = extension(name);
  if (t.startsWith("image/")) return "image";
  if (t === "application/pdf" || ext === "pdf") return "pdf";
  if (t.startsWith("audio/")) return "audio";
  if (t.startsWith("video/")) return "video";
  if (ARCHIVE_TYPES.has(t) || ARCHIVE_EXT.has(ext)) return "archive";
  if (t.startsWith("text/") || TEXT_TYPES.has(t) || t.endsWith("+json") || t.endsWith("+xml") || TEXT_EXT.has(ext)) {
    return "text";
  }
  return "other";
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const shortDate = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const shortDateYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric" });

/** "just now", "5 minutes ago", "3 hours ago", "yesterday", then a date. */
export function timeAgo(ms: number, now = Date.now()): string {
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return relative.format(-minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 24) return relative.format(-hours, "hour");
  const days = Math.round(hours / 24);
  if (days < 7) return relative.format(-days, "day");
  return new Date(ms).getFullYear() === new Date(now).getFullYear() ? shortDate.format(ms) : shortDateYear.format(ms);
}
