/**
 * `createRuntime` options: their types, their defaults, and the checks that turn a bad option
 * into an `InvalidOptionError` naming the option and the rule.
 */
import { availableParallelism } from 'node:os';
import { pino, type Logger } from 'pino';
import type { ResourceLimits } from 'node:worker_threads';
import { InvalidOptionError } from '../errors.js';
import type { MeterProviderLike } from './metrics.js';
import type { IpcTokens } from './types.js';
import { boolean, meterProvider, resolveGroups, resolveMemory, nonEmptyString, nonNegativeInteger, objectOption, oneOf, positiveInteger, show, timerMs, type GroupOptions } from './option-checks.js';
import { resolveInspect, type InspectObserver, type InspectOption } from './inspector/inspection.js';
import type { InspectSettings } from '../protocol/wire.js';
import { resolveStore } from './store/store-option.js';
import { resolveFleet, type FleetOptions, type ResolvedFleet } from './fleet/fleet-options.js';


/** One partition of sessions with its own bound. */
export interface PoolOptions {
  /** Live sessions the pool holds before spawning into it evicts. Default: unbounded. */
  capacity?: number;
  /** A session touched within this many milliseconds is never evicted. Default: 0. */
  recencyFloorMs?: number;
  /** Sessions idle this long are passivated (evicted, kept in the store). Default: never. */
  idleMs?: number;
}

export interface RuntimeOptions {
  /** Machine kinds: name → URL of an ES module whose default export is the XState machine. */
  machines: Record<string, URL | string>;
  /** Worker threads, one shard each. Default: `availableParallelism() - 1`, at least 1. */
  workers?: number;
  /** Session pools. A pool named `default` (unbounded) exists unless you define it. */
  pools?: Record<string, PoolOptions>;
  /** Milliseconds each machine module (on the host and in each worker) may take to load. Default: 30,000. */
  startTimeoutMs?: number;
  /** Milliseconds a session may take to shut down before it is stopped by force. Default: 5000. */
  shutdownTimeoutMs?: number;
  /**
   * Per-session mailbox: events accepted but not yet processed, bounded by count and by bytes
   * (each event's estimated encoded size, an upper bound). Default: `{ capacity: 1024, maxBytes: 8 MiB }`.
   */
  mailbox?: { capacity?: number; maxBytes?: number };
  /** Largest encoded event `send` accepts, in bytes. Default: 1 MiB. */
  maxEventBytes?: number;
  /** V8 limits for each worker (piscina's `resourceLimits`). Default: a 64 MB young generation. */
  resourceLimits?: ResourceLimits;
  /** A pino-compatible logger; used as given. Default: warnings and errors to stderr (`name: 'actorhost'`). */
  logger?: Logger;
  /** Where sessions are kept: an LMDB directory (default `./.actorhost`), or `'memory'`. */
  store?: 'memory' | { path: string };
  /** Many hosts, one set of sessions, over NATS JetStream (docs/operations.md, "A fleet"). Not usable yet: groundwork. */
  fleet?: FleetOptions;
  /**
   * What survives a host restart: `'journal'` (default: every accepted event is on disk before
   * `send` resolves), `'snapshot'` (periodic snapshots: the events since the last one are lost),
   * `'none'` (nothing but evicted sessions' snapshots). Worker crashes lose nothing in any mode.
   */
  durability?: Durability;
  /** After a host restart: reactivate stored sessions on first use (`'lazy'`, default) or at start. */
  resume?: 'lazy' | 'eager';
  /** Per session, OTP-style: at most `intensity` restarts in any `periodMs`. Default: 3 in 5,000 ms. */
  restart?: { intensity?: number; periodMs?: number };
  /** Worker liveness: a ping every `heartbeatMs`; unanswered for `hangTimeoutMs`, the worker is replaced. */
  watchdog?: { heartbeatMs?: number; hangTimeoutMs?: number };
  /**
   * The state tag that marks a turn in progress: a session in a state with this tag is never
   * evicted, like a pinned one. Default: `'busy'`.
   */
  busyTag?: string;
  /** A session's snapshot is taken after this many events (and when it has been idle a while). Default: 100. */
  snapshotEvery?: number;
  /**
   * No transition the worker reported is rolled back by a restore: a session is also persisted
   * after an event that arms a timer and at the end of any tick in which a timer, an invoke or a
   * subprocess moved it. `false` keeps only `send`'s events between snapshots (cheaper for
   * sessions that stream many such transitions; a restore then repeats them). Default: true.
   */
  noRollback?: boolean;
  /**
   * A session's subprocesses (`fromChildProcess`) are sent SIGTERM (their whole process group) when
   * it stops, is evicted or restarted; SIGKILL after this many ms if they have not exited.
   * Default: 1000.
   */
  subprocessGraceMs?: number;
  /**
   * Past `workerHeapHighMb` of heap, a worker's least recently used sessions are passivated
   * (reason `memory`) until it is under `workerHeapLowMb`. Default: 75% and 62.5% of the
   * worker's `resourceLimits.maxOldGenerationSizeMb`.
   */
  memory?: { workerHeapHighMb?: number; workerHeapLowMb?: number };
  /** An OpenTelemetry MeterProvider to report to. Default: the global one, if `@opentelemetry/api` is installed. */
  meterProvider?: MeterProviderLike;
  /** Groups sessions take labels in, and how `deliver` treats each (see GroupOptions). */
  groups?: Record<string, GroupOptions>;
  /** The clock, for recency floors and restart windows. Default: `Date.now`. */
  now?: () => number;
  /**
   * The clock's timers, for the watchdog, the standby worker, `waitFor` and other delays.
   * Default: Node's. Tests inject their own to move time by hand.
   */
  clock?: Partial<Clock>;
  /**
   * Keep one extra worker started and idle, so a dead worker's sessions are restored without
   * waiting for a new worker to boot (~70 ms here). Default: true.
   */
  standbyWorker?: boolean;
  /**
   * The IPC server sessions connect to: a session's token is revoked when the session ends, and a
   * session that had one gets a fresh one when it is reactivated (its connection machines are told).
   */
  ipcServer?: IpcTokens;
  /**
   * An XState inspection observer (e.g. `createWebSocketInspector().inspect` from
   * `@statelyai/inspect`): every actor in every worker, and the host's own, reported to it. Off by
   * default, and off costs nothing: workers then build no inspection events.
   */
  inspect?: InspectOption;
}

