/**
 * actorhost: run thousands of long-lived sessions as supervised XState v5 actors across worker
 * threads. This module is the whole public API.
 */
export { createRuntime, Runtime } from './runtime/runtime.js';
export type {
  MemoryReport,
  RuntimeEvents,
  RuntimeStats,
  SessionEvent,
  SessionInfo,
  SessionRef,
  SnapshotListener,
  SpawnOptions,
} from './runtime/runtime.js';
export type { PoolOptions, RuntimeOptions } from './runtime/options.js';
export type { SessionStatus } from './runtime/session-record.js';
export {
  ActorhostError,
  DuplicateSessionError,
  InvalidEventError,
  InvalidOptionError,
  MachineModuleError,
  MailboxFullError,
  RuntimeClosedError,
  SessionCrashedError,
  UnknownMachineError,
  UnknownSessionError,
  WaitForTimeoutError,
  WorkerStartError,
} from './errors.js';
