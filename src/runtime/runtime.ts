/**
 * The runtime: the public facade over the shards, the registry, the supervisors and the store.
 *
 * Contract (DESIGN.md, "Semantics"):
 * - `send` resolves once the event is accepted: it passed validation, fit in the session's
 *   mailbox, is in the session's journal (on disk first with `durability: 'journal'`), and is
 *   queued in order for the session's worker. Events to one session are processed in `send`
 *   order, and exactly once in its history even if its worker dies — except the event that
 *   crashed it (poison), which goes to dead letters instead.
 * - `stop` resolves after the session has shut down (`actorhost.shutdown`, at once without a
 *   handler, by force after `shutdownTimeoutMs`) and every subprocess it started has exited.
 * - A stop or an eviction frees the id at once; when it completes, it touches the store and the
 *   registry only if no newer session has taken the id meanwhile.
 * - A session's failure, or its worker's death, is contained: the session (or the shard) is
 *   restored from its snapshot and journal; the culprit is charged a restart; past the restart
 *   intensity it is stopped and reported. Nothing reaches the caller of another session.
 * - Async methods reject; they never throw synchronously.
 */
import {
  createActor,
  type Actor,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type InspectionEvent,
  type Observer,
} from 'xstate';
import type { Logger } from 'pino';
import {
  ActorhostError,
  DuplicateSessionError,
  InvalidEventError,
  InvalidOptionError,
  MailboxFullError,
  PoolFullError,
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
  NOTE_INSPECT,
  NOTE_PERSIST,
  NOTE_SNAPSHOT,
  NOTE_UNDELIVERED,
  WATCH_OFF,
  WATCH_ON,
  createPackr,
  fromWireError,
  toWireError,
  type Note,
  type SpawnRequest,
  type SpawnResult,
  type StopResult,
  type WireSnapshot,
} from '../protocol/wire.js';
import { importMachine } from '../protocol/machine-module.js';
import { PlainCopier, describe } from '../protocol/plain-data.js';
import { addRestart } from './supervision/restart-window.js';
import { createRegistryMachine } from '../machines/registry.machine.js';
import { shardSupervisorMachine } from '../machines/shard-supervisor.machine.js';
import type { ServerLimits } from './inspector/http-guard.js';
import { LmdbStore } from './store/lmdb-store.js';
import { DEFAULT_POOL, MAX_TIMER_MS, resolveOptions, type ResolvedOptions, type RuntimeOptions } from './options.js';
import { InspectionRelay } from './inspector/inspection.js';
import { Pool, chooseEvictions } from './pools/pool.js';
import { POISONED, SessionRecord, type MailboxTotals, type SessionStatus } from './sessions/session-record.js';
import { Shard, type Mailbox } from './workers/shard.js';
import { MemoryStore, type SessionStore, type StoredSession } from './store/store.js';

export interface SpawnOptions {
  /** The session's id; unique among live and evicted sessions. */
  id: string;
  /** The pool it belongs to. Default: `default`. */
  pool?: string;
  /** The machine's input; plain serializable data. */
  input?: unknown;
  /** Shut a live (or evicted) session with this id down first instead of failing with `DuplicateSessionError`. */
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
  /** 0 for an evicted session. */
  lastActiveAt: number;
  /** -1 for an evicted session. */
  shard: number;
  /** Events accepted and not yet processed. */
  mailbox: number;
  /** Restarts inside the current restart window. */
  restarts: number;
  /** Subprocesses it started (`fromChildProcess`) that are running. */
  pids: number[];
}

export interface RuntimeStats {
  sessions: number;
  evicted: number;
  eventsAccepted: number;
  /** Events accepted and not yet processed, over all sessions. */
  mailboxed: number;
  deadLetters: number;
  crashed: number;
  restarts: number;
  evictions: number;
  pools: Record<string, { sessions: number; capacity: number; evicted: number }>;
  shards: Array<{
    shard: number;
    alive: boolean;
    /** Sessions the registry places on this shard. */
    sessions: number;
    eventsAccepted: number;
    /** As the worker reported at its latest heartbeat (every `watchdog.heartbeatMs`). */
    actors: number;
    eventsProcessed: number;
    heapUsed: number;
  }>;
}

export interface MemoryReport {
  /** The host's heap in use, in bytes. */
  host: number;
  /** Each worker's heap in use, in bytes, by shard index. */
  shards: number[];
  total: number;
}

export interface RuntimeEvents {
  /** A session failed for good: past its restart intensity, or its shard could not be recovered. */
  crashed: { id: string; kind: string; pool: string; error: Error };
  /** A session failed and was restarted from its snapshot and journal. */
  restarted: { id: string; error: Error };
  /** A session reached a final state by itself. */
  done: { id: string; output: unknown };
  /** An event no session processed: poison, or sent to a session that ended. */
  deadLetter: { id: string | undefined; event: unknown; reason: string };
  /** A worker ended without being asked to; its sessions are being restored. */
  workerExit: { shard: number; error: Error; sessions: string[]; culprit: string | undefined };
  /**
   * Eviction was decided; the session's shutdown starts after the handlers return, so host-side
   * cleanup runs while its subprocesses still live. `done` settles when the shutdown is over.
   */
  evicted: { id: string; pool: string; done: Promise<void> };
}

type Handler<E extends keyof RuntimeEvents> = (payload: RuntimeEvents[E]) => void;
type StopMode = 'stop' | 'replace' | 'evict' | 'shutdown';

/** An incarnation on its way out; the id is already free for a new session. */
interface Leaving {
  record: SessionRecord;
  mode: StopMode;
  /** A new session took the id (`replace`): this one's end must not touch the id's store entry. */
  superseded: boolean;
  done: Promise<void>;
}

/** The inspector server's read-only access to the runtime; module-private to actorhost's files. */
export const INSPECTOR_API = Symbol('actorhost.inspectorApi');

export interface InspectorApi {
  stats(): RuntimeStats;
  /** A page of sessions (evicted ones included), filtered, without counting as activity. */
  page(options: { offset: number; limit: number; pool?: string; status?: SessionStatus; search?: string }): { rows: SessionInfo[]; total: number };
  /** The session's state value, context and status, without counting as activity. */
  peekSnapshot(id: string): Promise<{ value: unknown; context: unknown; status: string } | undefined>;
  /** The machine's states, for drawing its statechart. */
  chart(kind: string): ChartNode | undefined;
  /** Snapshots of a live session (no activity); returns the unsubscribe function. */
  watch(id: string, listener: (snapshot: AnyMachineSnapshot) => void): (() => void) | undefined;
  /** Every event accepted for `id`, as it is accepted; returns the function that stops it. */
  tapEvents(id: string, listener: (event: unknown) => void): () => void;
  recentFailures(): Array<{ id: string; at: number; kind: 'crashed' | 'restarted' | 'deadLetter'; message: string }>;
}

