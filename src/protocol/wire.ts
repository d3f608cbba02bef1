/**
 * The wire between the host and a shard's worker. Shared by both sides.
 *
 * Two channels per shard:
 * - **data port** (the hot path, msgpackr, buffers transferred):
 *   host → worker `{ batch }`: one msgpack array `[key₁, event₁, key₂, event₂, …]`;
 *   worker → host `{ acks, notes? }`: `acks` counts the batches fully processed (in order, so the
 *   host keeps them in a FIFO); `notes` are msgpack-packed `Note` tuples (snapshots of watched
 *   sessions, sessions that finished or crashed, events for sessions the worker does not hold).
 * - **control port** (comlink, plain request/response): the `ShardApi` below.
 *
 * In a batch, the value after a key is either an event (always an object) or one of the numbers
 * `WATCH_ON` / `WATCH_OFF`: subscribing travels in band, so it is ordered with the session's
 * events and a subscriber sees every state change after the events it was sent before.
 *
 * Sessions are named on the wire by a numeric `key` the host assigns per incarnation, never by
 * id: a message for an old incarnation can never reach a new session that reused its id.
 */
import { Packr } from 'msgpackr';

/** Host → worker on the data port: a msgpack array `[key₁, event₁, key₂, event₂, …]`. */
export interface BatchMessage {
  batch: ArrayBuffer;
}

/** Worker → host on the data port. */
export interface WorkerMessage {
  acks: number;
  notes?: ArrayBuffer;
}

export const WATCH_OFF = 0;
export const WATCH_ON = 1;
/** The inspector watches a session's events: its internal ones (timers, invokes, children) are noted too. */
export const WATCH_EVENTS_OFF = 2;
export const WATCH_EVENTS_ON = 3;

export const NOTE_SNAPSHOT = 1;
export const NOTE_DONE = 2;
export const NOTE_CRASHED = 3;
export const NOTE_UNDELIVERED = 4;
export const NOTE_PERSIST = 5;
export const NOTE_INSPECT = 6;
export const NOTE_STOPPED = 7;
export const NOTE_BUSY = 8;
export const NOTE_REPLY = 9;
export const NOTE_EVENT = 10;

/**
 * What a worker tells the host about one session. `seq` numbers a session's accepted events over
 * its whole life (across restarts): the host assigns them in `send` order, the worker counts them
 * as it processes them, so both agree on which events a snapshot covers.
 */
export type Note =
  /**
   * `replayed`: made while a restore replays the journal. `initial`: the state when a watch began
   * (for `waitFor`, whose first read could otherwise race the watch: they travel different ports).
   */
  | [typeof NOTE_SNAPSHOT, key: number, snapshot: WireSnapshot, seq: number, replayed: boolean, initial?: boolean]
  | [typeof NOTE_DONE, key: number, snapshot: WireSnapshot]
  /** `poisonSeq`: the event being processed when it failed, if any. */
  | [typeof NOTE_CRASHED, key: number, error: WireError, poisonSeq: number | null]
  | [typeof NOTE_UNDELIVERED, key: number, event: unknown]
  /**
   * A persisted snapshot (msgpack) covering the session's events up to `seq`, with the deadline of
   * its earliest armed timer (0: none). Sent every `snapshotEvery` events, and after any
   * transition no event from the host caused (a timer, an invoke's result, a subprocess line).
   */
  | [typeof NOTE_PERSIST, key: number, seq: number, snapshot: Uint8Array, wakeAt: number]
  /** An XState inspection event of the session's actor system, made plain (see InspectRecord). */
  | [typeof NOTE_INSPECT, key: number, record: InspectRecord]
  /** A stop asked for by `ShardApi.stop` is over: each one answers alone, as soon as it is. */
  | [typeof NOTE_STOPPED, key: number, result: StopResult]
  /** The session entered or left a state tagged busy (a turn in progress); sent only on a change. */
  | [typeof NOTE_BUSY, key: number, busy: boolean]
  /**
   * The answer to an ask (`to`: its token): a value, or why there is none — the event was handled
   * without a reply (`noReply`: the state it left), or the reply could not be encoded (`message`).
   */
  | [typeof NOTE_REPLY, key: number, to: string, value: unknown, failure?: { noReply?: unknown; message?: string }]
  /** An event the session's root actor received from inside (a timer, an invoke, a child), while its events are watched. */
  | [typeof NOTE_EVENT, key: number, event: unknown];

