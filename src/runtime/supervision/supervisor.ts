/**
 * The host's supervisor actor, wired to the runtime's parts: pool decisions evict through the
 * lifecycle, shard supervisors recover through the fleet.
 */
import { createActor, type Actor } from 'xstate';
import { createSupervisorMachine } from '../../machines/supervisor.machine.js';
import { hostInspect, type RuntimeCore } from '../core.js';
import type { Pool } from '../pools/pool.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { balancePool, nextFloorPassing } from './decisions.js';
import { unref } from '../options.js';

const supervisorMachine = createSupervisorMachine<SessionRecord, Pool<SessionRecord>>();

export type SupervisorActor = Actor<typeof supervisorMachine>;

export function startSupervisor(core: RuntimeCore): SupervisorActor {
  const { logger, options } = core;
  /** One timer per pool over capacity, for the next recency floor to pass: never one per session. */
  const floorTimers = new Map<string, unknown>();
  const recheckWhenFloorPasses = (pool: Pool<SessionRecord>) => {
    const at = nextFloorPassing(pool, core.now());
    if (at === undefined || floorTimers.has(pool.name) || core.closed) return;
    const timer = options.setTimeout(() => {
      floorTimers.delete(pool.name);
      if (!core.closed) actor.send({ type: 'pool.joined', pool: pool.name });
    }, at - core.now());
    floorTimers.set(pool.name, unref(timer));
  };
  const actor = createActor(supervisorMachine, {
    ...hostInspect(core),
    input: {
      pools: core.pools,
      now: core.now,
      balance: balancePool,
      evict: (record) => core.lifecycle.evict(record),
      overCapacity: (pool) =>
        logger.warn(
          { pool: pool.name, size: pool.size, capacity: pool.capacity },
          'pool over capacity: every eviction candidate is pinned, busy, or inside the recency floor',
        ),
      recheckWhenFloorPasses,
      shedMemory: (shard, heapUsed) => core.memory.shed(shard, heapUsed),
      shard: (index) => ({
        shard: index,
        recover: (cause) => core.fleet.recover(index, cause),
        giveUp: (cause) => core.fleet.giveUp(index, cause),
      }),
    },
  });
  actor.subscribe({
    error: (error) => logger.error({ err: error }, 'supervisor failed'),
    complete: () => {
      for (const timer of floorTimers.values()) options.clearTimeout(timer);
      floorTimers.clear();
    },
  });
  return actor.start();
}