export interface InspectorOptions {
  /** Default: 0 (any free port). */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Connection cap and timeouts against idle and slow clients (defaults in `ServerLimits`). */
  limits?: ServerLimits;
}

export interface ChartNode {
  key: string;
  type: string;
  states: ChartNode[];
}

const RESOLVED = Promise.resolve();
const SPAWN_OPTIONS = new Set(['id', 'pool', 'input', 'replace']);
/**
 * Ids are store keys: LMDB keys are at most 1,978 bytes, and a journal key is the id plus 12.
 * 512 bytes leaves room for any id scheme (a UUID is 36) and keeps keys cheap to compare.
 */
const MAX_ID_BYTES = 512;
const STANDBY_DELAY_MS = 1_000;
const MAX_STANDBY_DEFERRALS = 30;
/** Watch markers are never counted against a mailbox. */
const UNCOUNTED: Mailbox = { release() {} };

export class Runtime {
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #machines = new Map<string, AnyStateMachine>();
  #store: SessionStore = new MemoryStore();
  readonly #shards: Shard[] = [];
  readonly #supervisors: Array<Actor<typeof shardSupervisorMachine>> = [];
  readonly #recoveries = new Map<number, Promise<void>>();
  /** A started, idle worker that recovery promotes instead of booting one (`standbyWorker`). */
  #standby: Promise<Shard | undefined> | undefined;
  #standbyTimer: NodeJS.Timeout | undefined;
  #standbyDeferrals = 0;
  readonly #unattributedExits: number[][] = [];
  /** Live sessions (starting, active, restarting) by id: the id's current owner. */
  readonly #byId = new Map<string, SessionRecord>();
  /** Every incarnation a worker may still speak of, by its current key. */
  readonly #byKey = new Map<number, SessionRecord>();
  /** Keys retired by a restart: their late messages are stale (their events are replayed). */
  readonly #retiredKeys = new Map<number, SessionRecord>();
  readonly #leaving = new Map<string, Leaving>();
  readonly #stopping = new Map<SessionRecord, Promise<void>>();
  /** Evicted (or not yet resumed) sessions in the store. */
  readonly #passive = new Map<string, { kind: string; pool: string }>();
  readonly #pools = new Map<string, Pool<SessionRecord>>();
  readonly #registry: Actor<ReturnType<typeof createRegistryMachine<SessionRecord>>>;
  readonly #handlers = new Map<keyof RuntimeEvents, Set<(payload: never) => void>>();
  readonly #packr = createPackr();
  readonly #copier = new PlainCopier();
  readonly #inspection: InspectionRelay | undefined;
  readonly #totals: MailboxTotals = { mailboxed: 0 };
  #nextKey = 1;
  #closed = false;
  #shutdown: Promise<void> | undefined;
  #deadLetters = 0;
  /** Every event accepted since start: a running total, whatever happens to workers. */
  #eventsAccepted = 0;
  /** Inspector taps: events accepted per session id (only while an inspector watches one). */
  #eventTaps: Map<string, Set<(event: unknown) => void>> | undefined;
  readonly #failures: Array<{ id: string; at: number; kind: 'crashed' | 'restarted' | 'deadLetter'; message: string }> = [];
  #inspectorServer: { close(): Promise<void> } | undefined;
  #crashed = 0;
  #restarts = 0;
  #evictions = 0;

