/**
 * Where a session lives in a fleet (shared/FLEET.md, "Shards", "Members"): pure functions.
 */

/** A session's shard: a stable hash of its id (FNV-1a, 32 bits, over UTF-16 code units) modulo `shards`. */
export function shardOf(id: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < id.length; index++) {
    hash ^= id.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** A member's fair share: ⌈shards / members⌉ (at least one member: this host). */
export function fairShare(shards: number, members: number): number {
  return Math.ceil(shards / Math.max(1, members));
}

/**
 * What a member does next about its shards: `take` free shards up to its fair share, lowest
 * first; `release` its surplus over the fair share (highest first), so a member that joins finds
 * free shards. `free` are the shards no live lease holds, as far as this member knows (it learns
 * for sure only from a `create`).
 */
export function rebalance(input: { shards: number; members: number; held: ReadonlySet<number>; free: ReadonlySet<number> }): { take: number[]; release: number[] } {
  const share = fairShare(input.shards, input.members);
  const held = [...input.held].sort((a, b) => a - b);
  if (held.length > share) return { take: [], release: held.slice(share).reverse() };
  const take = [...input.free].filter((shard) => !input.held.has(shard)).sort((a, b) => a - b).slice(0, share - held.length);
  return { take, release: [] };
}
