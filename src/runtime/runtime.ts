/**
 * The runtime: the public facade over the shards, the session registry and the event path.
 *
 * Contract (DESIGN.md, "Semantics"):
 * - `send` resolves once the event is accepted: it passed validation, fit in the session's
 *   mailbox, and is queued in order for the session's worker. Events to one session are
 *   processed in `send` order.
 * - `stop` resolves after the session has shut down: `actorhost.shutdown` if it handles it, at
 *   once if not, by force after `shutdownTimeoutMs`. A shutdown that throws is logged.
 * - A session's failure, or its worker's death, is reported (`crashed`, `workerExit`) and never
 *   reaches the caller of another session. A listener that throws is logged and ignored.
 * - Async methods reject; they never throw synchronously.
 */
import type { AnyMachineSnapshot, AnyStateMachine, Observer } from 'xstate';
import type { Logger } from 'pino';
import {
  DuplicateSessionError,
  InvalidEventError,
  InvalidOptionError,
  MailboxFullError,
  RuntimeClosedError,
  SessionCrashedError,
  UnknownMachineError,
  UnknownSessionError,
  WaitForTimeoutError,
  WorkerStartError,
} from '../errors.js';
import {
  NOTE_CRASHED,
  NOTE_DONE,
  NOTE_SNAPSHOT,
  NOTE_UNDELIVERED,
  WATCH_OFF,
  WATCH_ON,
  PlainCopier,
  createPackr,
  findUnserializable,
  fromWireError,
  type Note,
  type WireSnapshot,
} from '../actors/wire.js';
import { importMachine } from '../actors/machine-module.js';
import { DEFAULT_POOL, resolveOptions, type ResolvedOptions, type RuntimeOptions } from './options.js';
import { SessionRecord, type SessionStatus } from './session-record.js';
import { Shard, type Mailbox } from './shard.js';

export interface SpawnOptions {
  /** The session's id; unique among live sessions. */
  id: string;
  /** The pool it belongs to. Default: `default`. */
  pool?: string;
  /** The machine's input; plain serializable data. */
  input?: unknown;
  /** Shut a live session with this id down first instead of failing with `DuplicateSessionError`. */
  replace?: boolean;
}

/** A handle on one session; each method is the runtime's method with this id. */
export interface SessionRef {
  readonly id: string;
  send(event: SessionEvent): Promise<void>;
  getSnapshot(): Promise<AnyMachineSnapshot>;
  subscribe(listener: SnapshotListener | Partial<Observer<AnyMachineSnapshot>>): () => void;
  stop(): Promise<void>;
}

export interface SessionEvent {
  type: string;
  [key: string]: unknown;
}

export type SnapshotListener = (snapshot: AnyMachineSnapshot) => void;

/** An operator's view of a session; reading it does not count as activity. */
export interface SessionInfo {
  id: string;
  kind: string;
  pool: string;
  status: SessionStatus;
  pinned: boolean;
  lastActiveAt: number;
  shard: number;
  /** Events accepted and not yet processed. */
  mailbox: number;
}

export interface RuntimeStats {
  sessions: number;
  eventsAccepted: number;
  /** Events accepted and not yet processed, over all sessions. */
  mailboxed: number;
  deadLetters: number;
  crashed: number;
  pools: Record<string, { sessions: number; capacity: number }>;
  shards: Array<{ shard: number; sessions: number; alive: boolean; eventsAccepted: number }>;
}

export interface MemoryReport {
  /** The host's heap in use, in bytes. */
  host: number;
  /** Each worker's heap in use, in bytes, by shard index. */
  shards: number[];
  total: number;
}

export interface RuntimeEvents {
  /** A session failed (its machine threw, or its worker died). */
  crashed: { id: string; kind: string; pool: string; error: Error };
  /** A session reached a final state by itself. */
  done: { id: string; output: unknown };
  /** An event that no session processed. */
  deadLetter: { id: string | undefined; event: unknown; reason: string };
  /** A worker ended without being asked to; `sessions` were on it. */
  workerExit: { shard: number; error: Error; sessions: string[] };
  /** A session was evicted from its pool; `done` settles when its shutdown is over. */
  evicted: { id: string; pool: string; done: Promise<void> };
  /** A session was restarted after a crash. */
  restarted: { id: string; error: Error };
}

