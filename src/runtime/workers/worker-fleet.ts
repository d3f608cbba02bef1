/**
 * The worker fleet: one worker thread per shard, a standby worker for recovery, and the one place
 * where a worker's death is handled.
 *
 * Recovery contract (a shard's worker ended: exit, uncaught error, hang, out of memory):
 * 1. its sessions wait (`restarting`; what is sent to them queues in `pending`, readers wait on
 *    the recovery), its unacknowledged events are released (they are journaled), and what its
 *    sessions started is killed while the replacement boots;
 * 2. the culprit (read from the state the worker shared) is charged a restart; with none to blame
 *    the shard itself is charged, and past the intensity the recovery gives up;
 * 3. the replacement (the standby if ready, else a new worker) restores every other session from
 *    its snapshot and journal.
 * A replacement that fails to start is not retried in a loop: the shard is down, its sessions
 * crash, the other shards keep serving.
 */
import { WorkerStartError } from '../../errors.js';
import type { Note } from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import { unref } from '../options.js';
import type { RecoveryOutcome } from '../../machines/shard-supervisor.machine.js';
import { decideRestart } from '../supervision/decisions.js';
import { Shard } from './shard.js';

const STANDBY_DELAY_MS = 1_000;
const MAX_STANDBY_DEFERRALS = 30;
const RESOLVED = Promise.resolve();

export class WorkerFleet {
  readonly #core: RuntimeCore;
  readonly shards: Shard[] = [];
  readonly #recoveries = new Map<number, Promise<void>>();
  /** A started, idle worker that recovery promotes instead of booting one (`standbyWorker`). */
  #standby: Promise<Shard | undefined> | undefined;
  #standbyTimer: unknown;
  #standbyDeferrals = 0;
  readonly #unattributedExits: number[][] = [];
  readonly #onNotes: (shard: Shard, notes: Note[]) => void;

  constructor(core: RuntimeCore, onNotes: (shard: Shard, notes: Note[]) => void) {
    this.#core = core;
    this.#onNotes = onNotes;
  }

  /** Starts one worker per shard; on any failure, ends those that started and rejects. */
  async start(workers: number): Promise<void> {
    const started = await Promise.allSettled(Array.from({ length: workers }, (_, index) => this.#startShard(index)));
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) {
      await Promise.all(this.shards.map((shard) => shard.destroy()));
      throw failure.reason;
    }
    for (let index = 0; index < workers; index++) this.#core.supervisor.send({ type: 'shard.started', shard: index });
    // The standby boots a moment after start, not during the burst of spawns that usually
    // follows it (measured: booting it at once cut the first 10,000 spawns' rate by a third).
    this.#standbyTimer = unref(this.#core.options.setTimeout(() => this.#prepareStandby(), STANDBY_DELAY_MS));
  }

  async #startShard(index: number): Promise<Shard> {
    const shard = await this.#bootShard(index);
    this.shards[index] = shard;
    return shard;
  }

