/**
 * Write a stream of unknown length into R2 without holding it whole: small
 * bodies go up in one `put`; larger ones as an R2 multipart upload of
 * PART_SIZE parts (R2 wants equal parts, at least 5 MiB, but the last), so at
 * most one part is in memory. A body over `maxBytes` is abandoned and
 * nothing is left stored.
 */

export const PART_SIZE = 5 * 1024 * 1024;

export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
  }
}

export async function putStream(
  bucket: R2Bucket,
  key: string,
  chunks: AsyncIterable<Uint8Array>,
  opts: { maxBytes: number; contentType: string; partSize?: number; onPart?: (sizeSoFar: number) => Promise<void> },
): Promise<{ size: number }> {
  const partSize = opts.partSize ?? PART_SIZE;
  let part = new Uint8Array(partSize);
  let fill = 0;
  let size = 0;
  let upload: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];
  const httpMetadata = { contentType: opts.contentType };
  try {
    for await (const chunk of chunks) {
      size += chunk.length;
      if (size > opts.maxBytes) throw new TooLargeError(opts.maxBytes);
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(partSize - fill, chunk.length - offset);
        part.set(chunk.subarray(offset, offset + n), fill);
        fill += n;
        offset += n;
        if (fill === partSize) {
          upload ??= await bucket.createMultipartUpload(key, { httpMetadata });
          parts.push(await upload.uploadPart(parts.length + 1, part));
          part = new Uint8Array(partSize);
          fill = 0;
          await opts.onPart?.(size);
        }
      }
    }
    if (!upload) {
      await bucket.put(key, part.subarray(0, fill), { httpMetadata });
    } else {
      if (fill > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, fill)));
      await upload.complete(parts);
    }
    return { size };
  } catch (err) {
    if (upload) await upload.abort().catch(() => undefined);
    throw err;
  }
}
