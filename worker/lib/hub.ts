/**
 * Users are spread over HUB_SHARDS UserHub objects: user u lives in shard
 * `fnv1a(u) mod HUB_SHARDS`. A room makes one call per shard, never one per
 * member (DESIGN.md invariant 5).
 */

/** 32-bit FNV-1a: small, stable across runtimes, good enough spread for ids. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function hubShards(env: Pick<Env, "HUB_SHARDS">): number {
  const n = Number(env.HUB_SHARDS);
  return Number.isInteger(n) && n > 0 ? n : 16;
}

/** The name of the UserHub shard that holds a user. */
export function hubShardName(userId: string, shards: number): string {
  return `shard-${fnv1a(userId) % shards}`;
}

/** The UserHub stub for a user. */
export function hubFor(env: Env, userId: string) {
  return env.USER_HUB.getByName(hubShardName(userId, hubShards(env)));
}
