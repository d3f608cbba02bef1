/**
 * What the runtime's parts share: the resolved options, the store, the pools, the counters, and
 * each other. `Runtime` (the facade) builds one core and its parts; a part reaches another only
 * through it, so no part imports another's module for its value and there is no import circle.
 */
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import type { Logger } from 'pino';
import type { RuntimeEventHub } from './events.js';
import type { InspectionRelay } from './inspector/inspection.js';
import type { RuntimeMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { PassiveAlarms } from './pools/alarms.js';
import type { MemoryShedder } from './pools/memory-shedder.js';
import type { Asks } from './sessions/asks.js';
import type { Labels } from './sessions/labels.js';
import type { Pool } from './pools/pool.js';
import type { SessionDirectory } from './sessions/session-directory.js';
import type { SessionLifecycle } from './sessions/session-lifecycle.js';
import type { MailboxTotals, SessionRecord } from './sessions/session-record.js';
import type { SessionStopper } from './sessions/session-stopper.js';
import type { SessionStore } from './store/store.js';
import type { SupervisorActor } from './supervision/supervisor.js';
import type { FleetStats } from './types.js';
import type { ProcessLedger } from './workers/process-ledger.js';
import type { WorkerFleet } from './workers/worker-fleet.js';

export interface RuntimeCounters {
  crashed: number;
  restarts: number;
  evictions: number;
  /** Every event accepted since start: a running total, whatever happens to workers. */
  eventsAccepted: number;
  /** Sessions passivated, by reason. */
  passivations: Record<'capacity' | 'idle' | 'memory', number>;
}

export interface RuntimeCore {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly now: () => number;
  /** Machine kinds as the host loaded them (for host-side snapshots and charts). */
  readonly machines: Map<string, AnyStateMachine>;
  readonly pools: Map<string, Pool<SessionRecord>>;
  readonly totals: MailboxTotals;
  readonly counters: RuntimeCounters;
  readonly inspection: InspectionRelay | undefined;
  /** OpenTelemetry instruments and diagnostics_channel hooks (metrics.ts). */
  readonly metrics: RuntimeMetrics;
  store: SessionStore;
  /** Every accepted event goes to the store's journal (set once the store is open). */
  journaling: boolean;
  /** Snapshots (and session metadata) go to the store. */
  snapshotting: boolean;
  closed: boolean;
  /**
   * In a fleet: whether session `id` lives on another host now, and how to run a call there.
   * Every way in (a send, a deferred resend, a reactivation) asks first, so a session of a shard
   * this host no longer owns is never brought back to life here.
   */
  route?: { elsewhere(id: string): boolean; call(op: string, id: string, args: unknown[]): Promise<unknown>; stats(): FleetStats };
  /** Inspector taps: events accepted per session id (only while an inspector watches one). */
  eventTaps: Map<string, Set<(event: unknown, internal?: boolean) => void>> | undefined;
  readonly events: RuntimeEventHub;
  readonly directory: SessionDirectory;
  readonly fleet: WorkerFleet;
  readonly lifecycle: SessionLifecycle;
  readonly stopper: SessionStopper;
  /** Wakes passive sessions whose timers come due. */
  readonly alarms: PassiveAlarms;
  /** Every subprocess of every session, for the reaper and the store. */
  readonly processes: ProcessLedger;
  /** Labels in groups: who holds which. */
  readonly labels: Labels;
  /** Pending asks, answered by the sessions' replies. */
  readonly asks: Asks;
  /** Memory passivation: the workers' heap figures, acted on past the high mark. */
  readonly memory: MemoryShedder;
  readonly supervisor: SupervisorActor;
}

/** The host's own actors (the supervisor, the shard supervisors) are inspected like the sessions. */
export function hostInspect(core: Pick<RuntimeCore, 'inspection'>): { inspect?: (event: InspectionEvent) => void } {
  const relay = core.inspection;
  return relay ? { inspect: (event) => relay.emit(event) } : {};
}