type Handler<E extends keyof RuntimeEvents> = (payload: RuntimeEvents[E]) => void;

const RESOLVED = Promise.resolve();
/** Watch markers are never counted against a mailbox. */
const UNCOUNTED: Mailbox = { release() {} };

export class Runtime {
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #machines = new Map<string, AnyStateMachine>();
  readonly #shards: Shard[] = [];
  readonly #replacements = new Map<number, Promise<void>>();
  readonly #byId = new Map<string, SessionRecord>();
  readonly #byKey = new Map<number, SessionRecord>();
  readonly #poolSizes = new Map<string, number>();
  readonly #stopping = new Map<SessionRecord, Promise<void>>();
  readonly #handlers = new Map<keyof RuntimeEvents, Set<(payload: never) => void>>();
  readonly #packr = createPackr();
  readonly #copier = new PlainCopier();
  #nextKey = 1;
  #closed = false;
  #shutdown: Promise<void> | undefined;
  #deadLetters = 0;
  #crashed = 0;

  private constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#logger = options.logger;
    for (const pool of options.pools.keys()) this.#poolSizes.set(pool, 0);
  }

  /** @internal Use `createRuntime`. */
  static async create(options: RuntimeOptions): Promise<Runtime> {
    const runtime = new Runtime(resolveOptions(options));
    await runtime.#start();
    return runtime;
  }

  async #start(): Promise<void> {
    const { machines, workers } = this.#options;
    for (const [kind, url] of machines) this.#machines.set(kind, await importMachine(url));
    const started = await Promise.allSettled(Array.from({ length: workers }, (_, index) => this.#startShard(index)));
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) {
      await Promise.all(this.#shards.map((shard) => shard.destroy()));
      throw failure.reason;
    }
    this.#logger.info({ workers, machines: [...machines.keys()] }, 'actorhost runtime started');
  }

  async #startShard(index: number): Promise<void> {
    const shard = await Shard.start({
      index,
      machines: this.#options.machines,
      resourceLimits: this.#options.resourceLimits,
      logger: this.#logger,
      handlers: {
        onNotes: (from, notes) => this.#onNotes(from, notes),
        onExit: (from, cause) => this.#onShardExit(from, cause),
      },
    });
    if (this.#closed) {
      await shard.destroy();
      return;
    }
    this.#shards[index] = shard;
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  /** Starts a session of machine `kind` on the least-loaded worker; it stays there. */
  async spawn(kind: string, options: SpawnOptions): Promise<SessionRef> {
    this.#assertOpen('spawn');
    if (!this.#machines.has(kind)) throw new UnknownMachineError(kind, [...this.#machines.keys()]);
    const { id, pool, input } = this.#checkSpawnOptions(options);
    const existing = this.#byId.get(id);
    if (existing) {
      if (!options.replace) throw new DuplicateSessionError(id);
      await this.#stopRecord(existing);
      this.#assertOpen('spawn');
      // Another spawn may have taken the id while the old session shut down.
      if (this.#byId.has(id)) throw new DuplicateSessionError(id);
    }
    // Placement and registration happen in the same synchronous step, so concurrent spawns see
    // each other's load.
    const shard = this.#leastLoadedShard() ?? (await this.#replacementShard());
    if (this.#byId.has(id)) throw new DuplicateSessionError(id);
    const record = new SessionRecord(id, this.#nextKey++, kind, pool, shard, Date.now());
    this.#register(record);
    const startup = shard.spawn({ key: record.key, id, kind, input });
    record.startup = startup;
    let failure: Error | undefined;
    try {
      const result = await startup;
      if (result) failure = new SessionCrashedError(id, fromWireError(result));
    } catch (error) {
      failure = new SessionCrashedError(id, error);
    }
    record.startup = undefined;
    if (failure) {
      this.#unregister(record, failure);
      throw failure;
    }
    if (record.ended) throw record.endCause ?? new UnknownSessionError(id, 'it was stopped while starting');
    if (record.status === 'starting') record.status = 'active';
    this.#flushPending(record);
    return this.#ref(id);
  }

  #checkSpawnOptions(options: SpawnOptions): { id: string; pool: string; input: unknown } {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(`spawn options must be an object such as { id: 'conv-1' } (got ${typeof options})`);
    }
    const { id, pool = DEFAULT_POOL, input } = options;
    if (typeof id !== 'string' || id.length === 0) {
      throw new InvalidOptionError(`spawn options.id must be a non-empty string (got ${JSON.stringify(id) ?? String(id)})`);
    }
    if (!this.#options.pools.has(pool)) {
      throw new InvalidOptionError(
        `spawn options.pool "${pool}" is not a pool; known: ${[...this.#options.pools.keys()].join(', ')}`,
      );
    }
    const problem = findUnserializable(input, 'input');
    if (problem) throw new InvalidOptionError(`spawn options.${problem}`);
    return { id, pool, input };
  }

  #ref(id: string): SessionRef {
    return new SessionHandle(this, id);
  }

  /** Queues `event` for the session; resolves once it is accepted (see the contract above). */
  send(id: string, event: SessionEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new RuntimeClosedError('send'));
    const record = this.#byId.get(id);
    if (record === undefined) return Promise.reject(new UnknownSessionError(id));
    if (record.status === 'stopping') return Promise.reject(new UnknownSessionError(id, 'it is stopping'));
    if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
      return Promise.reject(
        new InvalidEventError(`expected an object with a string "type", such as { type: 'USER_MESSAGE' } (got ${describeValue(event)})`),
      );
    }
    const copy = this.#copier.copy(event);
    if (copy === undefined) return Promise.reject(new InvalidEventError(findUnserializable(event)!));
    const capacity = this.#options.mailboxCapacity;
    if (record.inFlight >= capacity) return Promise.reject(new MailboxFullError(id, capacity));
    const limit = this.#options.maxEventBytes;
    // The copier's estimate is an upper bound: encode only when it might be over the limit.
    if (this.#copier.bytes > limit) {
      const size = this.#packr.pack(copy).length;
      if (size > limit) {
        return Promise.reject(
          new InvalidEventError(
            `"${event.type}" is ${size} bytes encoded; the limit is options.maxEventBytes = ${limit}. Send a reference to large data instead.`,
          ),
        );
      }
    }
    record.accepted++;
    record.lastActiveAt = Date.now();
    if (record.status === 'starting') (record.pending ??= []).push(copy);
    else record.shard.enqueue(record.key, copy, record);
    return RESOLVED;
  }

  /** The session's current snapshot, after every event accepted before this call. */
  async getSnapshot(id: string): Promise<AnyMachineSnapshot> {
    this.#assertOpen('getSnapshot');
    const record = this.#live(id);
    record.lastActiveAt = Date.now();
    await record.startup?.catch(() => {});
    await record.drained();
    if (record.ended) throw record.endCause ?? new UnknownSessionError(id, 'it has stopped');
    const wire = await record.shard.call((api) => api.snapshot(record.key));
    if (wire === undefined) throw record.endCause ?? new UnknownSessionError(id, 'it has stopped');
    return this.#resolveSnapshot(record, wire);
  }

  /** A read-only view of the session, or `undefined`. Does not count as activity. */
  peek(id: string): SessionInfo | undefined {
    const record = this.#byId.get(id);
    return record && info(record);
  }

  /** Operators' listing, optionally filtered. Does not count as activity. */
  list(filter: { pool?: string; status?: SessionStatus } = {}): SessionInfo[] {
    const result: SessionInfo[] = [];
    for (const record of this.#byId.values()) {
      if (filter.pool !== undefined && record.pool !== filter.pool) continue;
      if (filter.status !== undefined && record.status !== filter.status) continue;
      result.push(info(record));
    }
    return result;
  }

  /**
   * Calls `listener` with every snapshot the session reaches from now on: after each event sent
   * after this call. An observer's `error` hears of a crash, `complete` of the session's end.
   * Returns the unsubscribe function.
   */
  subscribe(id: string, listener: SnapshotListener | Partial<Observer<AnyMachineSnapshot>>): () => void {
    this.#assertOpen('subscribe');
    const record = this.#live(id);
    const observer = typeof listener === 'function' ? { next: listener } : listener;
    if (record.observers === undefined) {
      record.observers = new Set();
      this.#enqueueMarker(record, WATCH_ON);
    }
    record.observers.add(observer);
    return () => {
      const observers = record.observers;
      if (!observers?.delete(observer) || observers.size > 0 || record.ended) return;
      record.observers = undefined;
      this.#enqueueMarker(record, WATCH_OFF);
    };
  }

  /** Resolves with the first snapshot (current or later) that satisfies `predicate`. */
  waitFor(
    id: string,
    predicate: (snapshot: AnyMachineSnapshot) => boolean,
    { timeoutMs = Infinity }: { timeoutMs?: number } = {},
  ): Promise<AnyMachineSnapshot> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let unsubscribe: (() => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe?.();
        fn();
      };
      const check = (snapshot: AnyMachineSnapshot) => {
        try {
          if (predicate(snapshot)) settle(() => resolve(snapshot));
        } catch (error) {
          settle(() => reject(error));
        }
      };
      try {
        unsubscribe = this.subscribe(id, {
          next: check,
          error: (error) => settle(() => reject(error)),
          complete: () => settle(() => reject(new UnknownSessionError(id, 'it stopped before the predicate matched'))),
        });
      } catch (error) {
        settle(() => reject(error));
        return;
      }
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => settle(() => reject(new WaitForTimeoutError(id, timeoutMs))), timeoutMs);
      }
      this.getSnapshot(id).then(check, (error: unknown) => settle(() => reject(error)));
    });
  }

  /** Refcounted pin; the returned release is idempotent. */
  pin(id: string): () => void {
    const record = this.#live(id);
    record.pins++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      record.pins--;
    };
  }

  /** Shuts the session down (the shutdown contract) and resolves when it is gone. */
  async stop(id: string): Promise<void> {
    this.#assertOpen('stop');
    const record = this.#byId.get(id);
    if (record === undefined) throw new UnknownSessionError(id);
    await this.#stopRecord(record);
  }

  #stopRecord(record: SessionRecord): Promise<void> {
    const running = this.#stopping.get(record);
    if (running) return running;
    record.status = 'stopping';
    const stopping = this.#shutDownSession(record).finally(() => this.#stopping.delete(record));
    this.#stopping.set(record, stopping);
    return stopping;
  }

  async #shutDownSession(record: SessionRecord): Promise<void> {
    await record.startup?.catch(() => {});
    await record.drained();
    if (!record.ended) {
      const log = this.#sessionLogger(record);
      try {
        const result = await record.shard.stop(record.key, this.#options.shutdownTimeoutMs);
        if (result.outcome === 'failed') {
          log.error({ err: result.error && fromWireError(result.error) }, 'session shutdown threw; it is stopped');
        } else if (result.outcome === 'forced') {
          log.warn({ timeoutMs: this.#options.shutdownTimeoutMs }, 'session did not shut down in time; stopped by force');
        }
      } catch (error) {
        log.warn({ err: error }, 'worker ended while the session was shutting down');
      }
    }
    this.#unregister(record);
  }

  // ── runtime ─────────────────────────────────────────────────────────────────────────────────

  /** Listens for a runtime event; returns the function that stops listening. */
  on<E extends keyof RuntimeEvents>(event: E, handler: Handler<E>): () => void {
    let handlers = this.#handlers.get(event);
    if (!handlers) this.#handlers.set(event, (handlers = new Set()));
    handlers.add(handler as (payload: never) => void);
    return () => handlers.delete(handler as (payload: never) => void);
  }

  stats(): RuntimeStats {
    let mailboxed = 0;
    for (const record of this.#byId.values()) mailboxed += record.inFlight;
    const pools: RuntimeStats['pools'] = {};
    for (const [name, pool] of this.#options.pools) {
      pools[name] = { sessions: this.#poolSizes.get(name) ?? 0, capacity: pool.capacity };
    }
    return {
      sessions: this.#byId.size,
      eventsAccepted: this.#shards.reduce((sum, shard) => sum + shard.eventsAccepted, 0),
      mailboxed,
      deadLetters: this.#deadLetters,
      crashed: this.#crashed,
      pools,
      shards: this.#shards.map((shard) => ({
        shard: shard.index,
        sessions: shard.sessions,
        alive: shard.alive,
        eventsAccepted: shard.eventsAccepted,
      })),
    };
  }

  /**
   * Heap in use on the host and in each worker, in bytes. With `collectGarbage` (and the process
   * started with `node --expose-gc`), each thread collects first, so the figures are live data.
   */
  async measureMemory({ collectGarbage = false } = {}): Promise<MemoryReport> {
    this.#assertOpen('measureMemory');
    const gc = (globalThis as { gc?: () => void }).gc;
    if (collectGarbage && gc) gc();
    const host = process.memoryUsage().heapUsed;
    const shards = await Promise.all(
      this.#shards.map((shard) =>
        shard.alive ? shard.call((api) => api.stats(collectGarbage)).then((stats) => stats.heapUsed) : 0,
      ),
    );
    return { host, shards, total: shards.reduce((sum, heap) => sum + heap, host) };
  }

  /** Shuts every session down in parallel, then closes every worker. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutDown();
    return this.#shutdown;
  }

  async #shutDown(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#byId.values()].map((record) => this.#stopRecord(record)));
    await Promise.allSettled([...this.#replacements.values()]);
    await Promise.allSettled(this.#shards.map((shard) => shard.close(this.#options.shutdownTimeoutMs)));
    this.#logger.info('actorhost runtime shut down');
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  #assertOpen(operation: string): void {
    if (this.#closed) throw new RuntimeClosedError(operation);
  }

  #live(id: string): SessionRecord {
    const record = this.#byId.get(id);
    if (record === undefined) throw new UnknownSessionError(id);
    return record;
  }

  #leastLoadedShard(): Shard | undefined {
    let best: Shard | undefined;
    for (const shard of this.#shards) {
      if (shard?.alive && (best === undefined || shard.sessions < best.sessions)) best = shard;
    }
    return best;
  }

  /** Every worker is down: wait for the replacements under way, if any. */
  async #replacementShard(): Promise<Shard> {
    await Promise.allSettled([...this.#replacements.values()]);
    this.#assertOpen('spawn');
    const shard = this.#leastLoadedShard();
    if (shard) return shard;
    throw new WorkerStartError(-1, new Error('no worker is alive and none could be started; see the logged workerExit causes'));
  }

  #register(record: SessionRecord): void {
    this.#byId.set(record.id, record);
    this.#byKey.set(record.key, record);
    this.#poolSizes.set(record.pool, (this.#poolSizes.get(record.pool) ?? 0) + 1);
    record.shard.sessions++;
  }

  /** Removes this incarnation's bookkeeping: never a newer session's that reuses the id. */
  #unregister(record: SessionRecord, cause?: Error): void {
    if (record.ended) return;
    if (this.#byId.get(record.id) === record) this.#byId.delete(record.id);
    this.#byKey.delete(record.key);
    this.#poolSizes.set(record.pool, (this.#poolSizes.get(record.pool) ?? 1) - 1);
    record.shard.sessions--;
    record.end(cause);
    const observers = record.observers;
    record.observers = undefined;
    if (!observers) return;
    for (const observer of observers) {
      this.#guard(record, () => (cause ? observer.error?.(cause) : observer.complete?.()));
    }
  }

  #flushPending(record: SessionRecord): void {
    const pending = record.pending;
    record.pending = undefined;
    if (!pending) return;
    for (const entry of pending) record.shard.enqueue(record.key, entry, typeof entry === 'number' ? UNCOUNTED : record);
  }

  #enqueueMarker(record: SessionRecord, marker: number): void {
    if (record.status === 'starting') (record.pending ??= []).push(marker);
    else record.shard.enqueue(record.key, marker, UNCOUNTED);
  }

  #resolveSnapshot(record: SessionRecord, wire: WireSnapshot): AnyMachineSnapshot {
    const machine = this.#machines.get(record.kind)!;
    return machine.resolveState({
      value: wire.value as never,
      context: wire.context as never,
      status: wire.status,
      output: wire.output,
      error: wire.error,
    } as never);
  }

  #onNotes(shard: Shard, notes: Note[]): void {
    for (const note of notes) {
      const record = this.#byKey.get(note[1]);
      switch (note[0]) {
        case NOTE_SNAPSHOT: {
          if (!record?.observers) break;
          const snapshot = this.#resolveSnapshot(record, note[2]);
          for (const observer of record.observers) this.#guard(record, () => observer.next?.(snapshot));
          break;
        }
        case NOTE_DONE: {
          if (!record) break;
          if (record.observers) {
            const snapshot = this.#resolveSnapshot(record, note[2]);
            for (const observer of record.observers) this.#guard(record, () => observer.next?.(snapshot));
          }
          this.#unregister(record);
          this.#emit('done', { id: record.id, output: note[2].output });
          break;
        }
        case NOTE_CRASHED: {
          if (!record) break;
          const error = new SessionCrashedError(record.id, fromWireError(note[2]));
          this.#crashed++;
          this.#sessionLogger(record).error({ err: error.cause }, 'session crashed');
          this.#unregister(record, error);
          this.#emit('crashed', { id: record.id, kind: record.kind, pool: record.pool, error });
          break;
        }
        case NOTE_UNDELIVERED: {
          this.#deadLetters++;
          shard.logger.warn({ sessionId: record?.id, event: (note[2] as { type?: unknown })?.type }, 'dead letter');
          this.#emit('deadLetter', { id: record?.id, event: note[2], reason: 'the session was no longer running' });
          break;
        }
      }
    }
  }

  #onShardExit(shard: Shard, cause: Error): void {
    const lost: SessionRecord[] = [];
    for (const record of this.#byKey.values()) if (record.shard === shard) lost.push(record);
    shard.logger.error({ err: cause, sessions: lost.length }, 'worker exited unexpectedly');
    for (const record of lost) {
      const error = new SessionCrashedError(record.id, cause);
      this.#crashed++;
      this.#unregister(record, error);
      this.#emit('crashed', { id: record.id, kind: record.kind, pool: record.pool, error });
    }
    this.#emit('workerExit', { shard: shard.index, error: cause, sessions: lost.map((record) => record.id) });
    void shard.destroy();
    if (this.#closed) return;
    const replacement = this.#startShard(shard.index)
      .then(() => shard.logger.info('worker replaced'))
      .catch((error: unknown) => shard.logger.error({ err: error }, 'replacement worker failed to start; shard left down'))
      .finally(() => this.#replacements.delete(shard.index));
    this.#replacements.set(shard.index, replacement);
  }

  #emit<E extends keyof RuntimeEvents>(event: E, payload: RuntimeEvents[E]): void {
    const handlers = this.#handlers.get(event);
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        (handler as Handler<E>)(payload);
      } catch (error) {
        this.#logger.error({ err: error, event }, 'a runtime event handler threw; ignored');
      }
    }
  }

  /** Runs a user callback; its error is logged, never propagated into the runtime. */
  #guard(record: SessionRecord, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#sessionLogger(record).error({ err: error }, 'a subscriber threw; ignored');
    }
  }

  #sessionLogger(record: SessionRecord): Logger {
    return record.shard.logger.child({ sessionId: record.id });
  }
}

