/**
 * Message formatting (issue #15 item 1) and S12: the parsed tree is the only
 * thing rendered (MessageBody.svelte renders nodes as elements and text), so
 * these check what can become an element: only the formatting subset, and
 * links only for http(s) / mailto URLs; everything else stays text.
 */
import { describe, expect, it } from "vitest";
import { type MdNode, mentionedIds, parseMessage, safeHref } from "#lib/markdown.ts";

/** Every node of a tree, depth first. */
const all = (nodes: MdNode[]): MdNode[] => nodes.flatMap((n) => [n, ...("children" in n ? all(n.children) : [])]);
const links = (text: string) => all(parseMessage(text)).filter((n): n is Extract<MdNode, { type: "link" }> => n.type === "link");
/** The visible text of a tree (what a reader sees). */
const visible = (nodes: MdNode[]): string =>
  nodes
    .map((n) => ("text" in n ? n.text : n.type === "br" ? "\n" : n.type === "mention" ? `@${n.userId}` : "children" in n ? visible(n.children) : ""))
    .join("");

describe("formatting", () => {
  it("bold, italic, strike, inline code, mentions in one paragraph", () => {
    expect(parseMessage("**bold** _it_ ~~gone~~ `x = 1` <@u_1>")).toEqual([
      {
        type: "p",
        children: [
          { type: "strong", children: [{ type: "text", text: "bold" }] },
          { type: "text", text: " " },
          { type: "em", children: [{ type: "text", text: "it" }] },
          { type: "text", text: " " },
          { type: "s", children: [{ type: "text", text: "gone" }] },
          { type: "text", text: " " },
          { type: "code", text: "x = 1" },
          { type: "text", text: " " },
          { type: "mention", userId: "u_1" },
        ],
      },
    ]);
  });

  it("code blocks keep their text verbatim (no formatting inside), quotes, lists (tight items hold text directly), line breaks", () => {
    expect(parseMessage("```js\nconst a = **1**;\n<b>x</b>\n```")).toEqual([{ type: "pre", text: "const a = **1**;\n<b>x</b>", lang: "js" }]);
    expect(parseMessage("> quoted")).toEqual([{ type: "blockquote", children: [{ type: "p", children: [{ type: "text", text: "quoted" }] }] }]);
    expect(parseMessage("- a\n- b")).toEqual([
      { type: "ul", children: [{ type: "li", children: [{ type: "text", text: "a" }] }, { type: "li", children: [{ type: "text", text: "b" }] }] },
    ]);
    expect(parseMessage("3. c\n4. d")[0]).toMatchObject({ type: "ol", start: 3 });
    expect(parseMessage("one\ntwo")).toEqual([{ type: "p", children: [{ type: "text", text: "one" }, { type: "br" }, { type: "text", text: "two" }] }]);
  });

  it("headings, tables, rules, images and [text](url) links are not part of the subset: they stay as written (a bare URL in them is still a link)", () => {
    for (const text of ["# not a heading", "| a | b |\n|---|---|\n| 1 | 2 |", "![alt](https://x.test/i.png)", "[click](https://x.test)", "&amp; &lt;b&gt;"]) {
      const nodes = all(parseMessage(text));
      expect(nodes.every((n) => ["p", "text", "br", "link"].includes(n.type)), text).toBe(true);
      expect(visible(parseMessage(text)), text).toBe(text);
    }
    expect(links("![alt](https://x.test/i.png)").map((l) => l.href)).toEqual(["https://x.test/i.png"]);
    expect(parseMessage("---")).toEqual([{ type: "p", children: [{ type: "text", text: "---" }] }]);
  });

  it("bare URLs and <autolinks> become links; the text shown is the URL as written", () => {
    expect(links("see https://example.com/a?b=1, then")).toEqual([
      { type: "link", href: "https://example.com/a?b=1", children: [{ type: "text", text: "https://example.com/a?b=1" }] },
    ]);
    expect(links("<https://x.org/path>").map((l) => l.href)).toEqual(["https://x.org/path"]);
    expect(links("mail mailto:someone@example.com").map((l) => l.href)).toEqual(["mailto:someone@example.com"]);
  });

  it("mentionedIds: each id once, in order", () => {
    expect(mentionedIds("<@a> hi <@b> and <@a> again, not <@> nor <@bad id>")).toEqual(["a", "b"]);
  });
});

describe("S12 hostile markup and links", () => {
  const payloads = [
    "[x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "javascript:alert(1)",
    "<JaVaScRiPt:alert(1)>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<data:text/html,<script>alert(1)</script>>",
    "data:text/html,<script>alert(1)</script>",
    "<vbscript:msgbox(1)>",
    "[x](vbscript:msgbox(1))",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil.test></iframe>",
    '<https://ex.com/"onmouseover="alert(1)>',
    "<https://ex.com/'><script>alert(1)</script>>",
    "![x](javascript:alert(1))",
    "[x](  javascript:alert(1)  )",
    "<file:///etc/passwd>",
    "<ftp://ex.com/f>",
    "//evil.test/x",
    "\u0000<script>",
  ];

  it("S12 raw HTML, script-ish URLs and odd schemes never become elements: text, or a link to an http(s)/mailto URL", () => {
    for (const p of payloads) {
      const nodes = all(parseMessage(p));
      const types = new Set(nodes.map((n) => n.type));
      for (const t of types) expect(["p", "text", "br", "link", "code", "pre"], `${p}: ${t}`).toContain(t);
      for (const l of links(p)) {
        expect(["http:", "https:", "mailto:"], p).toContain(new URL(l.href).protocol);
      }
    }
  });

  it("S12 the message still renders: what was written stays readable as text", () => {
    expect(visible(parseMessage("<img src=x onerror=alert(1)>"))).toBe("<img src=x onerror=alert(1)>");
    expect(visible(parseMessage("[x](javascript:alert(1))"))).toBe("[x](javascript:alert(1))");
    expect(visible(parseMessage("<javascript:alert(1)>"))).toBe("<javascript:alert(1)>");
    expect(visible(parseMessage("<script>alert(1)</script>"))).toBe("<script>alert(1)</script>");
  });

  it("S12 an autolink with quotes is one inert, percent-encoded http(s) link (no attribute break-out)", () => {
    const [l] = links('<https://ex.com/"onmouseover="alert(1)>');
    expect(l?.href).toBe("https://ex.com/%22onmouseover=%22alert(1)");
  });

  it("S12 safeHref allows only http(s) with a host and mailto", () => {
    expect(safeHref("https://ex.com")).toBe("https://ex.com/");
    expect(safeHref("mailto:a@b.c")).toBe("mailto:a@b.c");
    for (const bad of ["javascript:alert(1)", " javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "vbscript:x", "file:///etc/passwd", "ftp://x", "http://", "//x", "x"]) {
      expect(safeHref(bad), bad).toBeNull();
    }
  });
});