  #bootShard(index: number): Promise<Shard> {
    const { options, logger, directory, supervisor } = this.#core;
    return Shard.start({
      index,
      machines: options.machines,
      resourceLimits: options.resourceLimits,
      snapshotEvery: options.snapshotEvery,
      busyTag: options.busyTag,
      noRollback: options.noRollback,
      startTimeoutMs: options.startTimeoutMs,
      inspect: options.inspect.settings,
      watchdog: options.watchdog,
      encodeEvents: this.#core.journaling,
      clock: options,
      logger,
      handlers: {
        onNotes: this.#onNotes,
        onExit: (from, cause) => supervisor.send({ type: 'worker.exited', shard: from.index, cause }),
        onStats: (from, stats) => this.#core.memory.report(from.index, stats.heapUsed),
      },
      childProcesses: {
        spawned: (key, pid) => {
          this.#core.processes.started(pid);
          this.#onChildSpawned(key, pid);
        },
        exited: (key, pid) => {
          this.#core.processes.exited(pid);
          directory.byAnyKey(key)?.pids?.delete(pid);
        },
        graceMs: options.subprocessGraceMs,
      },
    });
  }

  /** Boots the standby worker in the background; a failure only costs recovery its head start. */
  #prepareStandby(): void {
    const { options, totals } = this.#core;
    options.clearTimeout(this.#standbyTimer);
    if (!options.standbyWorker || this.#core.closed || this.#standby) return;
    // Booting a worker costs a core for ~70 ms: on 2 cores that shows as a dip in a loaded host's
    // throughput (seen in the benchmark's charts). So it waits for a quiet moment, within reason.
    if (totals.mailboxed > 0 && this.#standbyDeferrals++ < MAX_STANDBY_DEFERRALS) {
      this.#standbyTimer = unref(options.setTimeout(() => this.#prepareStandby(), STANDBY_DELAY_MS));
      return;
    }
    this.#standbyDeferrals = 0;
    this.#standby = this.#bootShard(-1)
      .then((shard) => {
        void this.#warmUp(shard);
        return shard;
      })
      .catch((error: unknown) => {
        this.#core.logger.warn({ err: error }, 'standby worker failed to start; recovery will boot workers on demand');
        return undefined;
      });
  }

  /** Warms the standby in small steps, so a recovery never waits long behind a step. */
  async #warmUp(shard: Shard): Promise<void> {
    const { options, totals } = this.#core;
    for (let step = 0; step < 20 && shard.index === -1 && shard.alive; step++) {
      // Only while the host is quiet: warming is worth less than the load it would slow down.
      while (totals.mailboxed > 0 && shard.index === -1 && !this.#core.closed) await new Promise<void>((resolve) => options.setTimeout(() => resolve(), 200));
      if (shard.index !== -1 || this.#core.closed) return;
      await shard.call((api) => api.warmUp(100)).catch(() => {});
    }
  }

  /** The replacement for shard `index`: the standby worker if it is ready and alive, else a new one. */
  async #replacementShard(index: number): Promise<Shard> {
    // Taken before the await: two shards recovering at once must not both promote it.
    const taken = this.#standby;
    this.#standby = undefined;
    const standby = await taken;
    if (standby?.alive) {
      standby.assign(index);
      this.shards[index] = standby;
      return standby;
    }
    void standby?.destroy();
    return this.#startShard(index);
  }

  leastLoaded(): Shard | undefined {
    let best: Shard | undefined;
    for (const shard of this.shards) {
      if (shard?.alive && (best === undefined || shard.sessions < best.sessions)) best = shard;
    }
    return best;
  }

  /** Every worker is down: wait for the recoveries under way, if any. */
  async anyRecovered(): Promise<Shard | undefined> {
    await Promise.allSettled([...this.#recoveries.values()]);
    return this.leastLoaded();
  }

  /** Recovery (see the contract above). Rejects only if the replacement fails to start. */
  async recover(index: number, cause: Error): Promise<RecoveryOutcome> {
    const { directory, lifecycle, events } = this.#core;
    let finish!: () => void;
    const recovering = new Promise<void>((resolve) => (finish = resolve));
    this.#recoveries.set(index, recovering);
    const dead = this.shards[index]!;
    const lost = [...directory.byKey.values()].filter((record) => record.shard === dead);
    // From now on, what is sent to these sessions waits in `pending`, and readers wait for their
    // restore. (A first start or a stop under way settles by itself: its call to the worker failed.)
    const restorable = lost.filter((record) => record.status === 'active' || record.status === 'restarting');
    for (const record of restorable) {
      record.status = 'restarting';
      record.startup = recovering;
    }
    let destroyed: Promise<void> = RESOLVED;
    try {
      const culprit = dead.culprit();
      dead.releaseUnacknowledged();
      // Tearing the dead worker down (and killing what its sessions started) runs beside booting
      // or promoting its replacement.
      destroyed = dead.destroy();
      for (const record of lost) record.pids = undefined;
      const blamed = culprit && directory.byKey.get(culprit.key);
      dead.logger.error({ err: cause, sessions: lost.length, culprit: blamed?.id }, 'worker ended unexpectedly; restoring its sessions');
      events.emit('workerExit', { shard: index, error: cause, sessions: lost.map((record) => record.id), culprit: blamed?.id });
      if (!blamed) {
        // No session to blame: the shard itself is charged, bounded like a session's restarts.
        const decision = decideRestart(this.#unattributedExits[index] ?? [], this.#core.now(), this.#core.options.restart);
        this.#unattributedExits[index] = decision.charge;
        if ('giveUp' in decision) {
          return { giveUp: new WorkerStartError(index, new Error(`its worker keeps failing with no session to blame: ${cause.message}`)) };
        }
      }
      if (this.#core.closed) return { restored: 0 };
      const replacement = await this.#replacementShard(index);
      const restores: Array<Promise<void>> = [];
      for (const record of restorable) {
        if (record.ended || record.status !== 'restarting') continue;
        dead.sessions--;
        replacement.sessions++;
        record.shard = replacement;
        if (record === blamed && !lifecycle.charge(record, cause, culprit!.seq || undefined)) continue;
        directory.rekey(record);
        restores.push(lifecycle.restore(record, 'worker'));
      }
      await Promise.all(restores);
      replacement.logger.info({ restored: restores.length }, 'worker replaced; sessions restored');
      return { restored: restores.length };
    } finally {
      await destroyed;
      for (const record of restorable) if (record.startup === recovering) record.startup = undefined;
      this.#recoveries.delete(index);
      finish();
      // A new standby boots once the restore is done: on 2 cores, booting it during the restore
      // slowed the restore down.
      if (this.#standby === undefined) this.#prepareStandby();
    }
  }

  /** The shard cannot be recovered: its sessions crash; the others keep serving. */
  giveUp(index: number, cause: Error): void {
    const { directory, lifecycle, logger } = this.#core;
    const shard = this.shards[index];
    logger.error({ err: cause, shard: index }, 'shard is down: its replacement worker failed to start');
    for (const record of [...directory.byKey.values()]) {
      if (record.shard === shard || record.shard.index === index) lifecycle.fail(record, cause);
    }
  }

  #onChildSpawned(key: number, pid: number): void {
    const record = this.#core.directory.byAnyKey(key);
    if (record && !record.ended && (record.key === key || record.status !== 'stopping')) {
      (record.pids ??= new Set()).add(pid);
      return;
    }
    // Its session is gone: nothing may outlive it.
    for (const shard of this.shards) void shard.childProcesses.kill([pid]);
  }

  /** Recoveries under way, for shutdown to wait on. */
  recoveries(): Array<Promise<void>> {
    return [...this.#recoveries.values()];
  }

  /** Closes every worker (each shuts its remaining sessions down) and the standby. */
  async close(): Promise<void> {
    this.#core.options.clearTimeout(this.#standbyTimer);
    await Promise.allSettled(this.shards.map((shard) => shard.close(this.#core.options.shutdownTimeoutMs)));
    await (await this.#standby)?.destroy();
  }

  /** Ends every worker at once (a start that failed). */
  async destroy(): Promise<void> {
    this.#core.options.clearTimeout(this.#standbyTimer);
    await Promise.all(this.shards.map((shard) => shard.destroy()));
  }
}
