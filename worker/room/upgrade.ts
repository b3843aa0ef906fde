/**
 * The room socket's upgrade, the parts that need no object state: reading
 * the identity the Worker verified (internal headers, never a client's), and
 * the resume handshake a new socket gets — `hello`, the events after the
 * client's `after` (or `resync_required`), the receipts that moved
 * meanwhile, then `live` (docs/protocol.md "Connecting and resuming").
 */
import type { Receipt, RoomEvent } from "#protocol";
import { UPGRADE_HEADERS } from "./contract";
import { send } from "./frames";
import type { Failure } from "./log";

/** Who is connecting, as the Worker verified it. */
export interface Identity {
  roomId: string;
  userId: string;
  username: string;
  session: string;
  /** When the session expires (ms): the socket closes then. */
  expiresAt: number;
}

/** The identity headers of a forwarded upgrade, or null when one is missing or malformed. */
export function identityOf(request: Request): Identity | null {
  const h = (name: string) => request.headers.get(name);
  const [roomId, userId, username, session] = [h(UPGRADE_HEADERS.roomId), h(UPGRADE_HEADERS.userId), h(UPGRADE_HEADERS.username), h(UPGRADE_HEADERS.session)];
  const expiresAt = Number(h(UPGRADE_HEADERS.expires));
  if (!roomId || !userId || !username || !session || !Number.isSafeInteger(expiresAt)) return null;
  return { roomId, userId, username, session, expiresAt };
}

/** What the handshake reads from the room. */
export interface HandshakeSource {
  head(): number;
  eventsAfter(after: number): { ok: true; events: RoomEvent[] } | Failure;
  receiptsSince(since: number | undefined): Receipt[];
}

/**
 * Greet a new socket and bring it up to date: the replay after `afterParam`
 * (the `after` query parameter, null for a fresh connection) or
 * `resync_required`, then the receipts since then, then `live`.
 */
export function handshake(ws: WebSocket, room: HandshakeSource, afterParam: string | null, hello: { userId: string; connectionId: string }): void {
  const head = room.head();
  send(ws, { type: "hello", seq: head, ...hello });
  let since: number | undefined;
  if (afterParam !== null) {
    const after = /^\d{1,15}$/.test(afterParam) ? Number(afterParam) : -1;
    const replay = room.eventsAfter(after);
    if (replay.ok) {
      for (const event of replay.events) send(ws, event);
      since = after;
    } else send(ws, { type: "resync_required", seq: head });
  }
  send(ws, { type: "receipts", receipts: room.receiptsSince(since) });
  send(ws, { type: "live", seq: head });
}
