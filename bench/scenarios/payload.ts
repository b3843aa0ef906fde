/** 6. Payload: the bytes on the wire of a message event (100 characters of text) and of a badge event. */
import type { Ctx } from "../lib/context.ts";
import { sendFrame } from "../lib/frames.ts";
import { waitUntil } from "../lib/harness.ts";

/** `badgeBytes`: the badge frame size the badge scenario saw (undefined when it did not run). */
export async function payloadScenario(ctx: Ctx, badgeBytes: number | undefined) {
  const roomId = await ctx.parley.roomWith(ctx.users.slice(0, 2), "payload");
  const text = "x".repeat(100);
  let msgBytes = 0;
  const rx = await ctx.parley.roomSocket(roomId, ctx.users[1]!, (f, _t, bytes) => {
    if (f.type === "message") msgBytes = bytes;
  });
  const tx = await ctx.parley.roomSocket(roomId, ctx.owner, () => {});
  tx.send(sendFrame(text));
  await waitUntil(() => msgBytes > 0, 5_000);
  rx.close();
  tx.close();
  const result = { textLength: text.length, messageEventBytes: msgBytes, badgeEventBytes: badgeBytes };
  ctx.report.row("payload", "message event bytes (100-char text)", msgBytes, null, `≤ ${2 * text.length + 300}`, msgBytes <= 2 * text.length + 300);
  if (badgeBytes !== undefined) ctx.report.row("payload", "badge event bytes", badgeBytes, null, "≤ 300", badgeBytes > 0 && badgeBytes <= 300);
  return result;
}
