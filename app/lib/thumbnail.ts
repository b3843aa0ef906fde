/**
 * Thumbnails for image uploads, made in the browser: at most
 * {@link THUMBNAIL.maxSide} px on the long side, WebP (or JPEG where the
 * browser cannot encode WebP), at most {@link THUMBNAIL.maxBytes}. Anything
 * the browser cannot decode simply gets no thumbnail.
 */
import { LIMITS, type ThumbnailType } from "#protocol";

/** The server's limits for a thumbnail (from the protocol), and how big an image we decode for one. */
export const THUMBNAIL = {
  maxSide: LIMITS.thumbnailMaxSide,
  maxBytes: LIMITS.thumbnailMaxBytes,
  /** Do not decode images bigger than this just for a preview. */
  maxSourceBytes: 40 * 1024 * 1024,
} as const;

/** What to try, in order: every type is one the server accepts for a thumbnail. */
const ENCODINGS: readonly (readonly [ThumbnailType, number])[] = [
  ["image/webp", 0.8],
  ["image/jpeg", 0.8],
  ["image/jpeg", 0.6],
];

type Canvas = OffscreenCanvas | HTMLCanvasElement;

function canvasOf(width: number, height: number): Canvas {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function encode(canvas: Canvas, type: string, quality: number): Promise<Blob | null> {
  if (canvas instanceof HTMLCanvasElement) {
    return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
  }
  return canvas.convertToBlob({ type, quality }).catch(() => null);
}

/** Fit `width`×`height` inside a square of `max` px, never enlarging. */
export function fitWithin(width: number, height: number, max: number): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * A small preview of an image file, or null (not an image, not decodable,
 * too big, or any other problem — a thumbnail is optional).
 */
export async function makeThumbnail(file: Blob): Promise<Blob | null> {
  if (!file.type.startsWith("image/") || file.type === "image/svg+xml") return null;
  if (file.size === 0 || file.size > THUMBNAIL.maxSourceBytes) return null;
  if (typeof createImageBitmap !== "function") return null;
  let bitmap: ImageBitmap | undefined;
  try {
    bitmap = await createImageBitmap(file);
    const size = fitWithin(bitmap.width, bitmap.height, THUMBNAIL.maxSide);
    const canvas = canvasOf(size.width, size.height);
    const ctx = canvas.getContext("2d") as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
    if (!ctx) return null;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, size.width, size.height);
    for (const [type, quality] of ENCODINGS) {
      const blob = await encode(canvas, type, quality);
      // A browser that cannot encode `type` hands back PNG instead: try the next.
      if (blob && blob.type === type && blob.size > 0 && blob.size <= THUMBNAIL.maxBytes) return blob;
    }
    return null;
  } catch {
    return null;
  } finally {
    bitmap?.close();
  }
}