export type Durability = 'journal' | 'snapshot' | 'none';

/** The injected clock (xstate's `Clock` shape): `now`, and timers that `clearTimeout` cancels. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Lets the process exit while only this timer waits (a Node timer; other clocks' handles are left as they are). */
export function unref(handle: unknown): unknown {
  (handle as { unref?: () => void } | undefined)?.unref?.();
  return handle;
}

export interface ResolvedPool {
  readonly name: string;
  readonly capacity: number;
  readonly recencyFloorMs: number;
  readonly idleMs: number;
}

export interface ResolvedOptions {
  readonly machines: ReadonlyMap<string, string>;
  readonly workers: number;
  readonly pools: ReadonlyMap<string, ResolvedPool>;
  readonly startTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly mailboxCapacity: number;
  readonly mailboxMaxBytes: number;
  readonly maxEventBytes: number;
  readonly resourceLimits: ResourceLimits;
  readonly logger: Logger;
  readonly store: 'memory' | { path: string };
  readonly fleet: ResolvedFleet | undefined;
  readonly durability: Durability;
  readonly resume: 'lazy' | 'eager';
  readonly restart: { intensity: number; periodMs: number };
  readonly watchdog: { heartbeatMs: number; hangTimeoutMs: number };
  readonly snapshotEvery: number;
  readonly busyTag: string;
  readonly noRollback: boolean;
  readonly subprocessGraceMs: number;
  readonly memory: { workerHeapHighMb: number; workerHeapLowMb: number };
  readonly groups: ReadonlyMap<string, Required<GroupOptions>>;
  readonly meterProvider: MeterProviderLike | undefined;
  readonly now: () => number;
  readonly setTimeout: Clock['setTimeout'];
  readonly clearTimeout: Clock['clearTimeout'];
  readonly standbyWorker: boolean;
  readonly ipcServer: IpcTokens | undefined;
  readonly inspect: { settings: InspectSettings; observer: InspectObserver | undefined };
}

const KNOWN_OPTIONS = new Set([
  'machines',
  'workers',
  'pools',
  'startTimeoutMs',
  'shutdownTimeoutMs',
  'mailbox',
  'maxEventBytes',
  'resourceLimits',
  'logger',
  'store',
  'fleet',
  'durability',
  'resume',
  'restart',
  'watchdog',
  'snapshotEvery',
  'busyTag',
  'noRollback',
  'subprocessGraceMs',
  'memory',
  'groups',
  'meterProvider',
  'now',
  'clock',
  'standbyWorker',
  'ipcServer',
  'inspect',
]);

export const DEFAULT_STORE_PATH = './.actorhost';

export const DEFAULT_POOL = 'default';

export { MAX_TIMER_MS, type GroupOptions } from './option-checks.js';

