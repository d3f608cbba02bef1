/**
 * `spawn`: a new session, from its checked options to its first start.
 *
 * Contract:
 * - The id is claimed first: a live, evicted or quarantined holder refuses it (`DuplicateSessionError`)
 *   or, with `replace`, is shut down (or deleted) first.
 * - Placement and registration happen in one synchronous step, so concurrent spawns see each
 *   other's load and cannot both take the id.
 * - A spawn that fails leaves nothing behind: not in the directory, not in the store.
 */
import { DuplicateSessionError, InvalidOptionError, RuntimeClosedError, UnknownMachineError, WorkerStartError } from '../../errors.js';
import { describe, type PlainCopier } from '../../protocol/plain-data.js';
import type { RuntimeCore } from '../core.js';
import type { SpawnOptions } from '../types.js';
import { checkLabelRequest } from './labels.js';
import { checkSpawnOptions } from './spawn-options.js';

export class Spawner {
  readonly #core: RuntimeCore;
  readonly #copier: PlainCopier;
  /** A session took a label: mail held for it is delivered. */
  readonly #labelTaken: (group: string, label: string, id: string) => void;

  constructor(core: RuntimeCore, copier: PlainCopier, labelTaken: (group: string, label: string, id: string) => void) {
    this.#core = core;
    this.#copier = copier;
    this.#labelTaken = labelTaken;
  }

  /** Starts the session; resolves with its id once it runs. */
  async spawn(kind: string, options: SpawnOptions): Promise<string> {
    const core = this.#core;
    const { directory, lifecycle, fleet, store } = core;
    if (typeof kind !== 'string' || !core.machines.has(kind)) {
      throw new UnknownMachineError(typeof kind === 'string' ? kind : describe(kind), [...core.machines.keys()]);
    }
    const { id, pool, input, replace, label: labelOption } = checkSpawnOptions(options, core.pools, this.#copier, core.options.maxEventBytes);
    const wanted = labelOption === undefined ? undefined : checkLabelRequest(labelOption, kind, new Set(core.options.groups.keys()));
    await this.#claimId(id, replace);
    this.#assertOpen();
    const shard = fleet.leastLoaded() ?? (await fleet.anyRecovered());
    this.#assertOpen();
    if (!shard) throw new WorkerStartError(-1, new Error('no worker is alive and none could be started; see the logged workerExit causes'));
    if (directory.byId.has(id) || directory.passive.has(id) || directory.quarantined.has(id)) throw new DuplicateSessionError(id);
    const record = lifecycle.newRecord({ id, kind, pool, input, shard });
    // In the same synchronous step as the registration: concurrent spawns never share a label.
    const label = wanted && core.labels.allocate(id, wanted);
    directory.register(record);
    if (core.snapshotting) {
      try {
        store.begin(id, { kind, pool, input, linked: core.options.ipcServer?.hasToken(id) === true, ...(label ? { label } : {}) });
      } catch (error) {
        // The store refused the session: it never started, and nothing of it is left behind.
        core.labels.release(id);
        directory.unregister(record, error as Error);
        throw new InvalidOptionError(`spawn: the store could not keep session ${describe(id)}: ${(error as Error).message}`);
      }
    }
    // A decision is due only when the pool is over capacity: no machine event per spawn otherwise.
    const joined = record.pooledIn!;
    if (joined.size > joined.capacity) core.supervisor.send({ type: 'pool.joined', pool });
    const failure = await lifecycle.launch(record);
    if (failure) {
      directory.unregister(record, failure);
      if (directory.owns(record)) {
        core.labels.release(id);
        void store.delete(id);
      }
      throw failure;
    }
    if (label) this.#labelTaken(label.group, label.label, id);
    return id;
  }

  /** Frees `id` for a new session: refuses, or with `replace` shuts the holder down first. */
  async #claimId(id: string, replace: boolean): Promise<void> {
    const { directory, stopper, store } = this.#core;
    const live = directory.byId.get(id);
    if (live) {
      if (!replace) throw new DuplicateSessionError(id);
      await stopper.stop(live, 'replace');
    }
    const leaving = directory.leaving.get(id);
    if (leaving?.mode === 'evict' && !leaving.superseded) {
      if (!replace) throw new DuplicateSessionError(id, 'is being evicted');
      leaving.superseded = true;
    }
    if (directory.passive.has(id)) {
      if (!replace) throw new DuplicateSessionError(id, 'is evicted (send to it to reactivate it)');
      directory.passive.delete(id);
      this.#core.labels.release(id);
      await store.delete(id);
    }
    if (directory.quarantined.has(id)) {
      if (!replace) throw new DuplicateSessionError(id, 'is quarantined (retryQuarantined or removeQuarantined it first)');
      await this.#core.lifecycle.removeQuarantined(id);
    }
  }

  #assertOpen(): void {
    if (this.#core.closed) throw new RuntimeClosedError('spawn');
  }
}
