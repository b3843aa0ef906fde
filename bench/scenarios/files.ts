/**
 * 5. Files: the owner uploads `fileMB` MB while `fileWatchers` members have
 * the room open; upload speed, and the time until every member has
 * `file_uploaded`.
 */
import type { Ctx } from "../lib/context.ts";
import { now, openMany, waitUntil } from "../lib/harness.ts";

export async function filesScenario(ctx: Ctx) {
  const { fileMB, fileWatchers: n } = ctx.sizes;
  console.log(`a ${fileMB} MB upload watched by ${n}…`);
  const members = ctx.users.slice(0, n);
  const roomId = await ctx.parley.roomWith(members, "files");
  const got = new Map<number, number>();
  const sockets = await openMany(
    members.map((u, i) => () =>
      ctx.parley.roomSocket(roomId, u, (f, t) => {
        if (f.type === "file_uploaded") got.set(i, t);
      }),
    ),
  );
  const bytes = new Uint8Array(fileMB * 1024 * 1024);
  // Fields in the protocol's order: clientId, description, then the bytes (docs/protocol.md, Files).
  const fd = new FormData();
  fd.append("clientId", crypto.randomUUID());
  fd.append("description", "benchmark upload");
  fd.append("file", new Blob([bytes], { type: "application/octet-stream" }), "bench.bin");
  const t0 = now();
  const res = await ctx.parley.ownerApi(`/api/rooms/${roomId}/files`, { body: fd });
  const tUploaded = now();
  await waitUntil(() => got.size === n, 20_000);
  const allHave = Math.max(...got.values()) - t0;
  const mbps = Math.round((fileMB / ((tUploaded - t0) / 1000)) * 10) / 10;
  for (const s of sockets) s.close();
  const result = { sizeMB: fileMB, watchers: n, status: res.status, uploadMs: Math.round(tUploaded - t0), uploadMBps: mbps, allMembersHaveItMs: Math.round(allHave), membersNotified: got.size };
  const s = `files ${fileMB} MB, ${n} watching`;
  ctx.report.row(s, "upload MB/s", mbps, null, "report", res.status === 201);
  ctx.report.row(s, "start → every member has file_uploaded (ms)", Math.round(allHave), null, "report", got.size === n);
  return result;
}
