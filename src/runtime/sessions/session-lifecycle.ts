/**
 * A session's life on the host: its first start, its restores (after a failure, a worker's
 * death, an eviction, a host restart), its restarts and its end.
 *
 * Contract:
 * - A restore runs under a fresh key from the session's snapshot and journal; a replayed event
 *   that fails it is poison: dropped, dead-lettered, the session charged a restart, and the
 *   restore tried again without it. If its worker dies meanwhile, the shard's recovery restores
 *   it again; any other failure of the call is the session's to bear (never left restarting).
 * - A failure is charged to the session's restart window (`decideRestart`); past the intensity
 *   the session is stopped and reported `crashed`.
 * - Reactivation brings a passive session back when its pool has room (evicting if it must).
 */
import { PoolFullError, SessionCrashedError, SessionQuarantinedError, UnknownSessionError, WorkerStartError } from '../../errors.js';
import { WATCH_EVENTS_ON, fromWireError, toWireError, type SpawnRequest, type SpawnResult } from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import { channels } from '../metrics.js';
import { decideRestart, makeRoom } from '../supervision/decisions.js';
import type { StoredSession } from '../store/store.js';
import type { Mailbox, Shard } from '../workers/shard.js';
import { POISONED, SessionRecord } from './session-record.js';

/** Watch markers are never counted against a mailbox. */
const UNCOUNTED: Mailbox = { release() {} };

export class SessionLifecycle {
  readonly #core: RuntimeCore;

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** A new record for a session about to start on `shard`. */
  newRecord(fields: { id: string; kind: string; pool: string; input: unknown; shard: Shard }): SessionRecord {
    const { directory, now, totals } = this.#core;
    // Named fields, not `{ ...fields, key, … }`: spreading then adding properties cost ~5 µs per
    // spawn (measured; V8 leaves such an object in a slow shape).
    const { id, kind, pool, input, shard } = fields;
    return new SessionRecord({ id, kind, pool, input, shard, key: directory.nextKey(), now: now(), totals });
  }

  /** First start of a spawned session. Resolves with the failure, if any. */
  async launch(record: SessionRecord): Promise<SessionCrashedError | undefined> {
    const { key, id, kind, input } = record;
    const startup = record.shard.spawn({ key, id, kind, input });
    record.startup = startup;
    let failure: SessionCrashedError | undefined;
    try {
      const result = await startup;
      if (result) failure = new SessionCrashedError(id, fromWireError(result));
    } catch (error) {
      failure = new SessionCrashedError(id, error);
    }
    if (record.startup === startup) record.startup = undefined;
    if (!failure && record.status === 'starting') record.status = 'active';
    if (!failure) this.flushPending(record);
    return failure;
  }

  /** Restores a session from its snapshot and journal under a fresh key (see the contract). */
  restore(record: SessionRecord, cause: 'restart' | 'worker' | 'reactivation' = 'restart'): Promise<void> {
    if (channels.restore.hasSubscribers) channels.restore.publish({ id: record.id, cause });
    const run = (async () => {
      for (;;) {
        const request = this.#restoreRequest(record);
        let result: SpawnResult;
        try {
          result = await record.shard.spawn(request);
        } catch (error) {
          if (!record.shard.alive || record.ended || record.key !== request.key) return;
          result = toWireError(error);
        }
        if (record.ended || record.key !== request.key) return;
        if (result === null) {
          record.relink = undefined;
          // A restored actor is a new one: an inspector watching its events asks again.
          if (this.#core.eventTaps?.has(record.id)) (record.pending ??= []).push(WATCH_EVENTS_ON);
          if (record.status === 'restarting') record.status = 'active';
          this.flushPending(record);
          return;
        }
        // Its stored state does not fit the machine: a retry would fail the same way, and giving
        // up would delete it, so it is kept aside instead.
        const failure = fromWireError(result);
        if (result.quarantine) {
          this.quarantine(record, failure);
          return;
        }
        if (!this.charge(record, failure, result.poisonSeq)) return;
        this.#core.directory.rekey(record);
      }
    })();
    record.startup = run;
    void run.finally(() => {
      if (record.startup === run) record.startup = undefined;
    });
    return run;
  }

  /** The restore request; events it replays leave `pending` (they would otherwise run twice). */
  #restoreRequest(record: SessionRecord): SpawnRequest {
    const pending = record.pending;
    // Watched from its first replayed event (`watched` below), not after the replay.
    record.pending = undefined;
    if (pending) for (const entry of pending) if (typeof entry !== 'number') record.release();
    return {
      key: record.key,
      id: record.id,
      kind: record.kind,
      input: record.input,
      ...(record.snapshot ? { snapshot: record.snapshot } : {}),
      snapshotSeq: record.snapshotSeq,
      replay: record.replay(),
      seq: record.seq,
      watched: record.observers !== undefined,
      ...(record.relink ? { ipc: record.relink } : {}),
    };
  }

