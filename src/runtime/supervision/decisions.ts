/**
 * The supervisor's decisions, as small pure functions: facts in, a decision out. The supervisor
 * machine and the session lifecycle act on them; the tests call them directly
 * (`actorhost/internal`). Nothing here reads a clock, a map of sessions, or throws.
 */
import type { Pool, PoolMember } from '../pools/pool.js';
import { addRestart, type RestartPolicy } from './restart-window.js';

/**
 * Eviction. The pool is over capacity. Returns up to `count` members to evict: least recently
 * used first, skipping any that is pinned, not active, has events waiting, or is in a state
 * tagged busy (mid-turn). Stops at
 * the first member touched within the recency floor: the list is in recency order, so every
 * member after it is more recent still.
 */
export function chooseEvictions<Member extends PoolMember>(pool: Pool<Member>, count: number, now: number): Member[] {
  const chosen: Member[] = [];
  if (count <= 0) return chosen;
  for (const member of pool.leastRecent()) {
    if (now - member.lastActiveAt < pool.recencyFloorMs) break;
    if (member.pins > 0 || member.inFlight > 0 || member.busy || member.status !== 'active') continue;
    chosen.push(member);
    if (chosen.length === count) break;
  }
  return chosen;
}

/**
 * Idle passivation. Members idle for `idleMs` or more, least recently used first, skipping any
 * pinned, busy, with events waiting or not active; stops at the first member used more recently.
 */
export function chooseIdle<Member extends PoolMember>(pool: Pool<Member>, now: number, idleMs: number): Member[] {
  const chosen: Member[] = [];
  if (!Number.isFinite(idleMs)) return chosen;
  for (const member of pool.leastRecent()) {
    if (now - member.lastActiveAt < idleMs) break;
    if (member.pins > 0 || member.inFlight > 0 || member.busy || member.status !== 'active') continue;
    chosen.push(member);
  }
  return chosen;
}

/**
 * When the recency floor of a pool's least recent member still inside it passes (a candidate may
 * then appear), or `undefined` when no member is held back by the floor.
 */
export function nextFloorPassing<Member extends PoolMember>(pool: Pool<Member>, now: number): number | undefined {
  for (const member of pool.leastRecent()) {
    if (now - member.lastActiveAt < pool.recencyFloorMs) return member.lastActiveAt + pool.recencyFloorMs;
  }
  return undefined;
}

/** A pool's balance: whom to evict to bring it to capacity, and whether it stays over. */
export function balancePool<Member extends PoolMember>(pool: Pool<Member>, now: number): { evict: Member[]; overCapacity: boolean } {
  const excess = pool.size - pool.capacity;
  if (excess <= 0) return { evict: [], overCapacity: false };
  const evict = chooseEvictions(pool, excess, now);
  return { evict, overCapacity: evict.length < excess };
}

/**
 * Room for one more member (a reactivation): whom to evict, or `undefined` when every candidate is
 * protected. A pool already over capacity (its busy or pinned sessions could not be evicted)
 * takes the member if at least one other leaves for it — the pool grows no further — and evicts
 * as many more as it can toward capacity; the rest come back as candidates appear.
 */
export function makeRoom<Member extends PoolMember>(pool: Pool<Member>, now: number): Member[] | undefined {
  const needed = pool.size + 1 - pool.capacity;
  if (needed <= 0) return [];
  const victims = chooseEvictions(pool, needed, now);
  return victims.length === 0 ? undefined : victims;
}

/**
 * Memory. A worker's heap passed the high mark: which of its sessions to passivate to bring it
 * under the low mark. `candidates` are the worker's sessions, least recently used first. With no
 * per-session heap figure, each session is taken to hold an equal share of the heap, so it passivates
 * `ceil((heapUsed - low) / (heapUsed / sessions))` of them, skipping any pinned, busy, with events
 * waiting or not active. The recency floor does not protect a session here: running out of memory
 * would restart every session of the worker, recent or not.
 */
export function chooseForMemory<Member extends PoolMember>(
  candidates: Iterable<Member>,
  facts: { heapUsed: number; highBytes: number; lowBytes: number; sessions: number },
): Member[] {
  const { heapUsed, highBytes, lowBytes, sessions } = facts;
  if (heapUsed <= highBytes || sessions === 0) return [];
  const needed = Math.ceil((heapUsed - lowBytes) / (heapUsed / sessions));
  const chosen: Member[] = [];
  for (const member of candidates) {
    if (chosen.length >= needed) break;
    if (member.pins > 0 || member.inFlight > 0 || member.busy || member.status !== 'active') continue;
    chosen.push(member);
  }
  return chosen;
}

export type RestartDecision = { restore: true; charge: number[] } | { giveUp: true; charge: number[] };

/**
 * Restart. A session (or a worker with no session to blame) failed: restore it and charge the
 * restart to its window, or give up past the intensity (OTP's `add_restart`).
 */
export function decideRestart(history: readonly number[], now: number, policy: RestartPolicy): RestartDecision {
  const { allowed, history: charge } = addRestart(history, now, policy);
  return allowed ? { restore: true, charge } : { giveUp: true, charge };
}
