/**
 * What the inspector server reads from the runtime: a read-only view that never counts as
 * activity. Module-private to actorhost's files (reached through the `INSPECTOR_API` symbol).
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { SessionStatus } from '../sessions/session-record.js';
import type { ChartNode, RuntimeStats, SessionInfo } from '../types.js';

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
  tapEvents(id: string, listener: (event: unknown, internal?: boolean) => void): () => void;
  recentFailures(): Array<{ id: string; at: number; kind: 'crashed' | 'restarted' | 'deadLetter'; message: string }>;
  /**
   * An operator's action on a session: `stop`, `evict`, `send` (an event), `pin` (returns the
   * release). Resolves with what happened, in words; rejects with the runtime's typed error.
   */
  act(action: 'stop' | 'evict' | 'send', id: string, event?: unknown): Promise<string>;
  pin(id: string): () => void;
}