  /**
   * Restart. A session failed. Drops its poison event, if any; charges it a restart. Returns
   * whether it may be restored; if not, it is stopped and reported `crashed`.
   */
  charge(record: SessionRecord, error: Error, poisonSeq: number | undefined): boolean {
    const { store, events, directory, counters } = this.#core;
    if (poisonSeq) {
      const event = record.poison(poisonSeq);
      if (event !== POISONED) {
        if (this.#core.snapshotting) store.drop(record.id, poisonSeq);
        this.#core.asks.fail((event as { replyTo?: unknown }).replyTo, new SessionCrashedError(record.id, error));
        events.deadLetter(record.id, event, `it crashed the session (a poison message, not replayed): ${error.message}`);
      }
    }
    const decision = decideRestart(record.restarts ?? [], this.#core.now(), this.#core.options.restart);
    record.restarts = decision.charge;
    if ('giveUp' in decision) {
      this.fail(record, error);
      return false;
    }
    counters.restarts++;
    // The same failure again (a restore that fails the way the last one did): its stack once.
    const repeated = record.lastFailure === error.message;
    record.lastFailure = error.message;
    const log = directory.logger(record);
    if (repeated) log.warn({ reason: error.message, restarts: decision.charge.length }, 'session failed the same way again; restarting it');
    else log.warn({ err: error, restarts: decision.charge.length }, 'session failed; restarting it from its snapshot and journal');
    events.emit('restarted', { id: record.id, error });
    return true;
  }

  /** The session failed for good. */
  fail(record: SessionRecord, cause: Error): void {
    const { directory, store, events, counters } = this.#core;
    const error = cause instanceof SessionCrashedError ? cause : new SessionCrashedError(record.id, cause);
    counters.crashed++;
    directory.logger(record).error({ err: cause }, 'session crashed; not restarted');
    if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
    const owned = directory.owns(record);
    directory.unregister(record, error);
    if (owned) {
      this.#core.labels.release(record.id);
      void store.delete(record.id);
      this.#core.asks.sessionEnded(record.id, error);
    }
    events.emit('crashed', { id: record.id, kind: record.kind, pool: record.pool, error });
  }

  /**
   * The session cannot be restored: it leaves the directory, its state is saved as the host has
   * it and marked quarantined in the store (never deleted by the runtime), reported once.
   */
  quarantine(record: SessionRecord, cause: Error): void {
    const { directory, store, events } = this.#core;
    const { id, kind, pool, input } = record;
    const error = new SessionQuarantinedError(id, `its stored state cannot be restored (${cause.message})`, { cause });
    directory.logger(record).error({ err: cause }, 'session quarantined: its stored state cannot be restored; kept in the store');
    if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
    const owned = directory.owns(record);
    const state = { snapshot: record.snapshot, snapshotSeq: record.snapshotSeq, journal: record.replay(), wakeAt: record.wakeAt };
    directory.unregister(record, error);
    if (!owned) return;
    const linked = this.#core.options.ipcServer?.hasToken(id) === true;
    const label = this.#core.labels.of(id);
    const kept = store.save(id, { kind, pool, input, linked, ...(label ? { label } : {}) }, state, true).then(() => store.quarantine(id, { name: cause.name, message: cause.message, at: this.#core.now() }));
    kept.catch((failure: unknown) => this.#core.logger.error({ err: failure, sessionId: id }, 'could not keep a quarantined session in the store'));
    directory.quarantined.set(id, { kind, pool, error, kept });
    events.emit('quarantined', { id, kind, pool, error });
  }

  /** Lifts a quarantine and restores the session (its machine has been fixed); resolves when it runs. */
  async retryQuarantined(id: string): Promise<void> {
    const { directory, store } = this.#core;
    const held = directory.quarantined.get(id);
    if (!held) throw new UnknownSessionError(id, 'it is not quarantined');
    await held.kept.catch(() => {});
    if (directory.quarantined.get(id) !== held) throw new UnknownSessionError(id, 'it is no longer quarantined');
    const stored = store.load(id);
    directory.quarantined.delete(id);
    await store.quarantine(id, undefined);
    directory.passive.set(id, { kind: held.kind, pool: held.pool, wakeAt: stored?.wakeAt ?? 0, linked: stored?.linked ?? false });
    const record = this.reactivate(id);
    if (record instanceof Error) throw record;
    await record.settled();
    if (record.ended && record.endCause) throw record.endCause;
  }

  /** Deletes a quarantined session from the store, for good. */
  async removeQuarantined(id: string): Promise<void> {
    const { directory, store } = this.#core;
    const held = directory.quarantined.get(id);
    if (!held) throw new UnknownSessionError(id, 'it is not quarantined');
    directory.quarantined.delete(id);
    this.#core.labels.release(id);
    await held.kept.catch(() => {});
    await store.delete(id);
  }

  /** The live session with this id, or the passive one brought back; throws if neither can be. */
  liveOrReactivated(id: string): SessionRecord {
    const { directory } = this.#core;
    const record = directory.byId.get(id);
    if (record) return record;
    if (!directory.passive.has(id)) throw directory.quarantined.get(id)?.error ?? new UnknownSessionError(id);
    const reactivated = this.reactivate(id);
    if (reactivated instanceof Error) throw reactivated;
    return reactivated;
  }

  /** Brings an evicted or stored session back (`send`, `getSnapshot`), if its pool has room. */
  reactivate(id: string, { allowOverCapacity = false } = {}): SessionRecord | Error {
    const { directory, pools, store, fleet, events, route } = this.#core;
    if (route?.elsewhere(id)) return new UnknownSessionError(id, 'its shard is on another host of the fleet now');
    const passive = directory.passive.get(id)!;
    const pool = pools.get(passive.pool)!;
    if (!allowOverCapacity) {
      const victims = makeRoom(pool, this.#core.now());
      if (!victims) return new PoolFullError(id, pool.name, pool.size, pool.capacity);
      for (const victim of victims) this.evict(victim);
    }
    const stored = store.load(id);
    directory.passive.delete(id);
    if (!stored) return new UnknownSessionError(id, 'its stored state is gone');
    const shard = fleet.leastLoaded();
    if (!shard) {
      directory.passive.set(id, passive);
      return new WorkerStartError(-1, new Error('no worker is alive to reactivate the session on'));
    }
    const record = this.#recordFromStore(id, stored, shard);
    // Its token was revoked when it left (or belonged to another host process): a fresh one,
    // handed to its connection machines as it is restored.
    const ipc = this.#core.options.ipcServer;
    if (ipc && (passive.linked || stored.linked)) record.relink = { address: ipc.address, token: ipc.issueToken(id) };
    directory.register(record);
    record.status = 'restarting';
    events.emit('reactivated', { id, pool: record.pool });
    void this.restore(record, 'reactivation');
    return record;
  }

  #recordFromStore(id: string, stored: StoredSession, shard: Shard): SessionRecord {
    const { kind, pool, input } = stored;
    const record = this.newRecord({ id, kind, pool, input, shard });
    record.snapshot = stored.snapshot;
    record.snapshotSeq = stored.snapshotSeq;
    record.wakeAt = stored.wakeAt;
    record.seq = stored.snapshotSeq;
    if (stored.journal.length > 0) record.journal = [];
    for (let index = 0; index < stored.journal.length; index += 2) {
      const seq = stored.journal[index] as number;
      // A gap in the stored journal is an event dropped as poison.
      for (; record.seq < seq - 1; record.seq++) record.journal.push(POISONED);
      record.journal.push(stored.journal[index + 1]);
      record.seq = seq;
    }
    return record;
  }

  /** Eviction decided: reported first, then the shutdown with a snapshot kept. */
  evict(record: SessionRecord, reason: 'capacity' | 'idle' | 'memory' = 'capacity'): Promise<void> {
    const { counters, stopper, directory, events } = this.#core;
    counters.evictions++;
    counters.passivations[reason]++;
    if (channels.evict.hasSubscribers) channels.evict.publish({ id: record.id, reason });
    const done = stopper.stop(record, 'evict');
    directory.logger(record).info({ pool: record.pool, reason }, 'session evicted');
    events.emit('evicted', { id: record.id, pool: record.pool, done });
    events.emit('passivated', { id: record.id, pool: record.pool, reason });
    return done;
  }

  /** Sends what waited while the session (re)started, in order. */
  flushPending(record: SessionRecord): void {
    const pending = record.pending;
    record.pending = undefined;
    if (!pending) return;
    for (const entry of pending) record.shard.enqueue(record.key, entry, typeof entry === 'number' ? UNCOUNTED : record);
  }

  /** A watch marker, in band with the session's events. */
  enqueueMarker(record: SessionRecord, marker: number): void {
    if (record.status === 'active') record.shard.enqueue(record.key, marker, UNCOUNTED);
    else (record.pending ??= []).push(marker);
  }

  /** Sessions in a durable store from before this host started (those `wanted` keeps): passive now, or restored now. */
  resume(wanted: (id: string) => boolean = () => true): void {
    const { store, machines, pools, directory, logger, options, alarms } = this.#core;
    for (const { id, kind, pool, wakeAt, quarantined, linked } of store.list()) {
      if (!wanted(id) || directory.byId.has(id)) continue;
      if (!machines.has(kind) || !pools.has(pool)) {
        logger.warn({ sessionId: id, kind, pool }, 'stored session of an unknown machine kind or pool; left in the store');
        continue;
      }
      if (quarantined) {
        const error = new SessionQuarantinedError(id, `its stored state cannot be restored (${quarantined.message})`);
        directory.quarantined.set(id, { kind, pool, error, kept: Promise.resolve() });
        logger.warn({ sessionId: id, reason: quarantined.message }, 'stored session is quarantined; kept in the store');
        continue;
      }
      directory.passive.set(id, { kind, pool, wakeAt, linked });
      alarms.set(id, wakeAt);
      if (options.resume === 'eager') {
        const restored = this.reactivate(id, { allowOverCapacity: true });
        if (restored instanceof Error) logger.error({ err: restored, sessionId: id }, 'could not resume a stored session');
      }
    }
  }
}