/**
 * Worker defaults. XState allocates a new snapshot per event; with V8's default young generation
 * a worker holding 5,000 sessions spent ~21% of its time in GC. 64 MB raised event throughput
 * by 15–20% (10,000 sessions, 1M events, 2 workers, measured with --cpu-prof and repeated runs).
 */
const DEFAULT_RESOURCE_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 64, maxOldGenerationSizeMb: 1_024 };
// The old-space cap: without one a worker's heap grows to V8's default (about 4 GiB here, seen
// with one runaway session) before it fails; with it, the runaway worker fails with
// ERR_WORKER_OUT_OF_MEMORY at 1 GiB and is replaced (crash level 4). 1 GiB holds ~250,000 idle
// sessions of ~3.5 KB, more than a worker can serve on these cores.
const RESOURCE_LIMIT_KEYS = ['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;

/** Checks every option and fills in the defaults. Throws `InvalidOptionError`. */
export function resolveOptions(options: RuntimeOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(`options must be an object with at least { machines } (got ${show(options)})`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new InvalidOptionError(
        `options.${key} is not an option of createRuntime; known: ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }
  const resourceLimits = resolveResourceLimits(objectOption('options.resourceLimits', options.resourceLimits));
  return {
    machines: resolveMachines(options.machines),
    workers: positiveInteger('options.workers', options.workers, Math.max(1, availableParallelism() - 1)),
    pools: resolvePools(options.pools),
    startTimeoutMs: Math.max(1, timerMs('options.startTimeoutMs', options.startTimeoutMs, 30_000)),
    shutdownTimeoutMs: timerMs('options.shutdownTimeoutMs', options.shutdownTimeoutMs, 5_000),
    mailboxCapacity: positiveInteger(
      'options.mailbox.capacity',
      objectOption('options.mailbox', options.mailbox).capacity,
      1_024,
    ),
    mailboxMaxBytes: positiveInteger('options.mailbox.maxBytes', objectOption('options.mailbox', options.mailbox).maxBytes, 8 * 1024 * 1024),
    maxEventBytes: positiveInteger('options.maxEventBytes', options.maxEventBytes, 1024 * 1024),
    resourceLimits,
    groups: resolveGroups(options.groups),
    meterProvider: meterProvider(options.meterProvider),
    memory: resolveMemory(objectOption('options.memory', options.memory), resourceLimits.maxOldGenerationSizeMb ?? 1_024),
    logger: resolveLogger(options.logger),
    store: resolveStore(options.store, DEFAULT_STORE_PATH),
    fleet: resolveFleet(options.fleet),
    durability: oneOf('options.durability', options.durability, ['journal', 'snapshot', 'none'] as const, 'journal'),
    resume: oneOf('options.resume', options.resume, ['lazy', 'eager'] as const, 'lazy'),
    restart: {
      intensity: nonNegativeInteger('options.restart.intensity', objectOption('options.restart', options.restart).intensity, 3),
      periodMs: positiveInteger('options.restart.periodMs', objectOption('options.restart', options.restart).periodMs, 5_000),
    },
    watchdog: resolveWatchdog(objectOption('options.watchdog', options.watchdog)),
    snapshotEvery: positiveInteger('options.snapshotEvery', options.snapshotEvery, 100),
    busyTag: nonEmptyString('options.busyTag', options.busyTag, 'busy'),
    noRollback: boolean('options.noRollback', options.noRollback, true),
    subprocessGraceMs: timerMs('options.subprocessGraceMs', options.subprocessGraceMs, 1_000),
    ...resolveClock(options.now, objectOption('options.clock', options.clock)),
    standbyWorker: boolean('options.standbyWorker', options.standbyWorker, true),
    ipcServer: resolveIpcServer(options.ipcServer),
    inspect: resolveInspect(options.inspect),
  };
}

/** Quiet by default (DESIGN.md): warnings and errors only, to stderr, never into the user's stdout. */
export function defaultLogger(): Logger {
  return pino({ name: 'actorhost', level: 'warn' }, pino.destination({ dest: 2, sync: true }));
}

function resolveLogger(logger: unknown): Logger {
  if (logger === undefined) return defaultLogger();
  const methods = ['info', 'warn', 'error', 'debug', 'child'] as const;
  const missing = methods.filter((method) => typeof (logger as Record<string, unknown> | null)?.[method] !== 'function');
  if (missing.length > 0) {
    throw new InvalidOptionError(`options.logger must be a pino-compatible logger with ${methods.join(', ')} methods (missing: ${missing.join(', ')})`);
  }
  return logger as Logger;
}

function resolveResourceLimits(given: Partial<ResourceLimits>): ResourceLimits {
  const limits: ResourceLimits = { ...DEFAULT_RESOURCE_LIMITS };
  for (const [key, value] of Object.entries(given)) {
    if (!(RESOURCE_LIMIT_KEYS as readonly string[]).includes(key)) {
      throw new InvalidOptionError(`options.resourceLimits.${key} is not a worker resource limit; known: ${RESOURCE_LIMIT_KEYS.join(', ')}`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new InvalidOptionError(`options.resourceLimits.${key} must be a positive number of megabytes (got ${show(value)})`);
    }
    limits[key as keyof ResourceLimits] = value;
  }
  return limits;
}

function resolveWatchdog(watchdog: { heartbeatMs?: number; hangTimeoutMs?: number }): ResolvedOptions['watchdog'] {
  const heartbeatMs = positiveInteger('options.watchdog.heartbeatMs', watchdog.heartbeatMs, 500);
  const hangTimeoutMs = timerMs('options.watchdog.hangTimeoutMs', watchdog.hangTimeoutMs, 5_000);
  if (hangTimeoutMs <= heartbeatMs) {
    throw new InvalidOptionError(
      `options.watchdog.hangTimeoutMs must be greater than heartbeatMs (got ${hangTimeoutMs} ≤ ${heartbeatMs})`,
    );
  }
  return { heartbeatMs, hangTimeoutMs };
}

function resolveIpcServer(server: unknown): ResolvedOptions['ipcServer'] {
  if (server === undefined) return undefined;
  const candidate = server as Partial<Record<keyof IpcTokens, unknown>> | null;
  if (candidate === null || typeof candidate.revoke !== 'function' || typeof candidate.issueToken !== 'function' || typeof candidate.hasToken !== 'function') {
    throw new InvalidOptionError(`options.ipcServer must be the server createIpcServer() returned (got ${show(server)})`);
  }
  return server as ResolvedOptions['ipcServer'];
}

function resolveClock(now: unknown, clock: Partial<Clock>): Clock {
  const given = clock.now ?? now;
  if (given !== undefined && typeof given !== 'function') {
    throw new InvalidOptionError(`options.now must be a function returning milliseconds (got ${show(given)})`);
  }
  for (const name of ['setTimeout', 'clearTimeout'] as const) {
    if (clock[name] !== undefined && typeof clock[name] !== 'function') {
      throw new InvalidOptionError(`options.clock.${name} must be a function (got ${show(clock[name])})`);
    }
  }
  return {
    now: (given as (() => number) | undefined) ?? Date.now,
    setTimeout: clock.setTimeout ?? ((callback, ms) => setTimeout(callback, ms)),
    clearTimeout: clock.clearTimeout ?? ((handle) => clearTimeout(handle as NodeJS.Timeout)),
  };
}




function resolveMachines(machines: RuntimeOptions['machines']): Map<string, string> {
  if (machines === null || typeof machines !== 'object' || Object.keys(machines).length === 0) {
    throw new InvalidOptionError(
      `options.machines must map at least one kind to a module URL, e.g. { agent: new URL('./agent.machine.js', import.meta.url) } (got ${show(machines)})`,
    );
  }
  const resolved = new Map<string, string>();
  for (const [kind, url] of Object.entries(machines)) {
    let href: string;
    try {
      href = new URL(String(url)).href;
    } catch {
      throw new InvalidOptionError(
        `options.machines.${kind} must be an absolute module URL such as new URL('./${kind}.machine.js', import.meta.url) (got ${show(url)})`,
      );
    }
    resolved.set(kind, href);
  }
  return resolved;
}

function resolvePools(pools: RuntimeOptions['pools']): Map<string, ResolvedPool> {
  const resolved = new Map<string, ResolvedPool>();
  for (const [name, pool] of Object.entries(objectOption('options.pools', pools))) {
    const path = `options.pools.${name}`;
    const given = objectOption(path, pool);
    resolved.set(name, {
      name,
      capacity: given.capacity === Infinity ? Infinity : positiveInteger(`${path}.capacity`, given.capacity, Infinity),
      recencyFloorMs: nonNegativeInteger(`${path}.recencyFloorMs`, given.recencyFloorMs, 0),
      idleMs: given.idleMs === undefined || given.idleMs === Infinity ? Infinity : positiveInteger(`${path}.idleMs`, given.idleMs, Infinity),
    });
  }
  if (!resolved.has(DEFAULT_POOL)) {
    resolved.set(DEFAULT_POOL, { name: DEFAULT_POOL, capacity: Infinity, recencyFloorMs: 0, idleMs: Infinity });
  }
  return resolved;
}
