/**
 * Idle passivation (`pools.<name>.idleMs`): one timer for the whole runtime, on the runtime's
 * clock, never one per session. Each sweep reads each pool's LRU list from its least recent end
 * and stops at the first session used within `idleMs`, so a sweep costs the sessions it evicts.
 */
import type { RuntimeCore } from '../core.js';
import { unref } from '../options.js';
import { chooseIdle } from '../supervision/decisions.js';

/** Sweeps at a quarter of the shortest idle time, within these bounds. */
const MIN_SWEEP_MS = 50;
const MAX_SWEEP_MS = 1_000;

export class IdleSweeper {
  readonly #core: RuntimeCore;
  readonly #sweepMs: number;
  #timer: unknown;

  constructor(core: RuntimeCore) {
    this.#core = core;
    const shortest = Math.min(...[...core.options.pools.values()].map((pool) => pool.idleMs));
    this.#sweepMs = Number.isFinite(shortest) ? Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, shortest / 4)) : Infinity;
  }

  start(): void {
    if (Number.isFinite(this.#sweepMs)) this.#schedule();
  }

  stop(): void {
    this.#core.options.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.#timer = unref(
      this.#core.options.setTimeout(() => {
        this.#sweep();
        if (!this.#core.closed) this.#schedule();
      }, this.#sweepMs),
    );
  }

  #sweep(): void {
    const { pools, options, lifecycle } = this.#core;
    const now = this.#core.now();
    for (const [name, pool] of pools) {
      const idleMs = options.pools.get(name)?.idleMs ?? Infinity;
      for (const record of chooseIdle(pool, now, idleMs)) lifecycle.evict(record, 'idle');
    }
  }
}
