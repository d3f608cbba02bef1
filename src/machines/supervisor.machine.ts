/**
 * The supervisor: the root of the host's supervision tree, an XState machine on the main thread.
 *
 * Facts in, decisions out. It takes the facts — a pool went over capacity (`pool.joined`), a pool
 * was resized, a shard's worker started or exited, a worker's heap passed its high mark — and acts on the decisions its `decide`
 * functions (pure, see runtime/supervision/decisions.ts) make: evict these sessions, warn that a
 * pool stays over capacity, recover that shard. Each shard's worker has a child supervisor
 * (shard-supervisor.machine.ts: running → recovering → running | down).
 *
 * It never sees per-event bookkeeping: a touch (`send`, `getSnapshot`) moves a session in its
 * pool's LRU list directly, in O(1); an XState event per `send` would cost the host ~3 µs.
 */
import { assign, setup, type ActorRefFrom } from 'xstate';
import { shardSupervisorMachine, type ShardSupervisorInput } from './shard-supervisor.machine.js';

/** The part of a pool the supervisor reads (a structural type: machines import no host code). */
export interface SupervisedPool<Member> {
  readonly name: string;
  capacity: number;
  readonly size: number;
  warnedOverCapacity: boolean;
  leastRecent(): Iterable<Member>;
}

export interface SupervisorInput<Member, P extends SupervisedPool<Member>> {
  pools: ReadonlyMap<string, P>;
  now(): number;
  /** The pool's balance (pure): whom to evict, whether it stays over capacity. */
  balance(pool: P, now: number): { evict: Member[]; overCapacity: boolean };
  /** Starts evicting `member` (it leaves its pool at once). */
  evict(member: Member, pool: P): void;
  /** The pool stays over capacity: every candidate is pinned, busy, or inside the recency floor. */
  overCapacity(pool: P): void;
  /** The pool stays over capacity: decide again when the next recency floor passes. */
  recheckWhenFloorPasses(pool: P): void;
  /** A worker's heap passed the high mark: passivate its least recently used candidates. */
  shedMemory(shard: number, heapUsed: number): void;
  /** What each shard's supervisor does. */
  shard(index: number): ShardSupervisorInput;
}

export type SupervisorEvent =
  | { type: 'pool.joined'; pool: string }
  | { type: 'pool.resized'; pool: string; capacity: number }
  | { type: 'shard.started'; shard: number }
  | { type: 'shard.heapHigh'; shard: number; heapUsed: number }
  | { type: 'worker.exited'; shard: number; cause: Error };

export function createSupervisorMachine<Member, P extends SupervisedPool<Member>>() {
  return setup({
    types: {
      input: {} as SupervisorInput<Member, P>,
      context: {} as SupervisorInput<Member, P> & { shards: Record<number, ActorRefFrom<typeof shardSupervisorMachine>> },
      events: {} as SupervisorEvent,
    },
    actors: { shardSupervisor: shardSupervisorMachine },
    actions: {
      resize: ({ context, event }) => {
        if (event.type !== 'pool.resized') return;
        const pool = context.pools.get(event.pool);
        if (pool) pool.capacity = event.capacity;
      },
      rebalance: ({ context, event }) => {
        if (event.type !== 'pool.joined' && event.type !== 'pool.resized') return;
        const pool = context.pools.get(event.pool);
        if (!pool) return;
        const { evict, overCapacity } = context.balance(pool, context.now());
        for (const member of evict) context.evict(member, pool);
        if (!overCapacity) return;
        context.recheckWhenFloorPasses(pool);
        if (!pool.warnedOverCapacity) {
          pool.warnedOverCapacity = true;
          context.overCapacity(pool);
        }
      },
      superviseShard: assign({
        shards: ({ context, event, spawn }) => {
          if (event.type !== 'shard.started') return context.shards;
          const child = spawn('shardSupervisor', { id: `shard-${event.shard}`, input: context.shard(event.shard) });
          return { ...context.shards, [event.shard]: child };
        },
      }),
      shedMemory: ({ context, event }) => {
        if (event.type === 'shard.heapHigh') context.shedMemory(event.shard, event.heapUsed);
      },
      reportExit: ({ context, event }) => {
        if (event.type === 'worker.exited') context.shards[event.shard]?.send({ type: 'worker.exited', cause: event.cause });
      },
    },
  }).createMachine({
    id: 'actorhost.supervisor',
    context: ({ input }) => ({ ...input, shards: {} }),
    initial: 'supervising',
    states: {
      supervising: {
        on: {
          'pool.joined': { actions: 'rebalance' },
          'pool.resized': { actions: ['resize', 'rebalance'] },
          'shard.started': { actions: 'superviseShard' },
          'worker.exited': { actions: 'reportExit' },
          'shard.heapHigh': { actions: 'shedMemory' },
        },
      },
    },
  });
}
