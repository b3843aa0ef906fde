/**
 * A streaming `multipart/form-data` reader: parts are read one at a time and
 * a file part's bytes are handed on chunk by chunk, so an upload is never
 * held whole in memory (Workers have 128 MB; uploads may be 100 MB).
 *
 * Libraries that run on Workers (e.g. @remix-run/multipart-parser) collect
 * each part's content in memory before yielding it, which is what this avoids.
 */

const CRLF = new Uint8Array([13, 10]);
const enc = new TextEncoder();
const dec = new TextDecoder();

export class MultipartError extends Error {}

export interface PartHeaders {
  name: string;
  filename?: string;
  contentType?: string;
}

/** The boundary of a multipart/form-data Content-Type, or null. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first!, from); i !== -1 && i <= last; i = haystack.indexOf(first!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** `name="x"; filename="y"` parameters of a Content-Disposition header. */
function dispositionParams(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  const re = /;\s*([a-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/gi;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1").trim();
  }
  return params;
}

export class MultipartReader {
  private buf: Uint8Array = CRLF; // so the first boundary matches "\r\n--boundary" like the rest
  private done = false;
  private finished = false;
  private inPart = false;
  private readonly delimiter: Uint8Array;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(body: ReadableStream<Uint8Array>, boundary: string) {
    this.delimiter = enc.encode(`\r\n--${boundary}`);
    this.reader = body.getReader();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.done = true;
      return false;
    }
    this.buf = concat(this.buf, value);
    return true;
  }

  /** Cancel the underlying body (on error or early answer). */
  async cancel(): Promise<void> {
    try {
      await this.reader.cancel();
    } catch {
      // already closed
    }
  }

  /** Advance to the next part and read its headers; null after the last part. */
  async nextPart(): Promise<PartHeaders | null> {
    if (this.finished) return null;
    if (this.inPart) for await (const _ of this.body()) void _; // skip an unread part
    // Find the next delimiter (the first one may follow a preamble).
    let at = indexOf(this.buf, this.delimiter);
    while (at === -1) {
      // Keep only what could still be the start of a delimiter.
      this.buf = this.buf.slice(Math.max(0, this.buf.length - this.delimiter.length));
      if (!(await this.fill())) throw new MultipartError("multipart body ended before a boundary");
      at = indexOf(this.buf, this.delimiter);
    }
    this.buf = this.buf.slice(at + this.delimiter.length);
    while (this.buf.length < 2) if (!(await this.fill())) throw new MultipartError("multipart body ended after a boundary");
    if (this.buf[0] === 45 && this.buf[1] === 45) {
      this.finished = true;
      await this.cancel();
      return null;
    }
    // Skip transport padding up to the CRLF that ends the boundary line.
    let eol = indexOf(this.buf, CRLF);
    while (eol === -1) {
      if (this.buf.length > 256) throw new MultipartError("malformed boundary line");
      if (!(await this.fill())) throw new MultipartError("multipart body ended in a boundary line");
      eol = indexOf(this.buf, CRLF);
    }
    this.buf = this.buf.slice(eol + 2);
    // Headers end at an empty line.
    const end = enc.encode("\r\n\r\n");
    let hdrEnd = this.buf[0] === 13 && this.buf[1] === 10 ? -2 : indexOf(this.buf, end);
    while (hdrEnd === -1) {
      if (this.buf.length > 16 * 1024) throw new MultipartError("part headers too large");
      if (!(await this.fill())) throw new MultipartError("multipart body ended in part headers");
      hdrEnd = indexOf(this.buf, end);
    }
    const headerText = hdrEnd === -2 ? "" : dec.decode(this.buf.slice(0, hdrEnd));
    this.buf = this.buf.slice(hdrEnd === -2 ? 2 : hdrEnd + 4);
    const headers = new Map<string, string>();
    for (const line of headerText.split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    const disposition = headers.get("content-disposition") ?? "";
    if (!/^form-data\b/i.test(disposition)) throw new MultipartError("part without form-data disposition");
    const params = dispositionParams(disposition);
    if (params.name === undefined) throw new MultipartError("part without a name");
    this.inPart = true;
    const part: PartHeaders = { name: params.name };
    if (params.filename !== undefined) part.filename = params.filename;
    const type = headers.get("content-type");
    if (type) part.contentType = type;
    return part;
  }

  /** The current part's bytes, chunk by chunk, up to its closing delimiter. */
  async *body(): AsyncGenerator<Uint8Array> {
    if (!this.inPart) return;
    for (;;) {
      const at = indexOf(this.buf, this.delimiter);
      if (at !== -1) {
        if (at > 0) yield this.buf.slice(0, at);
        this.buf = this.buf.slice(at); // leave the delimiter for nextPart()
        this.inPart = false;
        return;
      }
      // Everything but a possible partial delimiter at the end is content.
      const safe = this.buf.length - (this.delimiter.length - 1);
      if (safe > 0) {
        yield this.buf.slice(0, safe);
        this.buf = this.buf.slice(safe);
      }
      if (!(await this.fill())) throw new MultipartError("upload ended before the part did (aborted?)");
    }
  }

  /** The current part's bytes, refusing more than `max`. */
  async bytes(max: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.min(max, 64 * 1024));
    let buf = out;
    let size = 0;
    for await (const c of this.body()) {
      if (size + c.length > max) throw new MultipartError("form field too large");
      if (size + c.length > buf.length) {
        const grown = new Uint8Array(Math.min(max, Math.max(buf.length * 2, size + c.length)));
        grown.set(buf.subarray(0, size));
        buf = grown;
      }
      buf.set(c, size);
      size += c.length;
    }
    return buf.slice(0, size);
  }

  /** The current part as text, refusing more than `max` bytes. */
  async text(max: number): Promise<string> {
    return dec.decode(await this.bytes(max));
  }
}
