/**
 * The runtime: the public facade. It checks what the caller gives and delegates to the parts it
 * builds (see docs/architecture.md): the session directory, the intake (`send`), the session
 * lifecycle and stopper, the worker fleet, the supervisor actor, the note router, the events,
 * the store, the operator views.
 *
 * Contract (DESIGN.md, "Semantics"):
 * - `send` resolves once the event is accepted (intake.ts). Events to one session are processed
 *   in `send` order, exactly once in its history even if its worker dies — except the event that
 *   crashed it (poison), which goes to dead letters instead.
 * - `stop` resolves after the session has shut down and every subprocess it started has exited.
 * - A session's failure, or its worker's death, is contained; nothing reaches the caller of
 *   another session.
 * - Async methods reject; they never throw synchronously.
 */
import type { AnyMachineSnapshot, Observer } from 'xstate';
import { InvalidOptionError, RuntimeClosedError, UnknownSessionError } from '../errors.js';
import { importMachine } from '../protocol/machine-module.js';
import { reapSurvivors } from './workers/process-ledger.js';
import { describe } from '../protocol/plain-data.js';
import type { WireSnapshot } from '../protocol/wire.js';
import type { RuntimeCore } from './core.js';
import { INSPECTOR_API, type InspectorApi } from './inspector/inspector-api.js';
import { buildCore } from './build-core.js';
import { resolveOptions, type ResolvedOptions, type RuntimeOptions } from './options.js';
import { SessionHandle, type SessionCalls } from './sessions/session-handle.js';
import type { EventOf, InputOf, Kinds, KindsOf, SnapshotOf } from './kinds.js';
import { IdleSweeper } from './pools/idle-sweeper.js';
import { Intake } from './sessions/intake.js';
import { Mail } from './sessions/mail.js';
import { Spawner } from './sessions/spawner.js';
import { rebalance, resolveSnapshot } from './sessions/note-router.js';
import { observe, readSnapshot, waitForSnapshot } from './sessions/observation.js';
import type { SessionRecord, SessionStatus } from './sessions/session-record.js';
import { checkId } from './sessions/spawn-options.js';
import { LmdbStore } from './store/lmdb-store.js';
import { MemoryStore } from './store/store.js';
import type { JetStreamStore } from './store/jetstream-store.js';
import type { FleetHost, RoutedCalls } from './fleet/fleet-host.js';
import type {
  Handler,
  InspectorOptions,
  MemoryReport,
  RuntimeEvents,
  RuntimeStats,
  SessionEvent,
  SessionInfo,
  SessionRef,
  SpawnOptions,
} from './types.js';
import { inspectorApi, measureMemory, stats } from './views/operator-views.js';

export { INSPECTOR_API, type InspectorApi } from './inspector/inspector-api.js';
export type * from './types.js';

export class Runtime<K extends Kinds = Kinds> {
  readonly #core: RuntimeCore;
  readonly #intake: Intake;
  readonly #spawner: Spawner;
  readonly #mail: Mail;
  readonly #idle: IdleSweeper;
  #inspectorServer: { close(): Promise<void> } | undefined;
  /** In a fleet: this host's shards, and calls for the others' (fleet/fleet-host.ts). */
  #fleetHost: FleetHost | undefined;
  #shutdown: Promise<void> | undefined;

  private constructor(options: ResolvedOptions) {
    this.#core = buildCore(options);
    this.#intake = new Intake(this.#core);
    this.#mail = new Mail(this.#core, this.#intake, this.#core.labels);
    this.#spawner = new Spawner(this.#core, this.#intake.copier, (group, label, id) => this.#mail.labelTaken(group, label, id));
    this.#idle = new IdleSweeper(this.#core);
  }

  /** @internal Use `createRuntime`. */
  static async create<K extends Kinds>(options: RuntimeOptions): Promise<Runtime<K>> {
    const runtime = new Runtime<K>(resolveOptions(options));
    await runtime.#start();
    return runtime;
  }

