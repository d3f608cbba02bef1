/**
 * The host's supervisor actor, wired to the runtime's parts: pool decisions evict through the
 * lifecycle, shard supervisors recover through the fleet.
 */
import { createActor, type Actor } from 'xstate';
import { createSupervisorMachine } from '../../machines/supervisor.machine.js';
import { hostInspect, type RuntimeCore } from '../core.js';
import type { Pool } from '../pools/pool.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { balancePool } from './decisions.js';

const supervisorMachine = createSupervisorMachine<SessionRecord, Pool<SessionRecord>>();

export type SupervisorActor = Actor<typeof supervisorMachine>;

export function startSupervisor(core: RuntimeCore): SupervisorActor {
  const { logger } = core;
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
      shedMemory: (shard, heapUsed) => core.memory.shed(shard, heapUsed),
      shard: (index) => ({
        shard: index,
        recover: (cause) => core.fleet.recover(index, cause),
        giveUp: (cause) => core.fleet.giveUp(index, cause),
      }),
    },
  });
  actor.subscribe({ error: (error) => logger.error({ err: error }, 'supervisor failed') });
  return actor.start();
}