/** One object per handle, methods on the prototype: spawning allocates no closures for it. */
class SessionHandle implements SessionRef {
  readonly #runtime: Runtime;
  readonly id: string;

  constructor(runtime: Runtime, id: string) {
    this.#runtime = runtime;
    this.id = id;
  }

  send(event: SessionEvent): Promise<void> {
    return this.#runtime.send(this.id, event);
  }

  getSnapshot(): Promise<AnyMachineSnapshot> {
    return this.#runtime.getSnapshot(this.id);
  }

  subscribe(listener: SnapshotListener | Partial<Observer<AnyMachineSnapshot>>): () => void {
    return this.#runtime.subscribe(this.id, listener);
  }

  stop(): Promise<void> {
    return this.#runtime.stop(this.id);
  }
}

function info(record: SessionRecord): SessionInfo {
  return {
    id: record.id,
    kind: record.kind,
    pool: record.pool,
    status: record.status,
    pinned: record.pins > 0,
    lastActiveAt: record.lastActiveAt,
    shard: record.shard.index,
    mailbox: record.inFlight,
  };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object whose "type" is ${typeof (value as { type?: unknown }).type}`;
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : typeof value;
}

/**
 * Starts a runtime: imports the machine modules, starts the workers, and resolves when every
 * worker has loaded every machine. Rejects with `InvalidOptionError`, `MachineModuleError` or
 * `WorkerStartError` — never hangs.
 *
 * @example
 * ```ts
 * import { createRuntime } from 'actorhost';
 *
 * const runtime = await createRuntime({
 *   machines: { counter: new URL('./counter.machine.js', import.meta.url) },
 *   workers: 2,
 * });
 * await runtime.spawn('counter', { id: 'c-1' });
 * await runtime.send('c-1', { type: 'INC' });
 * console.log((await runtime.getSnapshot('c-1')).context);
 * await runtime.shutdown();
 * ```
 */
export function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  return Runtime.create(options);
}
