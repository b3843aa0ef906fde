/**
 * The base both Durable Objects stand on (Room and UserHub): the plumbing
 * of hibernatable WebSockets that each would otherwise repeat.
 *
 * - `accept`: `ctx.acceptWebSocket` with tags (user, session), a per-user cap
 *   (closed at once with 4029 and a reason), and the attachment (ids only).
 * - ping/pong answered by the runtime without waking the object; `reap`
 *   closes half-open sockets (no ping answered for HEARTBEAT.idleMs, found
 *   from the auto-response timestamps) and sockets whose session expired
 *   (HARDENING A9). A new socket reaps its user's first, so dead tabs never
 *   count against the per-user cap; a message from an expired session's
 *   socket closes it instead of being handled.
 * - close reciprocated; `closeSession` for sign-out, `closeSessions` for the
 *   other sessions of a password change, `closeUser` for a deleted account.
 * - one try/catch-and-log around every runtime entry point: a socket
 *   callback never throws; an alarm that fails logs and rethrows, so the
 *   runtime retries it.
 * - a cost {@link Meter} around the object's SQL.
 *
 * Subclasses implement `onMessage`, `onClose` and `onAlarm`, and keep native
 * RPC methods of their own (this is a plain `DurableObject`).
 */
import { DurableObject } from "cloudflare:workers";
import { CLOSE, HEARTBEAT, PING_FRAME, PONG_FRAME } from "#protocol";
import { Meter, type MeterReading, type Sql } from "./meter";
import { safeClose, trySend } from "./ws";

/** What every socket remembers across hibernation (ids only, well under 2 KB). */
export interface BaseAttachment {
  userId: string;
  connectionId: string;
  connectedAt: number;
  /** When the session that opened the socket expires (ms since epoch). */
  expiresAt: number;
}

/** The close reason for an expired session; clients treat it as signed out. */
export const SESSION_EXPIRED = "signed out: session expired";
/** The close reason for the other sessions of a user who changed their password. */
export const PASSWORD_CHANGED = "signed out: password changed";
/** The close reason for every socket of a deleted account (A9). */
export const ACCOUNT_DELETED = "signed out: account deleted";

export const userTag = (userId: string) => `u:${userId}`;
export const sessionTag = (sessionHash: string) => `s:${sessionHash}`;

export abstract class SocketObject<A extends BaseAttachment> extends DurableObject<Env> {
  /** Meters this object's SQL, requests and alarms. */
  readonly meter = new Meter();
  /** This object's SQLite, metered. */
  protected readonly sql: Sql;
  /** A name for logs. */
  protected abstract label(): string;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = this.meter.wrap(ctx.storage.sql);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // ------------------------------------------------------------ for subclasses

  /**
   * Accept a hibernatable socket for `attachment.userId`. Over `cap` sockets
   * for that user, the new one is closed at once with 4029 and `capReason`.
   */
  protected accept(attachment: A, session: string, cap: number, capReason: string): { client: WebSocket; server: WebSocket; refused: boolean } {
    const { 0: client, 1: server } = new WebSocketPair();
    this.reap(Date.now(), userTag(attachment.userId));
    const crowded = this.openSockets(userTag(attachment.userId)).length >= cap;
    this.ctx.acceptWebSocket(server, [userTag(attachment.userId), sessionTag(session)]);
    if (crowded) {
      safeClose(server, CLOSE.tooManyConnections, capReason);
      return { client, server, refused: true };
    }
    server.serializeAttachment(attachment);
    return { client, server, refused: false };
  }

  protected attachment(ws: WebSocket): A | undefined {
    return (ws.deserializeAttachment() as A | null) ?? undefined;
  }

