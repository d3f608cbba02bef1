/**
 * Builds the runtime's core and its parts, in the order they need each other.
 */
import { RuntimeEventHub } from './events.js';
import type { RuntimeCore } from './core.js';
import { InspectionRelay } from './inspector/inspection.js';
import type { ResolvedOptions } from './options.js';
import { PassiveAlarms } from './pools/alarms.js';
import { MemoryShedder } from './pools/memory-shedder.js';
import { Pool } from './pools/pool.js';
import { Asks } from './sessions/asks.js';
import { Labels } from './sessions/labels.js';
import { routeNotes } from './sessions/note-router.js';
import { SessionDirectory } from './sessions/session-directory.js';
import { SessionLifecycle } from './sessions/session-lifecycle.js';
import type { SessionRecord } from './sessions/session-record.js';
import { SessionStopper } from './sessions/session-stopper.js';
import { MemoryStore } from './store/store.js';
import { startSupervisor } from './supervision/supervisor.js';
import { ProcessLedger } from './workers/process-ledger.js';
import { WorkerFleet } from './workers/worker-fleet.js';
import { RuntimeMetrics } from './metrics.js';

/** The shared core and its parts; each part reaches the others through it. */
export function buildCore(options: ResolvedOptions): RuntimeCore {
  const pools = new Map<string, Pool<SessionRecord>>();
  for (const pool of options.pools.values()) pools.set(pool.name, new Pool<SessionRecord>(pool.name, pool.capacity, pool.recencyFloorMs));
  const observer = options.inspect.observer;
  const core = {
    options,
    logger: options.logger,
    now: options.now,
    machines: new Map(),
    pools,
    totals: { mailboxed: 0, processed: 0 },
    counters: { crashed: 0, restarts: 0, evictions: 0, eventsAccepted: 0, passivations: { capacity: 0, idle: 0, memory: 0 } },
    metrics: new RuntimeMetrics(),
    inspection: observer ? new InspectionRelay(observer, options.inspect.settings) : undefined,
    store: new MemoryStore(),
    journaling: false,
    snapshotting: false,
    closed: false,
    eventTaps: undefined,
    events: new RuntimeEventHub(options.logger, options.now),
  } as Partial<RuntimeCore> as { -readonly [K in keyof RuntimeCore]: RuntimeCore[K] };
  core.directory = new SessionDirectory(core);
  core.lifecycle = new SessionLifecycle(core);
  core.stopper = new SessionStopper(core);
  core.alarms = new PassiveAlarms(core);
  core.memory = new MemoryShedder(core);
  core.asks = new Asks(core);
  core.labels = new Labels(() => core.store);
  core.processes = new ProcessLedger({ store: () => core.store, graceMs: options.subprocessGraceMs, logger: options.logger });
  core.fleet = new WorkerFleet(core, (shard, notes) => routeNotes(core, shard, notes));
  core.supervisor = startSupervisor(core);
  for (const pool of pools.values()) pool.onCandidate = ({ name }) => core.supervisor.send({ type: 'pool.joined', pool: name });
  return core;
}

