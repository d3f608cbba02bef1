/**
 * Memory passivation (`memory: { workerHeapHighMb, workerHeapLowMb }`), as Orleans sheds
 * activations under memory pressure: when a worker's heap, as reported at its heartbeat, passes
 * the high mark, its least recently used candidates are passivated (reason `memory`) until it
 * should be under the low mark (`chooseForMemory`, a pure decision).
 *
 * The heap falls only once the passivated sessions are gone and a collection has run, so after
 * shedding a shard waits for those evictions and two more heartbeats before it may shed again.
 */
import type { RuntimeCore } from '../core.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { chooseForMemory } from '../supervision/decisions.js';
import { unref } from '../options.js';

const MB = 1024 * 1024;

export class MemoryShedder {
  readonly #core: RuntimeCore;
  /** Shards that shed and wait for the heap to show it. */
  readonly #cooling = new Set<number>();

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** A heartbeat's heap figure: a fact for the supervisor only past the high mark (no event otherwise). */
  report(shard: number, heapUsed: number): void {
    const { memory } = this.#core.options;
    if (heapUsed > memory.workerHeapHighMb * MB && !this.#cooling.has(shard) && !this.#core.closed) {
      this.#core.supervisor.send({ type: 'shard.heapHigh', shard, heapUsed });
    }
  }

  /** The supervisor's decision, carried out. */
  shed(shard: number, heapUsed: number): void {
    const { options, fleet, lifecycle, logger } = this.#core;
    const { workerHeapHighMb, workerHeapLowMb } = options.memory;
    const target = fleet.shards[shard];
    if (!target || this.#cooling.has(shard)) return;
    const chosen = chooseForMemory(this.#leastRecentOn(shard), {
      heapUsed,
      highBytes: workerHeapHighMb * MB,
      lowBytes: workerHeapLowMb * MB,
      sessions: target.sessions,
    });
    if (chosen.length === 0) return;
    logger.warn({ shard, heapUsedMb: Math.round(heapUsed / MB), highMb: workerHeapHighMb, passivating: chosen.length }, 'worker heap past its high mark; passivating its least recently used sessions');
    this.#cooling.add(shard);
    const done = chosen.map((record) => lifecycle.evict(record, 'memory'));
    void Promise.allSettled(done).then(() => {
      unref(options.setTimeout(() => this.#cooling.delete(shard), 2 * options.watchdog.heartbeatMs));
    });
  }

  /** The shard's sessions over every pool, least recently used first. */
  #leastRecentOn(shard: number): SessionRecord[] {
    const onShard: SessionRecord[] = [];
    for (const pool of this.#core.pools.values()) {
      for (const record of pool.leastRecent()) if (record.shard.index === shard) onShard.push(record);
    }
    return onShard.sort((a, b) => a.lastActiveAt - b.lastActiveAt);
  }
}
