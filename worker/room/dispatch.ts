/** A client frame on the room socket, handed to the room's writes, and the answer on that socket. */
import type { ClientFrame } from "#protocol";
import { send, sendError, socketCode } from "./frames";
import type { Actor, EventLog } from "./log";
import type { RoomWrites } from "./writes";

export async function dispatch(writes: RoomWrites, log: EventLog, ws: WebSocket, actor: Actor, frame: ClientFrame): Promise<void> {
  switch (frame.type) {
    case "send": {
      const res = await writes.send(actor, frame.clientId, frame.text, frame.threadOf);
      if (!res.ok) return sendError(ws, socketCode(res.code), res.message, { clientId: frame.clientId, retryAfter: res.retryAfter });
      send(ws, { type: "ack", clientId: frame.clientId, messageId: res.message.id, seq: res.seq, duplicate: res.duplicate });
      return;
    }
    case "read":
    case "mark_unread": {
      const res = writes.markRead(actor, frame.seq, frame.type === "mark_unread");
      if (!res.ok) sendError(ws, socketCode(res.code), res.message, { retryAfter: res.retryAfter });
      return;
    }
    case "edit":
    case "delete": {
      const res = frame.type === "edit" ? writes.edit(actor, frame.messageId, frame.text) : writes.delete(actor, frame.messageId);
      if (!res.ok) return sendError(ws, socketCode(res.code), res.message, { ref: frame.ref, retryAfter: res.retryAfter });
      if (frame.ref) send(ws, { type: "done", ref: frame.ref, seq: res.event?.seq ?? log.head() });
      return;
    }
    case "typing": {
      const res = writes.setActivity(actor, "typing", frame.typing, ws);
      if (!res.ok) sendError(ws, socketCode(res.code), res.message, { retryAfter: res.retryAfter });
      return;
    }
  }
}
