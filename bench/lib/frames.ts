/**
 * Frames on the wire, from #protocol: the client frames the benchmark sends,
 * the server frames it reads (room socket and badge socket), the numbered
 * texts it tracks, and the floor's own bare frame.
 *
 * Parsing: every frame is checked with the protocol's schema, as the SPA
 * does, except where one frame goes to hundreds of receivers whose arrival
 * times are the measurement (fan-out, throughput). The client handles those
 * frames one after another, so its cost per frame adds up before the last
 * member: measured on a 2-core EPYC, 1,000 message frames take 2.8 ms with the
 * schema, 1.2 ms with JSON.parse alone. Those paths read frames with a typed
 * JSON.parse, narrow them by `type`, and check one sample frame per run with
 * the schema.
 */
import { type ClientFrame, HubFrame, ServerFrame } from "#protocol";

export { isStoredEvent } from "#protocol";
export type { HubFrame, ServerFrame };

/** A `send` frame with a fresh client id (or the given one, for a resend). */
export function sendFrame(text: string, clientId: string = crypto.randomUUID()): string {
  const frame: ClientFrame = { type: "send", clientId, text };
  return JSON.stringify(frame);
}

/** Frames the protocol's schema refused (they are dropped, counted and reported). */
export const invalidFrames = { count: 0, examples: [] as string[] };

function refuse(data: string, why: string): undefined {
  invalidFrames.count++;
  if (invalidFrames.examples.length < 3) {
    invalidFrames.examples.push(`${why}: ${data.slice(0, 300)}`);
    console.log(`WARNING: a frame failed the protocol schema (${why}): ${data.slice(0, 300)}`);
  }
  return undefined;
}

function json(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** A room-socket frame checked with `ServerFrame`; undefined (and counted) if it does not conform. */
export function parseServerFrame(data: string): ServerFrame | undefined {
  const r = ServerFrame.safeParse(json(data));
  return r.success ? r.data : refuse(data, r.error.issues[0]?.message ?? "invalid");
}

/** A room-socket frame read with a typed JSON.parse, for the hot receive paths (see above). */
export function readServerFrame(data: string): ServerFrame {
  return JSON.parse(data) as ServerFrame;
}

/** Check an already-read frame with the schema (one sample per hot run); false if it does not conform. */
export function conforms(frame: ServerFrame): boolean {
  const r = ServerFrame.safeParse(frame);
  if (!r.success) refuse(JSON.stringify(frame), r.error.issues[0]?.message ?? "invalid");
  return r.success;
}

/** A badge-socket frame checked with `HubFrame`; undefined (and counted) if it does not conform. */
export function parseHubFrame(data: string): HubFrame | undefined {
  const r = HubFrame.safeParse(json(data));
  return r.success ? r.data : refuse(data, r.error.issues[0]?.message ?? "invalid");
}

/** The text of the `i`-th tracked message of a run labelled `label`. */
export const benchText = (label: string, i: number): string => `b:${label}:${i}`;

/** For a run labelled `label`: the number `i` of a `benchText(label, i)`, or undefined for any other text. */
export function benchIndex(label: string): (text: string | null | undefined) => number | undefined {
  const prefix = `b:${label}:`;
  return (text) => {
    if (!text?.startsWith(prefix) || text.length === prefix.length) return undefined;
    const i = Number(text.slice(prefix.length));
    return Number.isInteger(i) && i >= 0 ? i : undefined;
  };
}

/** The floor's frame: whatever a client sent, `{ text }`, stored and broadcast as it came. */
export interface FloorFrame {
  text?: string;
}

export const floorFrame = (text: string): string => JSON.stringify({ text } satisfies FloorFrame);
export const readFloorFrame = (data: string): FloorFrame => JSON.parse(data) as FloorFrame;