  private constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#now = options.now;
    for (const pool of options.pools.values()) {
      this.#pools.set(pool.name, new Pool<SessionRecord>(pool.name, pool.capacity, pool.recencyFloorMs));
    }
    const observer = options.inspect.observer;
    this.#inspection = observer ? new InspectionRelay(observer, options.inspect.settings) : undefined;
    this.#registry = createActor(createRegistryMachine<SessionRecord>(), {
      ...this.#hostInspect(),
      input: {
        pools: this.#pools,
        now: this.#now,
        evict: (record) => this.#evict(record),
        overCapacity: (pool) =>
          this.#logger.warn(
            { pool: pool.name, size: pool.size, capacity: pool.capacity },
            'pool over capacity: every eviction candidate is pinned, busy, or inside the recency floor',
          ),
      },
    });
    this.#registry.subscribe({ error: (error) => this.#logger.error({ err: error }, 'registry failed') });
    this.#registry.start();
  }

  /** @internal Use `createRuntime`. */
  static async create(options: RuntimeOptions): Promise<Runtime> {
    const runtime = new Runtime(resolveOptions(options));
    await runtime.#start();
    return runtime;
  }

  async #start(): Promise<void> {
    const { machines, workers, store } = this.#options;
    for (const [kind, url] of machines) this.#machines.set(kind, await importMachine(url, this.#options.startTimeoutMs));
    this.#store = store === 'memory' ? new MemoryStore() : await LmdbStore.open(store.path, (error) => this.#logger.error({ err: error }, 'a store write failed'));
    this.#journaling = this.#store.durable && this.#options.durability === 'journal';
    this.#snapshotting = this.#store.durable && this.#options.durability !== 'none';
    const started = await Promise.allSettled(Array.from({ length: workers }, (_, index) => this.#startShard(index)));
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) {
      await Promise.all(this.#shards.map((shard) => shard.destroy()));
      await this.#store.close();
      this.#registry.stop();
      throw failure.reason;
    }
    for (let index = 0; index < workers; index++) this.#supervise(index);
    // The standby boots a moment after start, not during the burst of spawns that usually
    // follows it (measured: booting it at once cut the first 10,000 spawns' rate by a third).
    this.#standbyTimer = setTimeout(() => this.#prepareStandby(), STANDBY_DELAY_MS);
    this.#standbyTimer.unref();
    this.#resume();
    this.#logger.info({ workers, machines: [...machines.keys()], resumed: this.#passive.size }, 'actorhost runtime started');
  }

  async #startShard(index: number): Promise<Shard> {
    const shard = await this.#bootShard(index);
    this.#shards[index] = shard;
    return shard;
  }

  #bootShard(index: number): Promise<Shard> {
    return Shard.start({
      index,
      machines: this.#options.machines,
      resourceLimits: this.#options.resourceLimits,
      snapshotEvery: this.#options.snapshotEvery,
      startTimeoutMs: this.#options.startTimeoutMs,
      inspect: this.#options.inspect.settings,
      watchdog: this.#options.watchdog,
      logger: this.#logger,
      handlers: {
        onNotes: (from, notes) => this.#onNotes(from, notes),
        onExit: (from, cause) => this.#supervisors[from.index]?.send({ type: 'worker.exited', cause }),
      },
      childProcesses: {
        spawned: (key, pid) => this.#onChildSpawned(key, pid),
        exited: (key, pid) => (this.#byKey.get(key) ?? this.#retiredKeys.get(key))?.pids?.delete(pid),
      },
    });
  }

  /** Boots the standby worker in the background; a failure only costs recovery its head start. */
  #prepareStandby(): void {
    clearTimeout(this.#standbyTimer);
    if (!this.#options.standbyWorker || this.#closed || this.#standby) return;
    // Booting a worker costs a core for ~70 ms: on 2 cores that shows as a dip in a loaded host's
    // throughput (seen in the benchmark's charts). So it waits for a quiet moment, within reason.
    if (this.#totals.mailboxed > 0 && this.#standbyDeferrals++ < MAX_STANDBY_DEFERRALS) {
      this.#standbyTimer = setTimeout(() => this.#prepareStandby(), STANDBY_DELAY_MS);
      this.#standbyTimer.unref();
      return;
    }
    this.#standbyDeferrals = 0;
    this.#standby = this.#bootShard(-1)
      .then((shard) => {
        void this.#warmUp(shard);
        return shard;
      })
      .catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'standby worker failed to start; recovery will boot workers on demand');
      return undefined;
    });
  }

  /** Warms the standby in small steps, so a recovery never waits long behind a step. */
  async #warmUp(shard: Shard): Promise<void> {
    for (let step = 0; step < 20 && shard.index === -1 && shard.alive; step++) {
      // Only while the host is quiet: warming is worth less than the load it would slow down.
      while (this.#totals.mailboxed > 0 && shard.index === -1 && !this.#closed) await new Promise((resolve) => setTimeout(resolve, 200));
      if (shard.index !== -1 || this.#closed) return;
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
      this.#shards[index] = standby;
      return standby;
    }
    void standby?.destroy();
    return this.#startShard(index);
  }

  #supervise(index: number): void {
    const supervisor = createActor(shardSupervisorMachine, {
      ...this.#hostInspect(),
      input: {
        shard: index,
        recover: (cause) => this.#recoverShard(index, cause),
        giveUp: (cause) => this.#shardDown(index, cause),
      },
    });
    supervisor.subscribe({ error: (error) => this.#logger.error({ err: error, shard: index }, 'shard supervisor failed') });
    this.#supervisors[index] = supervisor.start();
  }

  /** The host's own actors (registry, supervisors) are inspected like the sessions. */
  #hostInspect(): { inspect?: (event: InspectionEvent) => void } {
    const relay = this.#inspection;
    return relay ? { inspect: (event) => relay.emit(event) } : {};
  }

  /** Sessions in a durable store from before this host started: passive now, or restored now. */
  #resume(): void {
    for (const { id, kind, pool } of this.#store.list()) {
      if (!this.#machines.has(kind) || !this.#pools.has(pool)) {
        this.#logger.warn({ sessionId: id, kind, pool }, 'stored session of an unknown machine kind or pool; left in the store');
        continue;
      }
      this.#passive.set(id, { kind, pool });
      if (this.#options.resume === 'eager') {
        const restored = this.#reactivate(id, { allowOverCapacity: true });
        if (restored instanceof Error) this.#logger.error({ err: restored, sessionId: id }, 'could not resume a stored session');
      }
    }
  }

  /** Every accepted event goes to the store's journal (set once the store is open). */
  #journaling = false;
  /** Snapshots (and session metadata) go to the store. */
  #snapshotting = false;

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  /** Starts a session of machine `kind` on the least-loaded worker; it stays there. */
  async spawn(kind: string, options: SpawnOptions): Promise<SessionRef> {
    this.#assertOpen('spawn');
    if (typeof kind !== 'string' || !this.#machines.has(kind)) throw new UnknownMachineError(typeof kind === 'string' ? kind : describe(kind), [...this.#machines.keys()]);
    const { id, pool, input, replace } = this.#readSpawnOptions(options);
    await this.#claimId(id, replace);
    this.#assertOpen('spawn');
    // Placement and registration happen in one synchronous step, so concurrent spawns see each
    // other's load and cannot both take the id.
    const shard = this.#leastLoadedShard() ?? (await this.#anyRecoveredShard());
    if (this.#byId.has(id) || this.#passive.has(id)) throw new DuplicateSessionError(id);
    const record = new SessionRecord({ id, key: this.#nextKey++, kind, pool, input, shard, now: this.#now(), totals: this.#totals });
    this.#register(record);
    if (this.#snapshotting) {
      try {
        this.#store.begin(id, { kind, pool, input });
      } catch (error) {
        // The store refused the session: it never started, and nothing of it is left behind.
        this.#unregister(record, error as Error);
        throw new InvalidOptionError(`spawn: the store could not keep session ${describe(id)}: ${(error as Error).message}`);
      }
    }
    // A decision is due only when the pool is over capacity: no machine event per spawn otherwise.
    const joined = record.pooledIn!;
    if (joined.size > joined.capacity) this.#registry.send({ type: 'session.joined', pool });
    const failure = await this.#launch(record);
    if (failure) {
      this.#unregister(record, failure);
      if (this.#owns(record)) void this.#store.delete(id);
      throw failure;
    }
    return new SessionHandle(this, id);
  }

  /** The checked options; whatever reading them throws (a Proxy, a getter) is an `InvalidOptionError`. */
  #readSpawnOptions(options: SpawnOptions): { id: string; pool: string; input: unknown; replace: boolean } {
    try {
      return this.#checkSpawnOptions(options);
    } catch (error) {
      if (error instanceof ActorhostError) throw error;
      throw new InvalidOptionError(`spawn options could not be read (${error instanceof Error ? error.message : describe(error)}); pass a plain object`);
    }
  }

  #checkSpawnOptions(options: SpawnOptions): { id: string; pool: string; input: unknown; replace: boolean } {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(`spawn options must be an object such as { id: 'conv-1' } (got ${typeof options})`);
    }
    for (const key of Object.keys(options)) {
      if (!SPAWN_OPTIONS.has(key)) throw new InvalidOptionError(`spawn options.${key} is not a spawn option; known: ${[...SPAWN_OPTIONS].join(', ')}`);
    }
    const { id, pool = DEFAULT_POOL, input, replace } = options;
    if (typeof id !== 'string' || id.length === 0) {
      throw new InvalidOptionError(`spawn options.id must be a non-empty string (got ${describe(id)})`);
    }
    if (id.includes('\u0000')) {
      throw new InvalidOptionError('spawn options.id must not contain the NUL character (\\u0000); the store orders keys by it');
    }
    if (!(id as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw new InvalidOptionError('spawn options.id must be well-formed text (it has a lone surrogate)');
    }
    const idBytes = Buffer.byteLength(id);
    if (idBytes > MAX_ID_BYTES) {
      throw new InvalidOptionError(`spawn options.id is ${idBytes} bytes (UTF-8); the limit is ${MAX_ID_BYTES}: use a shorter id, such as a hash of it`);
    }
    if (typeof pool !== 'string' || !this.#pools.has(pool)) {
      throw new InvalidOptionError(`spawn options.pool ${describe(pool)} is not a pool; known: ${[...this.#pools.keys()].join(', ')}`);
    }
    if (replace !== undefined && typeof replace !== 'boolean') {
      throw new InvalidOptionError(`spawn options.replace must be true or false (got ${describe(replace)})`);
    }
    const copy = this.#copier.copy(input, 'input', this.#options.maxEventBytes);
    if (copy === undefined && input !== undefined) {
      const failure = this.#copier.failure;
      throw new InvalidOptionError(
        failure?.kind === 'too-large'
          ? `spawn options.input is more than ${this.#options.maxEventBytes} bytes encoded; the limit is options.maxEventBytes`
          : `spawn options.${failure?.message ?? 'input is not plain data'}`,
      );
    }
    return { id, pool, input: copy, replace: replace === true };
  }

  /** Frees `id` for a new session: refuses, or with `replace` shuts the holder down first. */
  async #claimId(id: string, replace: boolean): Promise<void> {
    const live = this.#byId.get(id);
    if (live) {
      if (!replace) throw new DuplicateSessionError(id);
      await this.#stopRecord(live, 'replace');
    }
    const leaving = this.#leaving.get(id);
    if (leaving?.mode === 'evict' && !leaving.superseded) {
      if (!replace) throw new DuplicateSessionError(id, 'is being evicted');
      leaving.superseded = true;
    }
    if (this.#passive.has(id)) {
      if (!replace) throw new DuplicateSessionError(id, 'is evicted (send to it to reactivate it)');
      this.#passive.delete(id);
      await this.#store.delete(id);
    }
  }

  /** Queues `event` for the session; resolves once it is accepted (see the contract above). */
  send(id: string, event: SessionEvent): Promise<void> {
    try {
      return this.#send(id, event);
    } catch (error) {
      // Nothing of the caller's may make `send` throw: a throwing getter, a Proxy, a symbol id.
      return Promise.reject(error instanceof ActorhostError ? error : new InvalidEventError(`it could not be read (${error instanceof Error ? error.message : describe(error)}); events must be plain data`));
    }
  }

  #send(id: string, event: SessionEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new RuntimeClosedError('send'));
    checkId('send', id);
    if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
      return Promise.reject(
        new InvalidEventError(`expected an object with a string "type", such as { type: 'USER_MESSAGE' } (got ${describeValue(event)})`),
      );
    }
    const copy = this.#checkEvent(event);
    const bytes = this.#copier.bytes;
    let record = this.#byId.get(id);
    if (record === undefined) {
      const leaving = this.#leaving.get(id);
      // The copy waits, not the caller's object: what was checked is what is sent.
      if (leaving?.mode === 'evict' && !leaving.superseded) return leaving.done.then(() => this.#accept(id, copy));
      if (leaving) return Promise.reject(new UnknownSessionError(id, 'it is stopping'));
      if (!this.#passive.has(id)) return Promise.reject(new UnknownSessionError(id));
      const reactivated = this.#reactivate(id);
      if (reactivated instanceof Error) {
        this.#deadLetter(id, copy, reactivated.message);
        return Promise.reject(reactivated);
      }
      record = reactivated;
    }
    return this.#enqueue(record, copy, bytes);
  }

  /** A checked copy of `event`, within `maxEventBytes`; throws `InvalidEventError`. */
  #checkEvent(event: SessionEvent): SessionEvent {
    const limit = this.#options.maxEventBytes;
    const copy = this.#copier.copy(event, 'event', limit);
    const failure = this.#copier.failure;
    const tooLarge = (size: string) =>
      new InvalidEventError(`"${event.type}" is ${size} bytes encoded; the limit is options.maxEventBytes = ${limit}. Send a reference to large data instead.`);
    if (copy === undefined) throw failure?.kind === 'too-large' ? tooLarge(`more than ${limit}`) : new InvalidEventError(failure?.message ?? 'not plain data');
    // The copier's estimate is an upper bound: encode only when it might be over the limit.
    if (this.#copier.bytes > limit) {
      const size = this.#packr.pack(copy).length;
      if (size > limit) throw tooLarge(String(size));
    }
    return copy;
  }

  /** A checked event for a session that was being evicted when it was sent. */
  #accept(id: string, copy: SessionEvent): Promise<void> {
    try {
      return this.#send(id, copy);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #enqueue(record: SessionRecord, copy: SessionEvent, bytes: number): Promise<void> {
    const { id } = record;
    const capacity = this.#options.mailboxCapacity;
    if (record.inFlight >= capacity) return Promise.reject(new MailboxFullError(id, capacity));
    // `bytes`: the copier's upper-bound estimate of the event's size. An empty mailbox takes any
    // event within maxEventBytes.
    const maxBytes = this.#options.mailboxMaxBytes;
    if (record.inFlightBytes + bytes > maxBytes && record.inFlight > 0) {
      return Promise.reject(new MailboxFullError(id, capacity, { waiting: record.inFlightBytes, maxBytes }));
    }
    const seq = record.journalEvent(copy, bytes);
    this.#eventsAccepted++;
    this.#touch(record);
    if (this.#eventTaps) this.#eventTaps.get(id)?.forEach((tap) => tap(copy));
    const kept = this.#journaling ? this.#store.append(id, seq, copy) : RESOLVED;
    // A session in #byId is starting, active or restarting (a stopping one has left it).
    if (record.status === 'active') record.shard.enqueue(record.key, copy, record);
    else (record.pending ??= []).push(copy);
    return kept;
  }

  /** The session's current snapshot, after every event accepted before this call. */
  async getSnapshot(id: string): Promise<AnyMachineSnapshot> {
    this.#assertOpen('getSnapshot');
    checkId('getSnapshot', id);
    const record = this.#liveOrReactivated(id);
    this.#touch(record);
    for (;;) {
      await record.settled();
      if (record.ended) throw record.endCause ?? new UnknownSessionError(id, 'it has stopped');
      const key = record.key;
      let answer: Uint8Array | 'failed' | undefined;
      try {
        answer = await record.shard.call<Uint8Array | 'failed' | undefined>((api) => api.snapshot(key));
      } catch (error) {
        // Its worker died under the call: wait for the restore, unless there is none coming.
        if (record.key === key && record.status !== 'restarting' && record.shard.alive) throw error;
        if (record.key === key && !record.startup) await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      // A restart between the two steps: ask the new incarnation.
      if (record.key !== key || record.status === 'restarting') continue;
      if (answer === 'failed') {
        // Its state could not be encoded, so it failed; the crash note is on its way (on the data
        // port, which is not ordered with this answer): wait for the restart, or its end.
        await this.#untilRekeyed(record, key);
        continue;
      }
      if (answer === undefined) throw record.endCause ?? new UnknownSessionError(id, 'it has stopped');
      return this.#resolveSnapshot(record, this.#packr.unpack(answer) as WireSnapshot);
    }
  }

  /** Waits until the session `key` named has been restarted under a new key, or has ended. */
  async #untilRekeyed(record: SessionRecord, key: number): Promise<void> {
    for (let waited = 0; record.key === key && !record.ended; waited += 10) {
      if (waited > this.#options.watchdog.hangTimeoutMs) throw new SessionCrashedError(record.id, new Error('it failed and was not restarted in time'));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** A read-only view of the session, or `undefined`. Does not count as activity. */
  peek(id: string): SessionInfo | undefined {
    checkId('peek', id);
    const record = this.#byId.get(id) ?? this.#leaving.get(id)?.record;
    if (record) return info(record);
    const passive = this.#passive.get(id);
    return passive && passiveInfo(id, passive);
  }

  /** Operators' listing, optionally filtered; evicted sessions included. Does not count as activity. */
  list(filter: { pool?: string; status?: SessionStatus } = {}): SessionInfo[] {
    const result: SessionInfo[] = [];
    const wanted = (pool: string, status: SessionStatus) =>
      (filter.pool === undefined || pool === filter.pool) && (filter.status === undefined || status === filter.status);
    for (const record of this.#byId.values()) if (wanted(record.pool, record.status)) result.push(info(record));
    for (const { record } of this.#leaving.values()) if (wanted(record.pool, record.status)) result.push(info(record));
    for (const [id, passive] of this.#passive) if (wanted(passive.pool, 'evicted')) result.push(passiveInfo(id, passive));
    return result;
  }

  /**
   * Calls `listener` with every snapshot the session reaches from now on: after each event sent
   * after this call. An observer's `error` hears of a crash, `complete` of the session's end.
   * Returns the unsubscribe function.
   */
  subscribe(id: string, listener: SnapshotListener | Partial<Observer<AnyMachineSnapshot>>): () => void {
    this.#assertOpen('subscribe');
    checkId('subscribe', id);
    if (typeof listener !== 'function' && (listener === null || typeof listener !== 'object')) {
      throw new InvalidOptionError(`subscribe: the listener must be a function or an observer { next, error, complete } (got ${describe(listener)})`);
    }
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
    if (typeof predicate !== 'function') {
      return Promise.reject(new InvalidOptionError(`waitFor: the predicate must be a function (got ${describe(predicate)})`));
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || (timeoutMs > MAX_TIMER_MS && timeoutMs !== Infinity)) {
      return Promise.reject(
        new InvalidOptionError(`waitFor: timeoutMs must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, or Infinity (got ${describe(timeoutMs)})`),
      );
    }
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

  /** Refcounted pin: a pinned session is never evicted. The returned release is idempotent. */
  pin(id: string): () => void {
    checkId('pin', id);
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
    checkId('stop', id);
    const record = this.#byId.get(id);
    if (record) return this.#stopRecord(record, 'stop');
    const leaving = this.#leaving.get(id);
    if (leaving) return leaving.done;
    if (this.#passive.has(id)) {
      this.#passive.delete(id);
      await this.#store.delete(id);
      return;
    }
    throw new UnknownSessionError(id);
  }

  /** Changes a pool's capacity; shrinking evicts down to it under the usual rules. */
  setPoolCapacity(pool: string, capacity: number): void {
    this.#assertOpen('setPoolCapacity');
    if (!this.#pools.has(pool)) {
      throw new InvalidOptionError(`setPoolCapacity: "${pool}" is not a pool; known: ${[...this.#pools.keys()].join(', ')}`);
    }
    if (capacity !== Infinity && (!Number.isSafeInteger(capacity) || capacity < 1)) {
      throw new InvalidOptionError(`setPoolCapacity: capacity must be a positive integer (got ${String(capacity)})`);
    }
    this.#registry.send({ type: 'pool.resized', pool, capacity });
  }

  #stopRecord(record: SessionRecord, mode: StopMode): Promise<void> {
    const running = this.#stopping.get(record);
    if (running) return running;
    record.status = 'stopping';
    if (this.#byId.get(record.id) === record) this.#byId.delete(record.id);
    this.#unpool(record);
    const leaving: Leaving = { record, mode, superseded: false, done: RESOLVED };
    this.#leaving.set(record.id, leaving);
    const done = this.#shutDownSession(record, leaving).finally(() => {
      this.#stopping.delete(record);
      if (this.#leaving.get(record.id) === leaving) this.#leaving.delete(record.id);
    });
    leaving.done = done;
    this.#stopping.set(record, done);
    return done;
  }

  async #shutDownSession(record: SessionRecord, leaving: Leaving): Promise<void> {
    await record.settled();
    const keep = leaving.mode === 'evict' || (leaving.mode === 'shutdown' && this.#snapshotting);
    let result: StopResult | undefined;
    if (!record.ended) {
      const log = this.#sessionLogger(record);
      try {
        result = await record.shard.stop(record.key, this.#options.shutdownTimeoutMs, keep);
        if (result.outcome === 'failed') {
          log.error({ err: result.error && fromWireError(result.error) }, 'session shutdown threw; it is stopped');
        } else if (result.outcome === 'forced') {
          log.warn({ timeoutMs: this.#options.shutdownTimeoutMs }, 'session did not shut down in time; stopped by force');
        }
      } catch (error) {
        log.warn({ err: error }, 'worker ended while the session was shutting down');
      }
    }
    if (record.pids?.size) await record.shard.childProcesses.kill(record.pids);
    // The id may belong to a newer session by now: then its store entry is that session's.
    const owned = !leaving.superseded && this.#owns(record);
    if (owned) await this.#settleStore(record, leaving.mode, result);
    this.#unregister(record);
  }

  /** What the store keeps of a session that has shut down. */
  async #settleStore(record: SessionRecord, mode: StopMode, result: StopResult | undefined): Promise<void> {
    const { id, kind, pool, input } = record;
    const keep = mode === 'evict' || (mode === 'shutdown' && this.#snapshotting);
    if (!keep) {
      await this.#store.delete(id);
      return;
    }
    // The worker's snapshot covers everything (the stop waited for the mailbox to drain); without
    // one (the worker died meanwhile), the record's own snapshot and journal still do.
    const state = result?.snapshot
      ? { snapshot: new Uint8Array(result.snapshot), snapshotSeq: result.seq ?? record.seq, journal: [] }
      : { snapshot: record.snapshot, snapshotSeq: record.snapshotSeq, journal: record.replay() };
    await this.#store.save(id, { kind, pool, input }, state, mode === 'evict');
    if (mode === 'evict') this.#passive.set(id, { kind, pool });
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
    const mailboxed = this.#totals.mailboxed;
    const evictedByPool = new Map<string, number>();
    for (const { pool } of this.#passive.values()) evictedByPool.set(pool, (evictedByPool.get(pool) ?? 0) + 1);
    const pools: RuntimeStats['pools'] = {};
    for (const [name, pool] of this.#pools) {
      pools[name] = { sessions: pool.size, capacity: pool.capacity, evicted: evictedByPool.get(name) ?? 0 };
    }
    return {
      sessions: this.#byId.size,
      evicted: this.#passive.size,
      eventsAccepted: this.#eventsAccepted,
      mailboxed,
      deadLetters: this.#deadLetters,
      crashed: this.#crashed,
      restarts: this.#restarts,
      evictions: this.#evictions,
      pools,
      shards: this.#shards.map((shard) => ({
        shard: shard.index,
        alive: shard.alive,
        sessions: shard.sessions,
        eventsAccepted: shard.eventsAccepted,
        actors: shard.lastStats.sessions,
        eventsProcessed: shard.lastStats.eventsProcessed,
        heapUsed: shard.lastStats.heapUsed,
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

  /**
   * Serves actorhost's inspector page: shards, pools, every session, live. Binds 127.0.0.1 by
   * default; the returned URL carries a random access token, and requests without it get 401.
   * Closed by `shutdown()`.
   */
  async serveInspector(options: InspectorOptions = {}): Promise<{ url: string; token: string; close(): Promise<void> }> {
    this.#assertOpen('serveInspector');
    const { serveInspector } = await import('./inspector/inspector-server.js');
    const server = await serveInspector(this[INSPECTOR_API](), options, this.#logger);
    const previous = this.#inspectorServer;
    this.#inspectorServer = server;
    await previous?.close();
    return server;
  }

  /** @internal The inspector server's view. */
  [INSPECTOR_API](): InspectorApi {
    return {
      stats: () => this.stats(),
      page: ({ offset, limit, pool, status, search }) => {
        // One pass, no allocation for rows off the page: the inspector asks twice a second,
        // and at 100,000 sessions building every row would stall the host.
        const rows: SessionInfo[] = [];
        let total = 0;
        const wanted = (id: string, rowPool: string, rowStatus: SessionStatus) =>
          (!pool || rowPool === pool) && (!status || rowStatus === status) && (!search || id.includes(search));
        /** Counts a matching row; true when it falls on the page. */
        const onPage = () => total++ >= offset && rows.length < limit;
        for (const record of this.#byId.values()) if (wanted(record.id, record.pool, record.status) && onPage()) rows.push(info(record));
        for (const { record } of this.#leaving.values()) if (wanted(record.id, record.pool, record.status) && onPage()) rows.push(info(record));
        for (const [id, passive] of this.#passive) if (wanted(id, passive.pool, 'evicted') && onPage()) rows.push(passiveInfo(id, passive));
        return { rows, total };
      },
      peekSnapshot: async (id) => {
        const record = this.#byId.get(id);
        if (!record || record.status !== 'active') return undefined;
        const answer = await record.shard.call<Uint8Array | 'failed' | undefined>((api) => api.snapshot(record.key)).catch(() => undefined);
        if (!(answer instanceof Uint8Array)) return undefined;
        const wire = this.#packr.unpack(answer) as WireSnapshot;
        return { value: wire.value, context: wire.context, status: wire.status };
      },
      chart: (kind) => {
        const machine = this.#machines.get(kind);
        return machine && chartOf(machine.root as unknown as StateNodeLike, machine.root.key);
      },
      watch: (id, listener) => (this.#byId.has(id) ? this.subscribe(id, listener) : undefined),
      tapEvents: (id, listener) => {
        const taps = (this.#eventTaps ??= new Map());
        let forId = taps.get(id);
        if (!forId) taps.set(id, (forId = new Set()));
        forId.add(listener);
        return () => {
          forId.delete(listener);
          if (forId.size === 0) taps.delete(id);
          if (taps.size === 0) this.#eventTaps = undefined;
        };
      },
      recentFailures: () => [...this.#failures],
    };
  }

  /** Shuts every session down in parallel, then closes every worker and the store. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutDown();
    return this.#shutdown;
  }

  async #shutDown(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#standbyTimer);
    await this.#inspectorServer?.close();
    const stops = [...this.#byId.values()].map((record) => this.#stopRecord(record, 'shutdown'));
    await Promise.allSettled([...stops, ...this.#stopping.values()]);
    await Promise.allSettled([...this.#recoveries.values()]);
    for (const supervisor of this.#supervisors) supervisor.stop();
    this.#registry.stop();
    await Promise.allSettled(this.#shards.map((shard) => shard.close(this.#options.shutdownTimeoutMs)));
    await (await this.#standby)?.destroy();
    await this.#store.close();
    this.#logger.info('actorhost runtime shut down');
  }

  // ── starting and restoring ──────────────────────────────────────────────────────────────────

  /** First start of a spawned session. Resolves with the failure, if any. */
  async #launch(record: SessionRecord): Promise<SessionCrashedError | undefined> {
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
    if (!failure) this.#flushPending(record);
    return failure;
  }

  /**
   * Restores a session from its snapshot and journal under a fresh key, on `record.shard`. A
   * replayed event that fails it is poison: dropped, dead-lettered, the session charged a
   * restart, and the restore tried again without it. If the worker dies meanwhile, the shard's
   * recovery restores the session again.
   */
  #restore(record: SessionRecord): Promise<void> {
    const run = (async () => {
      for (;;) {
        const request = this.#restoreRequest(record);
        let result: SpawnResult;
        try {
          result = await record.shard.spawn(request);
        } catch (error) {
          // Its worker died: the shard's recovery restores it. Any other failure of the call is
          // this session's to bear — never a session left 'restarting' for ever.
          if (!record.shard.alive || record.ended || record.key !== request.key) return;
          result = toWireError(error);
        }
        if (record.ended || record.key !== request.key) return;
        if (result === null) {
          if (record.status === 'restarting') record.status = 'active';
          this.#flushPending(record);
          return;
        }
        if (!this.#charge(record, fromWireError(result), result.poisonSeq)) return;
        this.#rekey(record);
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
    };
  }

  /**
   * Restart. A session failed. Drops its poison event, if any; charges it a restart. Returns
   * whether it may be restored; if not, it is stopped and reported `crashed`.
   */
  #charge(record: SessionRecord, error: Error, poisonSeq: number | undefined): boolean {
    if (poisonSeq) {
      const event = record.poison(poisonSeq);
      if (event !== POISONED) {
        if (this.#snapshotting) this.#store.drop(record.id, poisonSeq);
        this.#deadLetter(record.id, event, `it crashed the session (a poison message, not replayed): ${error.message}`);
      }
    }
    const { allowed, history } = addRestart(record.restarts ?? [], this.#now(), this.#options.restart);
    record.restarts = history;
    if (!allowed) {
      this.#fail(record, error);
      return false;
    }
    this.#restarts++;
    this.#sessionLogger(record).warn({ err: error, restarts: history.length }, 'session failed; restarting it from its snapshot and journal');
    this.#emit('restarted', { id: record.id, error });
    return true;
  }

  /** A new incarnation: a fresh key, so nothing still addressed to the old one can reach it. */
  #rekey(record: SessionRecord): void {
    this.#retiredKeys.set(record.key, record);
    this.#byKey.delete(record.key);
    record.key = this.#nextKey++;
    this.#byKey.set(record.key, record);
    if (record.status !== 'stopping') record.status = 'restarting';
  }

  /** The session failed for good. */
  #fail(record: SessionRecord, cause: Error): void {
    const error = cause instanceof SessionCrashedError ? cause : new SessionCrashedError(record.id, cause);
    this.#crashed++;
    this.#sessionLogger(record).error({ err: cause }, 'session crashed; not restarted');
    if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
    const owned = this.#owns(record);
    this.#unregister(record, error);
    if (owned) void this.#store.delete(record.id);
    this.#emit('crashed', { id: record.id, kind: record.kind, pool: record.pool, error });
  }

  /** Brings an evicted or stored session back (`send`, `getSnapshot`), if its pool has room. */
  #reactivate(id: string, { allowOverCapacity = false } = {}): SessionRecord | Error {
    const passive = this.#passive.get(id)!;
    const pool = this.#pools.get(passive.pool)!;
    if (!allowOverCapacity && !this.#makeRoom(pool)) return new PoolFullError(id, pool.name, pool.size, pool.capacity);
    const stored = this.#store.load(id);
    this.#passive.delete(id);
    if (!stored) return new UnknownSessionError(id, 'its stored state is gone');
    const shard = this.#leastLoadedShard();
    if (!shard) {
      this.#passive.set(id, passive);
      return new WorkerStartError(-1, new Error('no worker is alive to reactivate the session on'));
    }
    const record = this.#recordFromStore(id, stored, shard);
    this.#register(record);
    record.status = 'restarting';
    void this.#restore(record);
    return record;
  }

  #recordFromStore(id: string, stored: StoredSession, shard: Shard): SessionRecord {
    const { kind, pool, input } = stored;
    const record = new SessionRecord({ id, key: this.#nextKey++, kind, pool, input, shard, now: this.#now(), totals: this.#totals });
    record.snapshot = stored.snapshot;
    record.snapshotSeq = stored.snapshotSeq;
    record.seq = stored.snapshotSeq;
    for (let index = 0; index < stored.journal.length; index += 2) {
      const seq = stored.journal[index] as number;
      // A gap in the stored journal is an event dropped as poison.
      for (; record.seq < seq - 1; record.seq++) record.journal.push(POISONED);
      record.journal.push(stored.journal[index + 1]);
      record.seq = seq;
    }
    return record;
  }

  /** Room for one more session in `pool`, evicting if it must; false if every candidate is protected. */
  #makeRoom(pool: Pool<SessionRecord>): boolean {
    const needed = pool.size + 1 - pool.capacity;
    if (needed <= 0) return true;
    const victims = chooseEvictions(pool, needed, this.#now());
    if (victims.length < needed) return false;
    for (const victim of victims) this.#evict(victim);
    return true;
  }

  /** Eviction decided (by the registry): reported first, then the shutdown with a snapshot kept. */
  #evict(record: SessionRecord): void {
    this.#evictions++;
    const done = this.#stopRecord(record, 'evict');
    this.#sessionLogger(record).info({ pool: record.pool }, 'session evicted');
    this.#emit('evicted', { id: record.id, pool: record.pool, done });
  }

  // ── workers ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Recovery. A shard's worker ended (exit, uncaught error, hang, out of memory). Kills what its
   * sessions had started, replaces the worker, charges the culprit, restores every other session
   * from its snapshot and journal. Rejects only if the replacement fails to start.
   */
  async #recoverShard(index: number, cause: Error): Promise<void> {
    let finish!: () => void;
    const recovering = new Promise<void>((resolve) => (finish = resolve));
    this.#recoveries.set(index, recovering);
    const dead = this.#shards[index]!;
    const lost = [...this.#byKey.values()].filter((record) => record.shard === dead);
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
      const blamed = culprit && this.#byKey.get(culprit.key);
      dead.logger.error({ err: cause, sessions: lost.length, culprit: blamed?.id }, 'worker ended unexpectedly; restoring its sessions');
      this.#emit('workerExit', { shard: index, error: cause, sessions: lost.map((record) => record.id), culprit: blamed?.id });
      if (!blamed) this.#chargeShard(index, cause);
      if (this.#closed) return;
      const replacement = await this.#replacementShard(index);
      const restores: Array<Promise<void>> = [];
      for (const record of restorable) {
        if (record.ended || record.status !== 'restarting') continue;
        dead.sessions--;
        replacement.sessions++;
        record.shard = replacement;
        if (record === blamed && !this.#charge(record, cause, culprit!.seq || undefined)) continue;
        this.#rekey(record);
        restores.push(this.#restore(record));
      }
      await Promise.all(restores);
      replacement.logger.info({ restored: restores.length }, 'worker replaced; sessions restored');
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

  /** A worker died and no session is to blame: bounded like a session's restarts, then given up. */
  #chargeShard(index: number, cause: Error): void {
    const { allowed, history } = addRestart(this.#unattributedExits[index] ?? [], this.#now(), this.#options.restart);
    this.#unattributedExits[index] = history;
    if (!allowed) throw new WorkerStartError(index, new Error(`its worker keeps failing with no session to blame: ${cause.message}`));
  }

  /** The shard cannot be recovered: its sessions crash; the others keep serving. */
  #shardDown(index: number, cause: Error): void {
    const shard = this.#shards[index];
    this.#logger.error({ err: cause, shard: index }, 'shard is down: its replacement worker failed to start');
    for (const record of [...this.#byKey.values()]) {
      if (record.shard === shard || record.shard.index === index) this.#fail(record, cause);
    }
  }

  #onChildSpawned(key: number, pid: number): void {
    const record = this.#byKey.get(key) ?? this.#retiredKeys.get(key);
    if (record && !record.ended && (record.key === key || record.status !== 'stopping')) {
      (record.pids ??= new Set()).add(pid);
      return;
    }
    // Its session is gone: nothing may outlive it.
    for (const shard of this.#shards) void shard.childProcesses.kill([pid]);
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  #assertOpen(operation: string): void {
    if (this.#closed) throw new RuntimeClosedError(operation);
  }

  #live(id: string): SessionRecord {
    const record = this.#byId.get(id);
    if (record) return record;
    if (this.#passive.has(id)) throw new UnknownSessionError(id, 'it is evicted; send to it to reactivate it');
    throw new UnknownSessionError(id);
  }

  #liveOrReactivated(id: string): SessionRecord {
    const record = this.#byId.get(id);
    if (record) return record;
    if (!this.#passive.has(id)) throw new UnknownSessionError(id);
    const reactivated = this.#reactivate(id);
    if (reactivated instanceof Error) throw reactivated;
    return reactivated;
  }

  /** Whether the id still names this incarnation (no newer session took it). */
  #owns(record: SessionRecord): boolean {
    const holder = this.#byId.get(record.id);
    if (holder) return holder === record;
    const leaving = this.#leaving.get(record.id);
    return !leaving || leaving.record === record;
  }

  #leastLoadedShard(): Shard | undefined {
    let best: Shard | undefined;
    for (const shard of this.#shards) {
      if (shard?.alive && (best === undefined || shard.sessions < best.sessions)) best = shard;
    }
    return best;
  }

  /** Every worker is down: wait for the recoveries under way, if any. */
  async #anyRecoveredShard(): Promise<Shard> {
    await Promise.allSettled([...this.#recoveries.values()]);
    this.#assertOpen('spawn');
    const shard = this.#leastLoadedShard();
    if (shard) return shard;
    throw new WorkerStartError(-1, new Error('no worker is alive and none could be started; see the logged workerExit causes'));
  }

  #register(record: SessionRecord): void {
    this.#byId.set(record.id, record);
    this.#byKey.set(record.key, record);
    const pool = this.#pools.get(record.pool)!;
    pool.add(record, this.#now());
    record.pooledIn = pool;
    record.shard.sessions++;
  }

  #unpool(record: SessionRecord): void {
    record.pooledIn?.remove(record);
    record.pooledIn = undefined;
  }

  #touch(record: SessionRecord): void {
    if (record.pooledIn) record.pooledIn.touch(record, this.#now());
    else record.lastActiveAt = this.#now();
  }

  /** Removes this incarnation's bookkeeping: never a newer session's that reuses the id. */
  #unregister(record: SessionRecord, cause?: Error): void {
    if (record.ended) return;
    // Its IPC token goes with it — unless a newer session holds the id (and its own token).
    if (this.#owns(record)) this.#options.ipcServer?.revoke(record.id);
    if (this.#byId.get(record.id) === record) this.#byId.delete(record.id);
    this.#byKey.delete(record.key);
    this.#inspection?.forget(record.key);
    for (const [key, retired] of this.#retiredKeys) {
      if (retired !== record) continue;
      this.#retiredKeys.delete(key);
      this.#inspection?.forget(key);
    }
    this.#unpool(record);
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
    if (record.status === 'active') record.shard.enqueue(record.key, marker, UNCOUNTED);
    else (record.pending ??= []).push(marker);
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
      const key = note[1];
      const record = this.#byKey.get(key);
      switch (note[0]) {
        case NOTE_SNAPSHOT: {
          if (!record?.observers) break;
          const [, , wire, seq, replayed] = note;
          // A restore replays the journal: its subscribers see the states they had not seen yet.
          if (replayed && seq <= record.notifiedSeq) break;
          if (seq > record.notifiedSeq) record.notifiedSeq = seq;
          const snapshot = this.#resolveSnapshot(record, wire);
          for (const observer of record.observers) this.#guard(record, () => observer.next?.(snapshot));
          break;
        }
        case NOTE_PERSIST: {
          if (!record) break;
          const [, , seq, bytes] = note;
          const snapshot = new Uint8Array(bytes);
          if (record.compact(seq, snapshot) && this.#snapshotting) this.#store.compact(record.id, seq, snapshot);
          break;
        }
        case NOTE_DONE: {
          if (!record || record.status === 'stopping') break;
          if (record.observers) {
            const snapshot = this.#resolveSnapshot(record, note[2]);
            for (const observer of record.observers) this.#guard(record, () => observer.next?.(snapshot));
          }
          if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
          const owned = this.#owns(record);
          this.#unregister(record);
          if (owned) void this.#store.delete(record.id);
          this.#emit('done', { id: record.id, output: note[2].output });
          break;
        }
        case NOTE_CRASHED: {
          if (!record || record.status === 'stopping') break;
          const [, , wireError, poisonSeq] = note;
          if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
          if (this.#charge(record, fromWireError(wireError), poisonSeq ?? undefined)) {
            this.#rekey(record);
            void this.#restore(record);
          }
          break;
        }
        case NOTE_INSPECT:
          this.#inspection?.deliver(key, note[2]);
          break;
        case NOTE_UNDELIVERED: {
          // Addressed to an incarnation that a restart retired: the event is in the journal and
          // was replayed into the new one.
          if (record || this.#retiredKeys.has(key)) break;
          this.#deadLetter(undefined, note[2], 'the session was no longer running', shard);
          break;
        }
      }
    }
  }

  #deadLetter(id: string | undefined, event: unknown, reason: string, shard?: Shard): void {
    this.#deadLetters++;
    (shard?.logger ?? this.#logger).warn({ sessionId: id, event: (event as { type?: unknown })?.type, reason }, 'dead letter');
    this.#emit('deadLetter', { id, event, reason });
  }

  #emit<E extends keyof RuntimeEvents>(event: E, payload: RuntimeEvents[E]): void {
    if (event === 'crashed' || event === 'restarted' || event === 'deadLetter') {
      const { id, error, reason } = payload as { id?: string; error?: Error; reason?: string };
      this.#failures.push({ id: id ?? '?', at: Date.now(), kind: event, message: error?.message ?? reason ?? '' });
      if (this.#failures.length > 50) this.#failures.shift();
    }
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

interface StateNodeLike {
  key: string;
  type: string;
  states: Record<string, StateNodeLike>;
}

function chartOf(node: StateNodeLike, key: string): ChartNode {
  return { key, type: node.type, states: Object.entries(node.states ?? {}).map(([child, state]) => chartOf(state, child)) };
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
    restarts: record.restarts?.length ?? 0,
    pids: record.pids ? [...record.pids] : [],
  };
}

function passiveInfo(id: string, { kind, pool }: { kind: string; pool: string }): SessionInfo {
  return { id, kind, pool, status: 'evicted', pinned: false, lastActiveAt: 0, shard: -1, mailbox: 0, restarts: 0, pids: [] };
}

/** Every call that names a session checks the id's type first: a symbol cannot be named in a message. */
function checkId(operation: string, id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new InvalidOptionError(`${operation}: the session id must be a string (got ${describe(id)})`);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object whose "type" is ${typeof (value as { type?: unknown }).type}`;
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : typeof value;
}

/**
 * Starts a runtime: opens the store, imports the machine modules, starts the workers, and
 * resolves when every worker has loaded every machine. Rejects with `InvalidOptionError`,
 * `MachineModuleError`, `StoreLockedError` or `WorkerStartError` — never hangs.
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
export function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  return Runtime.create(options);
}
