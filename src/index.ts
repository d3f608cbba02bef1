/**
 * actorhost: run thousands of long-lived sessions as supervised XState v5 actors across worker
 * threads. This module is the whole public API.
 */
export { createRuntime, Runtime } from './runtime/runtime.js';
export { kind, type KindUrl, type Kinds, type KindsOf, type EventOf, type SnapshotOf, type InputOf } from './runtime/kinds.js';
export type {
  MemoryReport,
  RuntimeEvents,
  RuntimeStats,
  FleetStats,
  InspectorOptions,
  SessionEvent,
  SessionInfo,
  SessionRef,
  SnapshotListener,
  SpawnOptions,
} from './runtime/runtime.js';
export type { Durability, PoolOptions, RuntimeOptions } from './runtime/options.js';
export type { ServerLimits } from './runtime/types.js';
export type { InspectObserver, InspectOption } from './runtime/inspector/inspection.js';
export { fromChildProcess } from './actors/child-process.js';
export { reply } from './protocol/reply.js';
export { connectionMachine, backoffDelay } from './machines/connection.machine.js';
export type {
  BackoffOptions,
  ConnectionEvent,
  ConnectionInput,
  ConnectionOutputEvent,
  ConnectionRequest,
  IpcAddress,
} from './machines/connection.machine.js';
export { createIpcServer } from './runtime/ipc/ipc-server.js';
export type { IpcMethod, IpcServer, IpcServerOptions } from './runtime/ipc/ipc-server.js';
export { probeConnection } from './machines/probe-connection.js';
export type { ProbeResult } from './machines/probe-connection.js';
export { PROTOCOL_VERSION } from './protocol/json-rpc.js';
export type { ChildProcessEvent, ChildProcessSpec } from './actors/child-process.js';
export type { SessionStatus } from './runtime/sessions/session-record.js';
export {
  ActorhostError,
  AuthError,
  ConnectionClosedError,
  ConnectionLostError,
  LineTooLongError,
  QueueFullError,
  RequestTimeoutError,
  RpcError,
  DuplicateSessionError,
  InvalidEventError,
  InvalidOptionError,
  MachineModuleError,
  MailboxFullError,
  PoolFullError,
  RuntimeClosedError,
  SessionCrashedError,
  SessionQuarantinedError,
  ShardUnavailableError,
  NoReplyError,
  AskTimeoutError,
  HeldMailFullError,
  StoreError,
  StoreLockedError,
  UnknownMachineError,
  UnknownSessionError,
  WaitForTimeoutError,
  WorkerHangError,
  WorkerStartError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
