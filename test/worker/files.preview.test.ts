import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { utf8Boundary } from "../../worker/files/preview";
import { fileCategory, type FileInfo, type FilesPage, PREVIEW_MAX_BYTES } from "#protocol";
import { call, createRoom, errorOf, ORIGIN, register, roomWithTwo, type TestUser } from "./helpers";

function upload(roomId: string, user: TestUser, bytes: string | Uint8Array, name: string, type: string, description?: string): Promise<FileInfo> {
  const fd = new FormData();
  if (description !== undefined) fd.append("description", description);
  fd.append("file", new Blob([bytes], { type }), name);
  return exports.default
    .fetch(new Request(`${ORIGIN}/api/rooms/${roomId}/files`, { method: "POST", headers: { Origin: ORIGIN, Cookie: user.cookie }, body: fd }))
    .then(async (res) => {
      if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
      return (await res.json<{ file: FileInfo }>()).file;
    });
}

const preview = (fileId: string, user: TestUser) => call(`/api/files/${fileId}/preview`, { cookie: user.cookie });
const list = async (roomId: string, user: TestUser, qs: string) => {
  const res = await call(`/api/rooms/${roomId}/files?${qs}`, { cookie: user.cookie });
  expect(res.status).toBe(200);
  return (await res.json<FilesPage>()).files.map((f) => f.filename).sort();
};

describe("U1 preview: text served inert", () => {
  it("an HTML file's preview is its markup as text/plain, nosniff, sandbox CSP, inline, private", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    const html = "<html><script>alert(1)</script><b>hi</b></html>";
    const f = await upload(roomId, alice, html, "page.html", "text/html");
    const res = await preview(f.file_id, bob);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Security-Policy")).toBe("sandbox; default-src 'none'");
    expect(res.headers.get("Content-Disposition")).toMatch(/^inline; filename="page.html"/);
    expect(res.headers.get("Cache-Control")).toMatch(/^private/);
    expect(res.headers.get("X-Parley-Truncated")).toBe("false");
    expect(await res.text()).toBe(html);
  });

  it("code types and code names with a generic type have a preview; images, PDFs and binaries are 415", async () => {
    const { roomId, alice } = await roomWithTwo();
    for (const [name, type] of [
      ["data.json", "application/json"],
      ["run.sh", "application/x-sh"],
      ["conf.yaml", "application/x-yaml"],
      ["main.ts", "application/octet-stream"],
      ["README.md", ""],
    ] as const) {
      const f = await upload(roomId, alice, "x = 1", name, type);
      const res = await preview(f.file_id, alice);
      expect(res.status, name).toBe(200);
      expect(await res.text()).toBe("x = 1");
    }
    for (const [name, type] of [
      ["x.png", "image/png"],
      ["evil.svg", "image/svg+xml"],
      ["doc.pdf", "application/pdf"],
      ["blob.bin", "application/octet-stream"],
      // A text extension does not make an image text.
      ["fake.txt", "image/png"],
    ] as const) {
      const f = await upload(roomId, alice, "<svg onload=alert(1)>", name, type);
      expect(await errorOf(await preview(f.file_id, alice)), name).toMatchObject({ status: 415, code: "unsupported_media_type" });
    }
  });
});

describe("U2 preview: hostile names stay in the encoded header", () => {
  it("a name with CR/LF and markup is cleaned and encoded in Content-Disposition", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await upload(roomId, alice, "ok", "<img src=x onerror=alert(1)>\r\n.txt", "text/plain");
    const cd = (await preview(f.file_id, alice)).headers.get("Content-Disposition")!;
    expect(cd).not.toMatch(/[\r\n]/);
    expect(cd).toContain("filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt");
  });
});

describe("U5 preview: members only", () => {
  it("a non-member gets 403, an unknown file 404, and nothing of the text", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await upload(roomId, alice, "secret plans", "plans.txt", "text/plain");
    const eve = await register();
    await createRoom(eve); // a member of another room
    const res = await preview(f.file_id, eve);
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain("secret");
    expect((await preview("no-such-file", alice)).status).toBe(404);
    expect((await call(`/api/files/${f.file_id}/preview`)).status).toBe(401);
  });
});

