/**
 * A search box's text → a safe FTS5 query (S13). The text is never passed
 * to MATCH as written: it is split into words (letters, digits and marks —
 * what FTS5's unicode61 tokenizer keeps), each word is quoted, and the words
 * must all appear (the last one as a prefix, so results come while typing).
 * FTS5 operators (AND, OR, NOT, NEAR), column filters, quotes, `*`, `^` and
 * parentheses become plain words or separators; nothing can widen a search
 * beyond the rooms it is run in.
 */
import { LIMITS } from "#protocol";

/** At most this many words are used (a longer query is refused). */
export const MAX_TERMS = 16;

export type SearchQueryResult = { ok: true; match: string; terms: string[] } | { ok: false; message: string };

export function toFtsQuery(text: string): SearchQueryResult {
  if (text.length > LIMITS.searchMax) return { ok: false, message: `Search text must be at most ${LIMITS.searchMax} characters` };
  if (text.includes("\u0000")) return { ok: false, message: "Search text must not contain NUL characters" };
  if (!text.isWellFormed()) return { ok: false, message: "Search text must be valid Unicode" };
  const terms = text
    .normalize("NFKC")
    .split(/[^\p{L}\p{N}\p{M}]+/u)
    .filter(Boolean);
  if (!terms.length) return { ok: false, message: "Search for at least one word (letters or digits)" };
  if (terms.length > MAX_TERMS) return { ok: false, message: `Search for at most ${MAX_TERMS} words` };
  // Quoted: a word is a string, never an operator; a quote cannot occur in one (it is a separator).
  const match = terms.map((t, i) => `"${t}"${i === terms.length - 1 ? "*" : ""}`).join(" ");
  return { ok: true, match, terms };
}
