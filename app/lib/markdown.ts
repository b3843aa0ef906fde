/**
 * Message formatting (issue #15): a Slack-like subset of Markdown — bold,
 * italic, strike, inline code, code blocks, quotes, lists, line breaks, bare
 * URLs as links — and `<@userId>` mentions, parsed by markdown-it into a
 * small tree the Svelte component renders as elements and text, never as
 * markup strings.
 *
 * Safety (S12): markdown-it runs with `html: false` (raw HTML stays text),
 * without the rules for `[text](url)` links, images, headings, tables and
 * entities; the only links are bare URLs and `<…>` autolinks, and a link
 * becomes an element only when its URL parses and is http(s) or mailto —
 * anything else (`javascript:`, `data:`, `vbscript:`, odd schemes) is shown
 * as the text that was written. The stored text is never changed.
 */
import MarkdownIt, { type Token } from "markdown-it";

type ContainerType = "p" | "strong" | "em" | "s" | "blockquote" | "ul" | "ol" | "li";
type Container = { type: ContainerType; children: MdNode[]; start?: number };
export type MdNode =
  | { type: "text"; text: string }
  | { type: "br" }
  | { type: "mention"; userId: string }
  | { type: "code"; text: string }
  | { type: "pre"; text: string; lang: string }
  | { type: "link"; href: string; children: MdNode[] }
  | Container;

const md = new MarkdownIt("commonmark", { html: false, linkify: true, breaks: true, typographer: false });
md.enable(["strikethrough", "linkify"]);
md.disable(["link", "image", "heading", "lheading", "hr", "reference", "html_block", "html_inline", "entity"]);
// linkify: only the schemes we link (no "//host" or ftp).
md.linkify.set({ fuzzyEmail: false });
md.linkify.add("ftp:", null).add("//", null);
// Validation happens when the tree is built (safeHref); let markdown-it hand every candidate over.
md.validateLink = () => true;

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** The URL as an href if it is http(s) or mailto and parses; null otherwise. */
export function safeHref(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== "mailto:" && !url.hostname) return null;
  return url.href;
}

const MENTION = /<@([A-Za-z0-9_-]{1,64})>/g;

/** Text with `<@id>` mentions split out. */
function textNodes(text: string): MdNode[] {
  const out: MdNode[] = [];
  let at = 0;
  for (const m of text.matchAll(MENTION)) {
    if (m.index > at) out.push({ type: "text", text: text.slice(at, m.index) });
    out.push({ type: "mention", userId: m[1]! });
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push({ type: "text", text: text.slice(at) });
  return out;
}

const CONTAINERS: Record<string, ContainerType> = {
  paragraph_open: "p",
  strong_open: "strong",
  em_open: "em",
  s_open: "s",
  blockquote_open: "blockquote",
  bullet_list_open: "ul",
  ordered_list_open: "ol",
  list_item_open: "li",
};

/** Parse message text into the tree to render. */
export function parseMessage(text: string): MdNode[] {
  const root: MdNode[] = [];
  const stack: MdNode[][] = [root];
  const push = (n: MdNode) => stack.at(-1)!.push(n);
  // A link whose URL was refused: its inner text is kept, its markup dropped.
  const refusedLinks: boolean[] = [];

  const walk = (tokens: Token[]) => {
    for (const t of tokens) {
      // Tight lists' paragraphs are hidden: their text goes straight into the item.
      if (t.hidden && (t.type === "paragraph_open" || t.type === "paragraph_close")) continue;
      if (t.type === "inline") {
        walk(t.children ?? []);
      } else if (t.type in CONTAINERS) {
        const node: Container = { type: CONTAINERS[t.type]!, children: [] };
        if (t.type === "ordered_list_open") node.start = Number(t.attrGet("start") ?? 1);
        push(node);
        stack.push(node.children);
      } else if (t.type.endsWith("_close") && t.type !== "link_close") {
        if (stack.length > 1) stack.pop();
      } else if (t.type === "link_open") {
        const href = safeHref(String(t.attrGet("href") ?? ""));
        // Autolinks (`<https://…>`) and bare URLs only: the `link` rule is off.
        if (href) {
          const node: Extract<MdNode, { type: "link" }> = { type: "link", href, children: [] };
          push(node);
          stack.push(node.children);
          refusedLinks.push(false);
        } else {
          if (t.markup === "autolink") push({ type: "text", text: "<" });
          refusedLinks.push(true);
        }
      } else if (t.type === "link_close") {
        const refused = refusedLinks.pop();
        if (refused === false) stack.pop();
        else if (t.markup === "autolink") push({ type: "text", text: ">" });
      } else if (t.type === "text") {
        for (const n of textNodes(t.content)) push(n);
      } else if (t.type === "code_inline") {
        push({ type: "code", text: t.content });
      } else if (t.type === "fence" || t.type === "code_block") {
        push({ type: "pre", text: t.content.replace(/\n$/, ""), lang: t.info.trim().split(/\s+/)[0] ?? "" });
      } else if (t.type === "softbreak" || t.type === "hardbreak") {
        push({ type: "br" });
      } else if (t.content) {
        // Anything else the enabled rules make: its text, as text.
        for (const n of textNodes(t.content)) push(n);
      }
    }
  };
  walk(md.parse(text, {}));
  return root;
}

/** The ids mentioned in a text, in order, without repeats (what the server counts). */
export function mentionedIds(text: string): string[] {
  return [...new Set([...text.matchAll(MENTION)].map((m) => m[1]!))];
}
