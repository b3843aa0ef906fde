/** The Files panel's list (app/lib/room-files.svelte.ts): the type filter and the search over name, description and uploader. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FileInfo, FilesPage } from "#protocol";
import { matches, RoomFiles, SEARCH_DEBOUNCE_MS } from "#lib/room-files.svelte.ts";

let at = 1_000;
const file = (name: string, type: string, extra: Partial<FileInfo> = {}): FileInfo => ({
  file_id: `f-${name}`,
  room_id: "r1",
  filename: name,
  file_type: type,
  file_size: 1,
  uploaded_by: "ann",
  uploader_id: "u1",
  uploaded_at: at++,
  description: "",
  has_thumbnail: false,
  seq: null,
  ...extra,
});

/** fetch, answering each files request with what `answer` gives for its query; the URLs are recorded. */
function serve(answer: (params: URLSearchParams) => FileInfo[]) {
  const urls: URL[] = [];
  vi.stubGlobal("fetch", async (input: string) => {
    const url = new URL(input, "https://parley.test");
    urls.push(url);
    const page: FilesPage = { files: answer(url.searchParams), next: null };
    return new Response(JSON.stringify(page), { headers: { "Content-Type": "application/json" } });
  });
  return urls;
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("matches (the server's rule, for live arrivals)", () => {
  const f = file("Budget.xlsx", "application/vnd.ms-excel", { description: "Quarterly numbers", uploaded_by: "Bob_42" });
  it("finds the name, the description and the uploader, case-insensitively", () => {
    expect(matches(f, "budget", null)).toBe(true);
    expect(matches(f, "QUARTERLY", null)).toBe(true);
    expect(matches(f, "bob_", null)).toBe(true);
    expect(matches(f, "cat", null)).toBe(false);
  });
  it("keeps to the type filter", () => {
    expect(matches(f, "", "document")).toBe(true);
    expect(matches(f, "", "image")).toBe(false);
    expect(matches(file("a.png", "image/png"), "", "image")).toBe(true);
    expect(matches(file("a.zip", "application/zip"), "", "other")).toBe(true);
  });
});

describe("RoomFiles type filter", () => {
  it("asks the server for the type at once, shows its answer, and all files again when cleared", async () => {
    const cat = file("cat.png", "image/png");
    const notes = file("notes.txt", "text/plain");
    const urls = serve((p) => [cat, notes].filter((f) => p.get("type") !== "image" || f === cat));
    const files = new RoomFiles();
    files.setFromSnapshot([cat, notes], "r1");
    files.filter("image");
    expect(files.type).toBe("image");
    await vi.waitFor(() => expect(files.files.map((f) => f.filename)).toEqual(["cat.png"]));
    expect(urls.at(-1)?.searchParams.get("type")).toBe("image");
    files.filter(null);
    expect(files.files.map((f) => f.filename)).toEqual(["notes.txt", "cat.png"]);
    expect(urls).toHaveLength(1);
  });

  it("combines with the search, and a live arrival joins the filtered list only if it fits", async () => {
    const cat = file("cat.png", "image/png", { description: "holiday" });
    const urls = serve(() => [cat]);
    const files = new RoomFiles();
    files.setFromSnapshot([cat], "r1");
    files.filter("image");
    files.search("holi");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS);
    await vi.waitFor(() => expect(files.loading).toBe(false));
    expect([...urls.at(-1)!.searchParams]).toEqual([
      ["q", "holi"],
      ["type", "image"],
      ["limit", "50"],
    ]);
    files.applyUploaded(file("holiday.txt", "text/plain"));
    files.applyUploaded(file("beach.jpg", "image/jpeg", { description: "Holiday beach" }));
    expect(files.files.map((f) => f.filename)).toEqual(["beach.jpg", "cat.png"]);
    expect(files.all.map((f) => f.filename)).toEqual(["beach.jpg", "holiday.txt", "cat.png"]);
    files.dispose();
  });
});

describe("RoomFiles.applyVersion (file_version_added)", () => {
  it("the listed file becomes its new version in the same place, NEW again for 5 s", async () => {
    const a = file("a.txt", "text/plain");
    const b = file("b.txt", "text/plain");
    const files = new RoomFiles();
    files.setFromSnapshot([b, a], "r1");
    await vi.advanceTimersByTimeAsync(6_000);
    expect(files.isNew(a.file_id)).toBe(false);
    files.applyVersion({ ...a, filename: "a-v2.txt", version: 2, seq: 9 });
    expect(files.files.map((f) => [f.file_id, f.filename, f.version ?? 1])).toEqual([
      [b.file_id, "b.txt", 1],
      [a.file_id, "a-v2.txt", 2],
    ]);
    expect(files.isNew(a.file_id)).toBe(true);
    await vi.advanceTimersByTimeAsync(5_001);
    expect(files.isNew(a.file_id)).toBe(false);
  });
});

describe("RoomFiles.applyComments (file_comment_added / _removed)", () => {
  it("sets the listed file's live count (absolute: a repeat changes nothing), and a new version keeps it", () => {
    const a = file("a.txt", "text/plain");
    const b = file("b.txt", "text/plain", { comments: 3 });
    const files = new RoomFiles();
    files.setFromSnapshot([b, a], "r1");
    files.applyComments(a.file_id, 1);
    files.applyComments(a.file_id, 1);
    expect(files.files.map((f) => [f.filename, f.comments ?? 0])).toEqual([
      ["b.txt", 3],
      ["a.txt", 1],
    ]);
    const before = files.all;
    files.applyComments("unknown", 4);
    expect(files.all).toBe(before);
    files.applyComments(b.file_id, 2);
    files.applyVersion({ ...b, comments: undefined, filename: "b-v2.txt", version: 2, seq: 9 });
    expect(files.files.find((f) => f.file_id === b.file_id)).toMatchObject({ filename: "b-v2.txt", comments: 2 });
  });
});
