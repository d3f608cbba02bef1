/**
 * The registry: decides, per pool, which sessions to evict and when the pool must go over
 * capacity instead. An XState machine on the host's main thread.
 *
 * It handles the decisions — a session joined a pool, a pool was resized — not the per-event
 * bookkeeping: a touch (`send`, `getSnapshot`) moves the session to the recent end of its pool's
 * LRU list directly, in O(1), because an XState event per `send` would cost the host ~3 µs per
 * event. The decisions read the same lists.
 */
import { setup } from 'xstate';
import { chooseEvictions, type Pool, type PoolMember } from '../runtime/pools/pool.js';

export interface RegistryInput<Member extends PoolMember> {
  pools: ReadonlyMap<string, Pool<Member>>;
  now(): number;
  /** Starts evicting `member` (it leaves its pool at once). */
  evict(member: Member, pool: Pool<Member>): void;
  /** The pool stays over capacity: every candidate is pinned, busy, or inside the recency floor. */
  overCapacity(pool: Pool<Member>): void;
}

export type RegistryEvent =
  | { type: 'session.joined'; pool: string }
  | { type: 'pool.resized'; pool: string; capacity: number };

export function createRegistryMachine<Member extends PoolMember>() {
  return setup({
    types: {
      input: {} as RegistryInput<Member>,
      context: {} as RegistryInput<Member>,
      events: {} as RegistryEvent,
    },
    actions: {
      resize: ({ context, event }) => {
        if (event.type !== 'pool.resized') return;
        const pool = context.pools.get(event.pool);
        if (pool) pool.capacity = event.capacity;
      },
      rebalance: ({ context, event }) => {
        const pool = context.pools.get(event.pool);
        if (!pool || pool.size <= pool.capacity) return;
        const excess = pool.size - pool.capacity;
        const victims = chooseEvictions(pool, excess, context.now());
        for (const victim of victims) context.evict(victim, pool);
        if (victims.length < excess && !pool.warnedOverCapacity) {
          pool.warnedOverCapacity = true;
          context.overCapacity(pool);
        }
      },
    },
  }).createMachine({
    id: 'actorhost.registry',
    context: ({ input }) => input,
    initial: 'serving',
    states: {
      serving: {
        on: {
          'session.joined': { actions: 'rebalance' },
          'pool.resized': { actions: ['resize', 'rebalance'] },
        },
      },
    },
  });
}
