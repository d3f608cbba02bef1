/**
 * Stopping a session: `stop`, `replace`, eviction and shutdown all end here.
 *
 * Contract (DESIGN.md, "Shutdown contract" and "Replace"):
 * - The id is freed at once; the session's shutdown (`actorhost.shutdown`, at once without a
 *   handler, forced after `shutdownTimeoutMs`) runs after the events accepted before it, and every
 *   subprocess it started has exited before the stop resolves.
 * - Its end touches the store and the directory only if no newer session took the id meanwhile.
 * - Eviction (and shutdown with a durable store) keeps its snapshot: the worker's, taken before the
 *   shutdown began, or without one the host's snapshot and journal.
 */
import { UnknownSessionError } from '../../errors.js';
import { fromWireError, type StopResult } from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import type { Leaving, StopMode } from './session-directory.js';
import type { SessionRecord } from './session-record.js';

const RESOLVED = Promise.resolve();

export class SessionStopper {
  readonly #core: RuntimeCore;

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** Stops `record` (once: a second call returns the same promise). */
  stop(record: SessionRecord, mode: StopMode): Promise<void> {
    const { directory } = this.#core;
    const running = directory.stopping.get(record);
    if (running) return running;
    record.status = 'stopping';
    if (directory.byId.get(record.id) === record) directory.byId.delete(record.id);
    directory.unpool(record);
    const leaving: Leaving = { record, mode, superseded: false, done: RESOLVED };
    directory.leaving.set(record.id, leaving);
    const done = this.#shutDown(record, leaving).finally(() => {
      directory.stopping.delete(record);
      if (directory.leaving.get(record.id) === leaving) directory.leaving.delete(record.id);
    });
    leaving.done = done;
    directory.stopping.set(record, done);
    return done;
  }

  /** Stops every live session and waits for every stop under way. */
  async stopAll(mode: StopMode): Promise<void> {
    const { directory } = this.#core;
    const stops = [...directory.byId.values()].map((record) => this.stop(record, mode));
    await Promise.allSettled([...stops, ...directory.stopping.values()]);
  }

  async #shutDown(record: SessionRecord, leaving: Leaving): Promise<void> {
    const { directory, options } = this.#core;
    await record.settled();
    const keep = leaving.mode === 'evict' || (leaving.mode === 'shutdown' && this.#core.snapshotting);
    let result: StopResult | undefined;
    if (!record.ended) {
      const log = directory.logger(record);
      try {
        result = await record.shard.stop(record.key, options.shutdownTimeoutMs, keep);
        if (result.outcome === 'failed') {
          log.error({ err: result.error && fromWireError(result.error) }, 'session shutdown threw; it is stopped');
        } else if (result.outcome === 'forced') {
          log.warn({ timeoutMs: options.shutdownTimeoutMs }, 'session did not shut down in time; stopped by force');
        }
      } catch (error) {
        log.warn({ err: error }, 'worker ended while the session was shutting down');
      }
    }
    if (record.pids?.size) await record.shard.childProcesses.kill(record.pids);
    // The id may belong to a newer session by now: then its store entry is that session's.
    const owned = !leaving.superseded && directory.owns(record);
    try {
      if (owned) await this.#settleStore(record, leaving.mode, result);
    } finally {
      // Whatever the store did (in a fleet, a shard lost refuses every write), the session is gone here.
      directory.unregister(record);
    }
  }

  /** What the store keeps of a session that has shut down. */
  async #settleStore(record: SessionRecord, mode: StopMode, result: StopResult | undefined): Promise<void> {
    const { store, directory } = this.#core;
    const { id, kind, pool, input } = record;
    const linked = this.#core.options.ipcServer?.hasToken(id) === true;
    const keep = mode === 'evict' || (mode === 'shutdown' && this.#core.snapshotting);
    if (!keep) {
      this.#core.asks.sessionEnded(id, () => new UnknownSessionError(id, 'it was stopped before it answered'));
      this.#core.labels.release(id);
      await store.delete(id);
      return;
    }
    // The worker's snapshot covers everything (the stop waited for the mailbox to drain); without
    // one (the worker died meanwhile), the record's own snapshot and journal still do.
    const state = result?.snapshot
      ? { snapshot: new Uint8Array(result.snapshot), snapshotSeq: result.seq ?? record.seq, journal: [], wakeAt: result.wakeAt ?? 0 }
      : { snapshot: record.snapshot, snapshotSeq: record.snapshotSeq, journal: record.replay(), wakeAt: record.wakeAt };
    const label = this.#core.labels.of(id);
    await store.save(id, { kind, pool, input, linked, ...(label ? { label } : {}) }, state, mode === 'evict');
    if (mode !== 'evict') return;
    directory.passive.set(id, { kind, pool, wakeAt: state.wakeAt, linked });
    // Its timer wakes it when it comes due, like a Durable Object's alarm.
    this.#core.alarms.set(id, state.wakeAt);
  }
}