/**
 * An XState inspection event with its actor refs replaced by session ids. Session ids are the
 * worker system's own, prefixed with the session's key, so they are unique across workers.
 */
export interface InspectRecord {
  type: '@xstate.actor' | '@xstate.event' | '@xstate.snapshot';
  sessionId: string;
  rootId: string;
  /** `@xstate.actor`: the actor's id, its parent's session id, its definition (JSON), its snapshot. */
  id?: string;
  parentId?: string;
  definition?: string;
  /** `@xstate.event`: who sent it. */
  sourceId?: string;
  event?: unknown;
  snapshot?: unknown;
}

/** Inspection as the workers apply it: off unless `enabled`; filtered and rate-capped at the source. */
export interface InspectSettings {
  enabled: boolean;
  types: Array<InspectRecord['type']>;
  /** Machine kinds to inspect; empty: all. */
  kinds: string[];
  /** Per session; `@xstate.actor` events are never dropped (the inspector needs every actor). */
  maxEventsPerSecond: number;
}

/**
 * Slots of the shard's shared state (an Int32Array over a SharedArrayBuffer the host keeps): the
 * worker writes what it is doing, so after the worker dies, hangs or runs out of memory, the
 * host can still read which session (and which of its events) was running.
 */
export const STATE_CURRENT_KEY = 0;
export const STATE_CURRENT_SEQ = 1;
/** Set by the worker's last-resort error handlers: the session an async error came from. */
export const STATE_CULPRIT_KEY = 2;
export const STATE_SLOTS = 3;

/** The part of a machine snapshot that crosses threads (a persisted snapshot). */
export interface WireSnapshot {
  status: 'active' | 'done' | 'error' | 'stopped';
  value: unknown;
  context: unknown;
  output?: unknown;
  error?: unknown;
}

export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

export interface SpawnRequest {
  key: number;
  id: string;
  kind: string;
  input: unknown;
  /** Restore: a persisted snapshot (msgpack) to start from, covering events up to `snapshotSeq`. */
  snapshot?: Uint8Array;
  snapshotSeq?: number;
  /** Restore: events to replay after the snapshot, flat: `[seq₁, event₁, seq₂, event₂, …]`. */
  replay?: unknown[];
  /** The seq of the last event accepted for the session so far; live events continue from it. */
  seq?: number;
  /** Someone subscribes: snapshots are reported from the start, replayed ones included. */
  watched?: boolean;
  /** A fresh IPC token (reactivation): every connection machine of the session is relinked with it. */
  ipc?: { address: unknown; token: string };
}

/**
 * `null` when the session started; otherwise why not, and the replayed event that failed it.
 * `quarantine`: its stored snapshot cannot be restored by this machine (a newer version, no or a
 * failing `migrate`, a state that no longer exists); it would fail the same way again.
 */
export type SpawnResult = (WireError & { poisonSeq?: number; quarantine?: true }) | null;

/**
 * How a session's shutdown ended: it reached a final state, it had no shutdown handler and was
 * stopped at once, it ran past the timeout and was stopped by force, its shutdown threw, or the
 * worker no longer held it.
 */
export type StopOutcome = 'final' | 'no-handler' | 'forced' | 'failed' | 'not-found';

export interface StopRequest {
  key: number;
  timeoutMs: number;
  /** Take a persisted snapshot first (eviction: passivation restores from it). */
  persist?: boolean;
}