  async #start(): Promise<void> {
    const core = this.#core;
    const { machines, workers, store, startTimeoutMs } = core.options;
    try {
      for (const [kind, url] of machines) core.machines.set(kind, (await importMachine(url, startTimeoutMs)).machine);
      const onStoreError = (error: unknown) => core.logger.error({ err: error }, 'a store write failed');
      const { fleet } = core.options;
      if (fleet) core.store = await (await import('./store/jetstream-store.js')).JetStreamStore.open({ ...fleet, onError: onStoreError });
      else core.store = store === 'memory' ? new MemoryStore() : await LmdbStore.open(store.path, onStoreError);
      core.journaling = core.store.durable && core.options.durability === 'journal';
      core.snapshotting = core.store.durable && core.options.durability !== 'none';
      await core.fleet.start(workers);
    } catch (error) {
      await core.fleet.destroy();
      await core.store.close();
      core.supervisor.stop();
      throw error;
    }
    // What a dead host left running is killed before any of its sessions is resumed.
    reapSurvivors(core.store, core.logger);
    await core.metrics.start(core, core.options.meterProvider);
    core.labels.load(core.store, core.store.list());
    this.#mail.load();
    core.lifecycle.resume();
    this.#idle.start();
    if (core.options.fleet) {
      const { FleetHost, runRouted } = await import('./fleet/fleet-host.js'); // loaded only for a fleet
      const local = {
        call: (op: string, id: string, args: unknown[]) => runRouted(this as unknown as RoutedCalls, op, id, args),
        subscribe: (id: string, observer: Partial<Observer<AnyMachineSnapshot>>) => this.subscribe(id, observer as never),
        getSnapshot: (id: string) => this.getSnapshot(id) as Promise<AnyMachineSnapshot>,
        labelTaken: (group: string, label: string, id: string) => this.#mail.labelTaken(group, label, id),
      };
      // Refused by the fleet (another shard count, NATS unreachable): nothing is left running.
      const stop = (error: unknown) => this.shutdown().then(() => Promise.reject(error));
      this.#fleetHost = await FleetHost.start(core, core.options.fleet, core.store as JetStreamStore, local).catch(stop);
    }
    core.logger.info(
      { workers, machines: [...machines.keys()], store: store === 'memory' ? 'memory' : store.path, resumed: core.directory.passive.size },
      'actorhost runtime started',
    );
  }

  /** Starts a session of machine `kind` on the least-loaded worker; it stays there. */
  async spawn<N extends keyof K & string>(kind: N, options: SpawnOptions<InputOf<K, N>>): Promise<SessionRef<K[N]>> {
    this.#assertOpen('spawn');
    const routed = this.#fleetHost && options?.id !== undefined && !this.#fleetHost.owns(options.id);
    const id = routed ? ((await this.#fleetHost!.call('spawn', options.id!, [kind, options])) as string) : await this.#spawner.spawn(kind, options);
    return new SessionHandle(this as unknown as SessionCalls, id) as unknown as SessionRef<K[N]>;
  }

  /** Queues `event` for the session; resolves once it is accepted (see intake.ts). Never throws. */
  send(id: string, event: EventOf<K>): Promise<void> {
    if (this.#routed(id)) return this.#fleetHost!.call('send', id, [event]) as Promise<void>;
    return this.#intake.send(id, event as SessionEvent);
  }

  /**
   * Sends `event` to the session holding label `to` in `group`, or untargeted by the group's
   * policy; held (kept) when no session has the label. Resolves once accepted or held.
   */
  async deliver(group: string, event: EventOf<K>, options?: { to?: string }): Promise<void> {
    this.#assertOpen('deliver');
    return this.#mail.deliver(group, event as SessionEvent, options);
  }

  /** The id of the session holding `label` in `group` (live or stored), or `undefined`. */
  lookup(group: string, label: string): string | undefined {
    return this.#core.labels.lookup(group, label);
  }

  /**
   * Sends `event` (ordered with sends, accepted like them) and resolves with the value the
   * session's `reply` action gives for it; `NoReplyError` if it handled it without replying,
   * `AskTimeoutError` past `timeoutMs` (default 30 s). Never throws.
   */
  ask<T = unknown>(id: string, event: EventOf<K>, options?: { timeoutMs?: number }): Promise<T> {
    if (this.#routed(id)) return this.#fleetHost!.call('ask', id, [event, options]) as Promise<T>;
    return this.#intake.ask(id, event as SessionEvent, options) as Promise<T>;
  }

  /** The session's current snapshot, after every event accepted before this call. */
  async getSnapshot(id: string): Promise<SnapshotOf<K>> {
    this.#assertOpen('getSnapshot');
    checkId('getSnapshot', id);
    if (this.#routed(id)) {
      const { kind, wire } = (await this.#fleetHost!.call('getSnapshot', id, [])) as { kind: string; wire: WireSnapshot };
      return resolveSnapshot(this.#core, { kind } as SessionRecord, wire) as unknown as SnapshotOf<K>;
    }
    // Being evicted: wait for it to be stored, then bring it back (as `send` does).
    const { directory } = this.#core;
    const leaving = directory.byId.has(id) ? undefined : directory.leaving.get(id);
    if (leaving?.mode === 'evict' && !leaving.superseded) await leaving.done;
    const record = this.#core.lifecycle.liveOrReactivated(id);
    this.#core.directory.touch(record);
    return (await readSnapshot(this.#core, record)) as SnapshotOf<K>;
  }

  /** A read-only view of the session, or `undefined`. Does not count as activity. */
  peek(id: string): SessionInfo | undefined {
    checkId('peek', id);
    return this.#core.directory.info(id) ?? this.#fleetHost?.info(id);
  }

  /** Operators' listing, optionally filtered; evicted sessions included. Does not count as activity. */
  list(filter: { pool?: string; status?: SessionStatus; group?: string } = {}): SessionInfo[] {
    const { labels } = this.#core;
    const wanted = (id: string, pool: string, status: SessionStatus) =>
      (filter.pool === undefined || pool === filter.pool) &&
      (filter.status === undefined || status === filter.status) &&
      (filter.group === undefined || labels.of(id)?.group === filter.group);
    // In a fleet, the other hosts' sessions too (status 'remote').
    return [...[...this.#core.directory.select(wanted)].map((row) => row()), ...(this.#fleetHost?.remote(wanted) ?? [])];
  }

  /**
   * Calls `listener` with every snapshot the session reaches from now on: after each event sent
   * after this call. An observer's `error` hears of a crash, `complete` of the session's end.
   * Returns the unsubscribe function.
   */
  subscribe(id: string, listener: ((snapshot: SnapshotOf<K>) => void) | Partial<Observer<SnapshotOf<K>>>): () => void {
    this.#assertOpen('subscribe');
    checkId('subscribe', id);
    if (typeof listener !== 'function' && (listener === null || typeof listener !== 'object')) {
      throw new InvalidOptionError(`subscribe: the listener must be a function or an observer { next, error, complete } (got ${describe(listener)})`);
    }
    const observer = (typeof listener === 'function' ? { next: listener } : listener) as Partial<Observer<AnyMachineSnapshot>>;
    if (this.#routed(id)) return this.#fleetHost!.watch(id, observer);
    return observe(this.#core, id, observer);
  }

  /** Resolves with the first snapshot (current or later) that satisfies `predicate`. */
  waitFor(id: string, predicate: (snapshot: SnapshotOf<K>) => boolean, options: { timeoutMs?: number } = {}): Promise<SnapshotOf<K>> {
    return waitForSnapshot(this.#core.options, id, predicate as (snapshot: AnyMachineSnapshot) => boolean, options, {
      // Another host's session: its owner sends the current snapshot first (registration is not instant).
      subscribe: (observer) => (this.#routed(id) ? this.#fleetHost!.watch(id, observer, true) : this.subscribe(id, observer as Partial<Observer<SnapshotOf<K>>>)),
      getSnapshot: () => this.getSnapshot(id) as Promise<AnyMachineSnapshot>,
    }) as Promise<SnapshotOf<K>>;
  }

  /** Refcounted pin: a pinned session is never evicted. The returned release is idempotent. */
  pin(id: string): () => void {
    checkId('pin', id);
    this.#assertOpen('pin');
    if (this.#routed(id)) throw new UnknownSessionError(id, `it lives on another host of the fleet (${this.peek(id)?.host ?? 'none now'}), and a pin holds it on its host: pin it there`);
    const record: SessionRecord = this.#core.lifecycle.liveOrReactivated(id);
    record.pins++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      record.pins--;
      // A pin released may be the candidate an over-capacity pool was waiting for.
      if (record.pins === 0) rebalance(this.#core, record);
    };
  }

  /** Shuts the session down (the shutdown contract) and resolves when it is gone. */
  async stop(id: string): Promise<void> {
    this.#assertOpen('stop');
    checkId('stop', id);
    if (this.#routed(id)) return this.#fleetHost!.call('stop', id, []) as Promise<void>;
    const { directory, stopper, store } = this.#core;
    const record = directory.byId.get(id);
    if (record) return stopper.stop(record, 'stop');
    const leaving = directory.leaving.get(id);
    if (leaving) {
      if (leaving.mode !== 'evict' || leaving.superseded) return leaving.done;
      // Being evicted: stopped for good instead, not left passivated in the store.
      leaving.mode = 'stop';
      await leaving.done;
      if (!directory.passive.has(id) || directory.byId.has(id)) return;
    }
    if (directory.passive.has(id)) {
      directory.passive.delete(id);
      this.#core.labels.release(id);
      await store.delete(id);
      return;
    }
    // Quarantined data is deleted only by the explicit call.
    throw directory.quarantined.get(id)?.error ?? new UnknownSessionError(id);
  }

  /**
   * A quarantined session (its stored state did not fit the machine) is restored again, after its
   * machine module was fixed; resolves once it runs, rejects with `SessionQuarantinedError` if it
   * still cannot be restored (it stays quarantined).
   */
  retryQuarantined(id: string): Promise<void> {
    this.#assertOpen('retryQuarantined');
    checkId('retryQuarantined', id);
    if (this.#routed(id)) return this.#fleetHost!.call('retryQuarantined', id, []) as Promise<void>;
    return this.#core.lifecycle.retryQuarantined(id);
  }

  /** Deletes a quarantined session and its stored state for good. */
  removeQuarantined(id: string): Promise<void> {
    this.#assertOpen('removeQuarantined');
    checkId('removeQuarantined', id);
    if (this.#routed(id)) return this.#fleetHost!.call('removeQuarantined', id, []) as Promise<void>;
    return this.#core.lifecycle.removeQuarantined(id);
  }

  /** Changes a pool's capacity; shrinking evicts down to it under the usual rules. */
  setPoolCapacity(pool: string, capacity: number): void {
    this.#assertOpen('setPoolCapacity');
    const { pools, supervisor } = this.#core;
    if (!pools.has(pool)) {
      throw new InvalidOptionError(`setPoolCapacity: "${pool}" is not a pool; known: ${[...pools.keys()].join(', ')}`);
    }
    if (capacity !== Infinity && (!Number.isSafeInteger(capacity) || capacity < 1)) {
      throw new InvalidOptionError(`setPoolCapacity: capacity must be a positive integer (got ${String(capacity)})`);
    }
    supervisor.send({ type: 'pool.resized', pool, capacity });
  }

  /** Listens for a runtime event; returns the function that stops listening. */
  on<E extends keyof RuntimeEvents>(event: E, handler: Handler<E>): () => void {
    return this.#core.events.on(event, handler);
  }

  /** Counts per pool, shard, and totals. Does not count as activity. */
  stats(): RuntimeStats {
    return stats(this.#core);
  }

  /**
   * Heap in use on the host and in each worker, in bytes. With `collectGarbage` (and the process
   * started with `node --expose-gc`), each thread collects first, so the figures are live data.
   */
  async measureMemory({ collectGarbage = false } = {}): Promise<MemoryReport> {
    this.#assertOpen('measureMemory');
    return measureMemory(this.#core, collectGarbage);
  }

  /**
   * Serves actorhost's inspector page: shards, pools, every session, live. Binds 127.0.0.1 by
   * default; the returned URL carries a random access token, and requests without it get 401.
   * Closed by `shutdown()`.
   */
  async serveInspector(options: InspectorOptions = {}): Promise<{ url: string; token: string; close(): Promise<void> }> {
    this.#assertOpen('serveInspector');
    const { serveInspector } = await import('./inspector/inspector-server.js');
    const server = await serveInspector(this[INSPECTOR_API](), options, this.#core.logger, this.#core.options);
    const previous = this.#inspectorServer;
    this.#inspectorServer = server;
    await previous?.close();
    return server;
  }

  /** @internal The inspector server's view. */
  [INSPECTOR_API](): InspectorApi {
    return inspectorApi(this.#core, (id, listener) => this.subscribe(id, listener), {
      stop: (id) => this.stop(id),
      send: (id, event) => this.send(id, event),
      pin: (id) => this.pin(id),
    });
  }

  /** Shuts every session down in parallel, then closes every worker and the store. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutDown();
    return this.#shutdown;
  }

  async #shutDown(): Promise<void> {
    const core = this.#core;
    core.closed = true;
    this.#idle.stop();
    core.alarms.stop();
    this.#mail.stop();
    core.metrics.stop();
    await this.#inspectorServer?.close();
    this.#fleetHost?.closeWatches(); // its sessions move to other hosts: their watchers follow them
    await core.stopper.stopAll('shutdown');
    await this.#fleetHost?.stop();
    await Promise.allSettled(core.fleet.recoveries());
    core.supervisor.stop();
    await core.fleet.close();
    await core.processes.close();
    await core.store.close();
    core.logger.info('actorhost runtime shut down');
  }

  /** In a fleet, whether session `id` lives on another host. */
  #routed(id: string): boolean {
    return this.#fleetHost !== undefined && typeof id === 'string' && !this.#fleetHost.owns(id);
  }

  #assertOpen(operation: string): void {
    if (this.#core.closed) throw new RuntimeClosedError(operation);
  }
}

/**
 * Starts a runtime: opens the store, imports the machine modules, starts the workers, and
 * resolves when every worker has loaded every machine. Rejects with `InvalidOptionError`,
 * `MachineModuleError`, `StoreLockedError`, `StoreError` or `WorkerStartError` — never hangs.
 *
 * @example
 * ```ts
 * import { createRuntime } from 'actorhost';
 *
 * const runtime = await createRuntime({
 *   machines: { counter: new URL('./counter.machine.js', import.meta.url) },
 *   workers: 2,
 *   store: 'memory',
 * });
 * await runtime.spawn('counter', { id: 'c-1' });
 * await runtime.send('c-1', { type: 'INC' });
 * console.log((await runtime.getSnapshot('c-1')).context);
 * await runtime.shutdown();
 * ```
 */
export function createRuntime<M extends RuntimeOptions['machines']>(options: RuntimeOptions & { machines: M }): Promise<Runtime<KindsOf<M>>> {
  return Runtime.create<KindsOf<M>>(options);
}
