/**
 * The public types of the runtime: what `spawn`, `send`, `peek`, `stats` and `on` take and give.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventFrom, Observer, SnapshotFrom } from 'xstate';
import type { SessionStatus } from './sessions/session-record.js';

export interface SpawnOptions<TInput = unknown> {
  /** The session's id; unique among live and evicted sessions. */
  id: string;
  /** The pool it belongs to. Default: `default`. */
  pool?: string;
  /** The machine's input; plain serializable data. */
  input?: TInput;
  /** Shut a live (or evicted) session with this id down first instead of failing with `DuplicateSessionError`. */
  replace?: boolean;
  /**
   * A label in a group (declared in `createRuntime({ groups })`): `name` if free, else the label
   * the same `key` had before, else the lowest free `prefix:n` (prefix default: the machine kind).
   */
  label?: { group: string; prefix?: string; key?: string; name?: string };
}

/** A handle on one session; each method is the runtime's method with this id, typed by its machine. */
export interface SessionRef<TMachine extends AnyStateMachine = AnyStateMachine> {
  readonly id: string;
  send(event: EventFrom<TMachine>): Promise<void>;
  getSnapshot(): Promise<SnapshotFrom<TMachine>>;
  subscribe(listener: ((snapshot: SnapshotFrom<TMachine>) => void) | Partial<Observer<SnapshotFrom<TMachine>>>): () => void;
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
  /** Its label and group, when it was spawned with one. */
  label?: string;
  group?: string;
  /** In a fleet: the host it lives on (a session of another host has status `remote`; `peek` and `list` show every session of the fleet). */
  host?: string;
}

export interface RuntimeStats {
  sessions: number;
  evicted: number;
  /** Stored sessions the loaded machines cannot restore (see `retryQuarantined`). */
  quarantined: number;
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
  /** In a fleet: its name, this host's name, and which host holds each of its shards (as this host last saw; `undefined`: none now). */
  fleet?: FleetStats;
}

export interface FleetStats {
  name: string;
  host: string;
  shards: Array<{ shard: number; host: string | undefined }>;
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
  /**
   * The session was evicted (passivated: kept in the store), and why: its pool was full, it was
   * idle (`idleMs`), or its worker's heap passed the high mark (`memory`).
   */
  passivated: { id: string; pool: string; reason: 'capacity' | 'idle' | 'memory' };
  /**
   * A passive session was brought back from the store: a call named it (`send`, `getSnapshot`,
   * `subscribe`, `waitFor`, `pin`), its timer came due, or the host resumed it at start.
   */
  reactivated: { id: string; pool: string };
  /**
   * The session's stored state cannot be restored by the loaded machine; it is kept in the store,
   * listed with status `quarantined`, until `retryQuarantined` or `removeQuarantined`. Once.
   */
  quarantined: { id: string; kind: string; pool: string; error: Error };
  /** In a fleet: this host won shard `shard` under `epoch`; its stored sessions are this host's now. */
  shardAcquired: { shard: number; epoch: number };
  /**
   * In a fleet: this host let shard `shard` go — `handedOff` to a host that joined (its sessions
   * evicted to the store first), or lost (`expired`, `refused`: its sessions stopped here, nothing written).
   */
  shardLost: { shard: number; reason: 'handedOff' | 'expired' | 'refused' };
}

/** An HTTP server's bounds against idle and slow clients (the inspector's, the example host's). */
export interface ServerLimits {
  /** Sockets open at once; more are refused. Default: 64. */
  maxConnections?: number;
  /** Default: 5,000 ms. */
  headersTimeoutMs?: number;
  /** Default: 10,000 ms. */
  requestTimeoutMs?: number;
  /** A socket with no traffic this long is closed (WebSockets excepted). Default: 30,000 ms. */
  idleTimeoutMs?: number;
}

export interface InspectorOptions {
  /** Default: 0 (any free port). */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Connection cap and timeouts against idle and slow clients (defaults in `ServerLimits`). */
  limits?: ServerLimits;
  /**
   * Keys (any case) whose values the page never shows in a context or an event, at any depth.
   * Default: token, password, secret, authorization, apiKey — the connection machine's token included.
   */
  redact?: readonly string[];
}

export interface ChartNode {
  key: string;
  type: string;
  /** Its transitions: the event (`after <delay>` for a delayed one) and the paths of their targets. */
  transitions: Array<{ event: string; targets: string[] }>;
  states: ChartNode[];
}

export type Handler<E extends keyof RuntimeEvents> = (payload: RuntimeEvents[E]) => void;

/** What the runtime uses of the IPC server (`createIpcServer`). */
export interface IpcTokens {
  readonly address: { path: string } | { host: '127.0.0.1'; port: number };
  issueToken(sessionId: string): string;
  revoke(sessionId: string): void;
  hasToken(sessionId: string): boolean;
}