export interface StopResult {
  outcome: StopOutcome;
  error?: WireError;
  /** With `persist`: the snapshot taken before the shutdown began, and the seq it covers. */
  snapshot?: Uint8Array;
  seq?: number;
  /** With the snapshot: its earliest armed timer's deadline (0: none), to wake it when passive. */
  wakeAt?: number;
}

/** The worker's control surface, called over comlink. */
export interface ShardApi {
  /** Imports every machine module; rejects with the module URL and the cause. */
  init(): Promise<void>;
  spawn(requests: SpawnRequest[]): SpawnResult[];
  /** Warms XState's code paths on a built-in machine (a standby worker, while it waits). */
  warmUp(rounds: number): void;
  /**
   * Shuts sessions down, in parallel. A stop that is over at once (no shutdown handler, not
   * found) is answered in the reply; one still under way is `null` there and answers alone with
   * its own `NOTE_STOPPED` when it is down: a quick stop never waits for a slow one.
   */
  stop(requests: StopRequest[]): Array<StopResult | null>;
  /** The session's `WireSnapshot`, msgpack-encoded; `'failed'`: it cannot be encoded, and the session fails. */
  snapshot(key: number): Uint8Array | 'failed' | undefined;
  /** With `collectGarbage` (and the host started with `--expose-gc`), collects first. */
  stats(collectGarbage?: boolean): ShardStats;
  /** Shuts every session down in parallel (the shutdown contract), then ends the shard task. */
  close(timeoutMs: number): Promise<void>;
}

export interface ShardStats {
  sessions: number;
  eventsProcessed: number;
  heapUsed: number;
}

/** What the piscina task receives: the ports are transferred. */
export interface ShardInit {
  machines: Array<[kind: string, url: string]>;
  dataPort: import('node:worker_threads').MessagePort;
  controlPort: import('node:worker_threads').MessagePort;
  /** `fromChildProcess` requests and their I/O (see child-process-hook.ts). */
  processPort: import('node:worker_threads').MessagePort;
  /** `STATE_SLOTS` Int32 slots shared with the host. */
  state: SharedArrayBuffer;
  /** Persist a session's snapshot after this many events (0: never on its own). */
  snapshotEvery: number;
  /** The state tag that marks a turn in progress (`options.busyTag`). */
  busyTag: string;
  /** Persist after internal transitions and timer arming (`options.noRollback`). */
  noRollback: boolean;
  /** How long each machine module may take to import. */
  startTimeoutMs: number;
  inspect: InspectSettings;
}

/** The event the runtime sends to ask a session to shut down. */
export const SHUTDOWN_EVENT = { type: 'actorhost.shutdown' } as const;

/** Copies the bytes a packr returned (it reuses its buffer) into an ArrayBuffer to transfer. */
export function toTransferable(packed: Uint8Array): ArrayBuffer {
  return packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength) as ArrayBuffer;
}

export function createPackr(): Packr {
  // Plain msgpack maps, no shared record structures: each side can decode any buffer alone,
  // which a replaced worker needs.
  return new Packr({ useRecords: false, moreTypes: false });
}

/**
 * A JSON-safe copy of `value` for the inspector: functions by name, actor refs by id, cycles and
 * depth past `maxDepth` cut. Only runs when inspection is on.
 */
export function inspectable(value: unknown, maxDepth = 8, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
    if (typeof value === 'bigint' || typeof value === 'symbol') return String(value);
    return value;
  }
  if (seen.has(value) || maxDepth <= 0) return '[…]';
  const ref = value as { sessionId?: unknown; send?: unknown; id?: unknown };
  if (typeof ref.sessionId === 'string' && typeof ref.send === 'function') return { xstate$$type: 1, id: ref.id };
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => inspectable(item, maxDepth - 1, seen));
  if (value instanceof Date) return value.toISOString();
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith('_')) continue;
    copy[key] = inspectable(item, maxDepth - 1, seen);
  }
  return copy;
}

export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

export function fromWireError(wire: WireError): Error {
  const error = new Error(wire.message);
  error.name = wire.name;
  if (wire.stack) error.stack = wire.stack;
  return error;
}