describe("preview: the first 64 KiB", () => {
  it("a large file is cut at 64 KiB, at a whole UTF-8 character, and says it was truncated", async () => {
    const { roomId, alice } = await roomWithTwo();
    // 'a' then 3-byte characters: byte 65,536 falls inside one of them.
    const text = `a${"€".repeat(30_000)}`;
    const f = await upload(roomId, alice, text, "euro.txt", "text/plain");
    const res = await preview(f.file_id, alice);
    expect(res.headers.get("X-Parley-Truncated")).toBe("true");
    const body = await res.text();
    expect(body).not.toContain("\uFFFD");
    expect(body).toBe(`a${"€".repeat(Math.floor((PREVIEW_MAX_BYTES - 1) / 3))}`);
    expect(Number(res.headers.get("Content-Length"))).toBe(new TextEncoder().encode(body).byteLength);
  });

  it("an empty text file previews as empty, not truncated", async () => {
    const { roomId, alice } = await roomWithTwo();
    const f = await upload(roomId, alice, "", "empty.txt", "text/plain");
    const res = await preview(f.file_id, alice);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Parley-Truncated")).toBe("false");
    expect(await res.text()).toBe("");
  });

  it("utf8Boundary drops only a cut-off sequence", () => {
    const bytes = new TextEncoder().encode("a€😀");
    expect(utf8Boundary(bytes)).toBe(bytes.length);
    expect(utf8Boundary(bytes.subarray(0, 2))).toBe(1); // inside €
    expect(utf8Boundary(bytes.subarray(0, 4))).toBe(4); // after €
    expect(utf8Boundary(bytes.subarray(0, 7))).toBe(4); // inside 😀
    expect(utf8Boundary(new Uint8Array(0))).toBe(0);
  });
});

describe("file search and the type filter", () => {
  it("q matches the name, the description and the uploader's username, case-insensitively; % and _ are literal", async () => {
    const { roomId, alice, bob } = await roomWithTwo();
    await upload(roomId, alice, "1", "budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Quarterly numbers");
    await upload(roomId, bob, "2", "cat.png", "image/png", "100% cute");
    await upload(roomId, alice, "3", "a_b.txt", "text/plain");
    await upload(roomId, alice, "4", "axb.txt", "text/plain", "50 percent");
    expect(await list(roomId, alice, "q=BUDGET")).toEqual(["budget.xlsx"]);
    expect(await list(roomId, alice, "q=quarterly")).toEqual(["budget.xlsx"]);
    expect(await list(roomId, alice, `q=${bob.username.toUpperCase()}`)).toEqual(["cat.png"]);
    expect(await list(roomId, alice, "q=%25")).toEqual(["cat.png"]);
    expect(await list(roomId, alice, "q=a_b")).toEqual(["a_b.txt"]);
  });

  it("type=image|document|other keeps one category, combines with q; an unknown type is 400", async () => {
    const { roomId, alice } = await roomWithTwo();
    const made: [string, string][] = [
      ["cat.png", "image/png"],
      ["logo.svg", "image/svg+xml"],
      ["report.pdf", "application/pdf"],
      ["letter.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
      ["sheet.ods", "application/vnd.oasis.opendocument.spreadsheet"],
      ["notes.txt", "text/plain"],
      ["data.json", "application/json"],
      ["feed.atom", "application/atom+xml"],
      ["song.mp3", "audio/mpeg"],
      ["backup.zip", "application/zip"],
      ["blob.bin", "application/octet-stream"],
    ];
    for (const [name, type] of made) await upload(roomId, alice, "x", name, type);
    const expected = (c: string) => made.filter(([, t]) => fileCategory(t) === c).map(([n]) => n).sort();
    expect(expected("image")).toEqual(["cat.png", "logo.svg"]);
    expect(await list(roomId, alice, "type=image")).toEqual(expected("image"));
    expect(expected("document")).toEqual(["data.json", "feed.atom", "letter.docx", "notes.txt", "report.pdf", "sheet.ods"]);
    expect(await list(roomId, alice, "type=document")).toEqual(expected("document"));
    expect(await list(roomId, alice, "type=other")).toEqual(["backup.zip", "blob.bin", "song.mp3"]);
    expect(await list(roomId, alice, "type=document&q=re")).toEqual(["report.pdf"]);
    expect(await errorOf(await call(`/api/rooms/${roomId}/files?type=video`, { cookie: alice.cookie }))).toMatchObject({ status: 400 });
  });
});