  /** Open sockets, all or those with a tag. */
  protected openSockets(tag?: string): WebSocket[] {
    return this.ctx.getWebSockets(tag).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** Does `userId` have another open socket than `except`? */
  protected userOnline(userId: string, except?: WebSocket): boolean {
    return this.openSockets(userTag(userId)).some((s) => s !== except);
  }

  protected broadcastRaw(data: string, except?: WebSocket, tag?: string): void {
    for (const ws of this.openSockets(tag)) if (ws !== except) trySend(ws, data);
  }

  /**
   * Close the open sockets (all, or those with `tag`) that are half-open
   * (silent — no ping answered by the runtime, no connect — for longer than
   * HEARTBEAT.idleMs: 4408) or whose session has expired (1008), calling
   * `onClose` for each. Returns how many were closed.
   */
  protected reap(now: number, tag?: string): number {
    let closed = 0;
    for (const ws of this.openSockets(tag)) {
      const att = this.attachment(ws);
      const lastPing = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      const expired = att !== undefined && att.expiresAt <= now;
      if (!expired && now - Math.max(lastPing, att?.connectedAt ?? 0) <= HEARTBEAT.idleMs) continue;
      safeClose(ws, expired ? CLOSE.policy : CLOSE.idle, expired ? SESSION_EXPIRED : "no heartbeat");
      closed++;
      if (att) this.onClose(ws, att);
    }
    return closed;
  }

  /** The earliest session expiry among open sockets (for an alarm), or null. */
  protected nextExpiry(): number | null {
    let next: number | null = null;
    for (const ws of this.openSockets()) {
      const at = this.attachment(ws)?.expiresAt;
      if (at !== undefined && (next === null || at < next)) next = at;
    }
    return next;
  }

  protected closeTagged(tag: string, code: number, reason: string): number {
    const sockets = this.ctx.getWebSockets(tag);
    for (const ws of sockets) safeClose(ws, code, reason);
    return sockets.length;
  }

  protected abstract onMessage(ws: WebSocket, attachment: A, raw: string | ArrayBuffer): Promise<void> | void;
  /** A socket closed or failed (it may be the user's last). */
  protected abstract onClose(ws: WebSocket, attachment: A): void;
  protected abstract onAlarm(): Promise<void>;

  // ------------------------------------------------------------ RPC shared by both

  /** Close every socket of one session (sign out), 1008. */
  closeSession(sessionHash: string): number {
    return this.closeTagged(sessionTag(sessionHash), CLOSE.policy, "signed out");
  }

  /** Close every socket of these sessions (signed out elsewhere: a password change), 1008 with `reason`. */
  closeSessions(sessionHashes: string[], reason = "signed out"): number {
    let n = 0;
    for (const hash of sessionHashes) n += this.closeTagged(sessionTag(hash), CLOSE.policy, reason);
    return n;
  }

  /** Close every socket of a user (their account was deleted), 1008 with `reason`. */
  closeUser(userId: string, reason: string): number {
    return this.closeTagged(userTag(userId), CLOSE.policy, reason);
  }

  /** The cost meter (benchmark hooks and tests). */
  meterReading(): MeterReading {
    const reading = this.meter.read();
    // In benchmark builds alarms are also counted durably: an idle object may hibernate between them.
    if (String(this.env.BENCH_HOOKS) === "1") reading.alarms = Number(this.ctx.storage.kv.get("bench_alarms") ?? 0);
    return reading;
  }

  meterReset(): void {
    this.meter.reset();
    if (String(this.env.BENCH_HOOKS) === "1") this.ctx.storage.kv.delete("bench_alarms");
  }

  // ------------------------------------------------------------ runtime entry points

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    this.meter.count("requests");
    try {
      const att = this.attachment(ws);
      if (!att) return safeClose(ws, CLOSE.policy, "unknown connection");
      if (att.expiresAt <= Date.now()) {
        safeClose(ws, CLOSE.policy, SESSION_EXPIRED);
        return this.onClose(ws, att);
      }
      await this.onMessage(ws, att, raw);
    } catch (err) {
      console.error(`${this.label()}: webSocketMessage failed`, err);
      trySend(ws, JSON.stringify({ type: "error", code: "internal", message: "Something went wrong; try again" }));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      safeClose(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
      const att = this.attachment(ws);
      if (att) this.onClose(ws, att);
    } catch (err) {
      console.error(`${this.label()}: webSocketClose failed`, err);
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.error(`${this.label()}: socket error`, error);
    try {
      const att = this.attachment(ws);
      if (att) this.onClose(ws, att);
    } catch (err) {
      console.error(`${this.label()}: webSocketError cleanup failed`, err);
    }
  }

  override async alarm(): Promise<void> {
    this.meter.count("requests");
    this.meter.count("alarms");
    if (String(this.env.BENCH_HOOKS) === "1") this.ctx.storage.kv.put("bench_alarms", Number(this.ctx.storage.kv.get("bench_alarms") ?? 0) + 1);
    try {
      await this.onAlarm();
    } catch (err) {
      console.error(`${this.label()}: alarm failed (the runtime retries it)`, err);
      throw err;
    }
  }
}
