/** Small WebSocket helpers shared by the Durable Objects. */

/** Send, ignoring a socket that closed under us (its close handler cleans up). */
export function trySend(ws: WebSocket, data: string): void {
  try {
    ws.send(data);
  } catch {
    // closed
  }
}

/** Close, ignoring a socket that is already closed. Reasons are capped at 120 bytes by the protocol. */
export function safeClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // already closed
  }
}
