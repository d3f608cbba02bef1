/**
 * The shard host: the part of a worker that owns session actors.
 *
 * Contract:
 * - Events arrive in batches and are handed to their session's actor in batch order; one batch
 *   is processed synchronously, then acknowledged. XState processes one event at a time per
 *   actor, so each session is turn-based and sees its events in `send` order.
 * - Each session counts the events it has processed (`seq`, continuing the host's numbering) and
 *   sends a persisted snapshot every `snapshotEvery` events, after an event that armed a timer,
 *   and at the end of a tick in which something other than the host's events moved it (a timer,
 *   an invoke, a subprocess): the host restores it from that snapshot plus the events after it,
 *   and nothing the worker reported is rolled back. Snapshots carry timers (persistence.ts).
 * - A session's failure never escapes: every actor has an error observer (XState re-throws an
 *   unobserved actor error inside `setTimeout`, which in a worker kills the thread), and the
 *   failure is reported with the event that caused it (`poisonSeq`).
 * - While it runs a session's code, the worker writes the session's key and event seq into the
 *   shared state, and runs the code inside an AsyncLocalStorage context holding the key, so the
 *   host can name the culprit of a worker that exits, hangs, runs out of memory, or dies of an
 *   asynchronous error.
 * - Snapshots leave the worker only for sessions the host watches, so an unwatched session costs
 *   no serialization per event.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { getHeapStatistics } from 'node:v8';
import type { AnyMachineSnapshot, InspectionEvent } from 'xstate';
import { importMachine, type MachineKind } from '../../protocol/machine-module.js';
import { EndOfTick, RestoreFailure, createSessionActor, persistedWithTimers, rearm, sessionClock, type SessionClock } from './persistence.js';
import { InspectForwarder } from './inspect-forwarder.js';
import { warmUp } from './warm-up.js';
import { Outbox, type PostToHost } from './outbox.js';
import { Replies } from './replies.js';
import { HostedSession, observe, relinkConnections, tapInternalEvents, sendEvent, shutDown, startActor, stopActor, unencodableError, wireSnapshot, type SessionSink } from './session-actor.js';
import {
  NOTE_CRASHED,
  NOTE_DONE,
  NOTE_BUSY,
  NOTE_PERSIST,
  NOTE_STOPPED,
  NOTE_SNAPSHOT,
  NOTE_UNDELIVERED,
  STATE_CURRENT_KEY,
  STATE_CURRENT_SEQ,
  WATCH_ON,
  WATCH_EVENTS_OFF,
  WATCH_EVENTS_ON,
  createPackr,
  toWireError,
  type InspectSettings,
  type Note,
  type ShardStats,
  type SpawnRequest,
  type SpawnResult,
  type StopResult,
} from '../../protocol/wire.js';

/** The session whose code is running, for errors that surface outside any call stack of ours. */
export const sessionContext = new AsyncLocalStorage<number>();

export class ShardHost {
  readonly #machineUrls: ReadonlyArray<[string, string]>;
  readonly #machines = new Map<string, MachineKind>();
  /** Sessions with a transition no event from the host caused (a timer, an invoke, a subprocess). */
  readonly #dirty = new EndOfTick<HostedSession>((session) => {
    if (this.#sessions.get(session.key) === session) this.#persist(session);
  });
  readonly #sessions = new Map<number, HostedSession>();
  /** What every session's observer calls (one object for all: nothing per session). */
  readonly #sink: SessionSink = {
    snapshot: (session, snapshot) => {
      const { key } = session;
      this.#reportBusy(session, snapshot as unknown as AnyMachineSnapshot);
      // Not the host's event (a timer, an invoke's result, a subprocess line): not in the
      // journal, so a snapshot keeps it from being rolled back by a restore.
      if (this.#noRollback && this.#processingKey !== key && !session.starting) this.#dirty.mark(session);
      if (session.watched && snapshot.status === 'active') {
        // The seq of the event that made it (or of the last one, for a timer's transition), and
        // whether it is a replay: the host skips replayed snapshots its subscribers already saw.
        const seq = this.#processingKey === key ? this.#processingSeq : session.seq;
        this.#note([NOTE_SNAPSHOT, key, wireSnapshot(session.actor), seq, session.starting]);
      }
    },
    error: (session, error) => {
      const poisonSeq = this.#processingKey === session.key ? this.#processingSeq : null;
      this.#sessions.delete(session.key);
      if (session.onStopped) session.onStopped(error);
      else this.#failed(session, error, poisonSeq);
    },
    complete: (session) => {
      this.#sessions.delete(session.key);
      this.#inspector.forget(session.key);
      if (session.onStopped) session.onStopped();
      else if (!session.starting) this.#note([NOTE_DONE, session.key, wireSnapshot(session.actor)]);
    },
  };
  /** Session keys by actor system, so actor logic (`fromChildProcess`) can name its session. */
  readonly #keysBySystem = new WeakMap<object, number>();
  readonly #packr = createPackr();
  readonly #state: Int32Array;
  readonly #snapshotEvery: number;
  readonly #noRollback: boolean;
  readonly #busyTag: string;
  readonly #inspector: InspectForwarder;
  readonly #outbox: Outbox;
  readonly #replies: Replies;
  #eventsProcessed = 0;
  /** The session and event being processed, so a synchronous failure names its event. */
  #processingKey = 0;
  #processingSeq = 0;
  readonly #startTimeoutMs: number;

  constructor(options: {
    machines: ReadonlyArray<[string, string]>;
    startTimeoutMs?: number;
    state: SharedArrayBuffer;
    snapshotEvery: number;
    noRollback?: boolean;
    busyTag?: string;
    inspect?: InspectSettings;
    post: PostToHost;
  }) {
    this.#machineUrls = options.machines;
    this.#startTimeoutMs = options.startTimeoutMs ?? Infinity;
    this.#state = new Int32Array(options.state);
    this.#snapshotEvery = options.snapshotEvery;
    this.#noRollback = options.noRollback ?? true;
    this.#busyTag = options.busyTag ?? 'busy';
    this.#inspector = new InspectForwarder(options.inspect, (note) => this.#note(note));
    this.#outbox = new Outbox(options.post, this.#unencodableNote);
    this.#replies = new Replies((note) => this.#note(note), this.#packr);
  }

  async init(): Promise<void> {
    for (const [kind, url] of this.#machineUrls) {
      this.#machines.set(kind, await importMachine(url, this.#startTimeoutMs));
    }
  }

  /** Warms a standby worker's JIT on a built-in machine (see warm-up.ts). */
  warmUp(rounds: number): void {
    warmUp(rounds, this.#packr);
  }

  /** Starts sessions; each request is answered on its own, so one failure never fails the batch. */
  spawn(requests: SpawnRequest[]): SpawnResult[] {
    return requests.map((request) => {
      try {
        return this.#spawnOne(request);
      } catch (error) {
        this.#sessions.delete(request.key);
        return toWireError(error);
      }
    });
  }

  #spawnOne(request: SpawnRequest): SpawnResult {
    const { key, id, kind, input } = request;
    const machineKind = this.#machines.get(kind);
    if (!machineKind) return { name: 'UnknownMachineError', message: `machine "${kind}" is not loaded` };
    const snapshotSeq = request.snapshotSeq ?? 0;
    let created: ReturnType<typeof createSessionActor>;
    try {
      // Inspection off: no `inspect` option, so XState builds no inspection events at all.
      const inspect = this.#inspector.inspects(kind) ? (event: InspectionEvent) => this.#inspector.record(key, event) : undefined;
      const stored = request.snapshot ? this.#packr.unpack(request.snapshot) : undefined;
      created = createSessionActor(machineKind, { id, input, stored, clock: this.#clock, inspect });
    } catch (error) {
      return error instanceof RestoreFailure ? { ...toWireError(error), quarantine: true } : toWireError(error);
    }
    const { actor, timers, migrated } = created;
    const session = new HostedSession({ key, actor, version: machineKind.version, watched: request.watched === true, seq: snapshotSeq }, this.#sink);
    observe(session);
    this.#sessions.set(key, session);
    this.#keysBySystem.set(actor.system, key);
    this.#run(key, 0, startActor, actor);
    // A restored snapshot runs no entry actions: a failure to start it is structural (a child
    // the machine no longer has), the same on every try.
    if (session.failure && request.snapshot) session.failure.quarantine = true;
    if (timers.length > 0) this.#run(key, 0, rearm, actor, timers, Date.now());
    const replay = request.replay ?? [];
    for (let index = 0; index < replay.length && session.failure === undefined; index += 2) {
      this.#deliver(session, replay[index] as number, replay[index + 1] as { type: string });
    }
    // A fresh IPC token: its connection machines reconnect with it before their restored sockets try the old one.
    if (request.ipc && session.failure === undefined) this.#run(key, 0, relinkConnections, actor, request.ipc);
    session.starting = false;
    this.#reportBusy(session, actor.getSnapshot() as AnyMachineSnapshot);
    const { failure } = session;
    if (failure !== undefined) {
      this.#sessions.delete(key);
      const wire: SpawnResult = { ...toWireError(failure.error), ...(failure.quarantine ? { quarantine: true as const } : {}) };
      return failure.poisonSeq === null ? wire : { ...wire, poisonSeq: failure.poisonSeq };
    }
    if (!this.#sessions.has(key)) {
      // It reached a final state while starting or replaying.
      this.#note([NOTE_DONE, key, wireSnapshot(actor)]);
      return null;
    }
    session.seq = Math.max(session.seq, request.seq ?? 0);
    // Migrated: stored at once in the new version, so `migrate` runs once.
    if (migrated) this.#dirty.mark(session);
    return null;
  }

  /** Processes one batch from the host, then acknowledges it together with any notes. */
  handleBatch(batch: ArrayBuffer): void {
    const values = this.#packr.unpack(new Uint8Array(batch)) as unknown[];
    for (let index = 0; index < values.length; index += 2) {
      const key = values[index] as number;
      const event = values[index + 1] as { type: string } | number;
      const session = this.#sessions.get(key);
      if (typeof event === 'number') {
        if (session && event >= WATCH_EVENTS_OFF) tapInternalEvents(session, event === WATCH_EVENTS_ON, (note) => this.#note(note));
        else if (session) this.#watch(session, event === WATCH_ON);
      } else if (session === undefined) {
        this.#note([NOTE_UNDELIVERED, key, event]);
      } else {
        this.#deliver(session, session.seq + 1, event);
        this.#eventsProcessed++;
      }
    }
    this.#outbox.flush(1);
  }

  /** Tells the host when the session enters or leaves a busy state: a note on a change only. */
  #reportBusy(session: HostedSession, snapshot: AnyMachineSnapshot): void {
    if (session.starting) return;
    const busy = snapshot.status === 'active' && snapshot.hasTag(this.#busyTag);
    if (busy === session.busy) return;
    session.busy = busy;
    this.#note([NOTE_BUSY, session.key, busy]);
  }

  /** A watch begins with the state as it is now, so a reader can never miss a transition. */
  #watch(session: HostedSession, on: boolean): void {
    const began = on && !session.watched;
    session.watched = on;
    if (began && session.actor.getSnapshot().status === 'active') {
      this.#note([NOTE_SNAPSHOT, session.key, wireSnapshot(session.actor), session.seq, false, true]);
    }
  }

  #deliver(session: HostedSession, seq: number, event: { type: string; replyTo?: unknown }): void {
    this.#processingKey = session.key;
    this.#processingSeq = seq;
    this.#run(session.key, seq, sendEvent, session.actor, event);
    this.#processingKey = 0;
    if (event.replyTo !== undefined && this.#sessions.has(session.key)) this.#replies.processed(session.key, session.actor, event);
    session.seq = seq;
    const due = session.armed || (this.#snapshotEvery > 0 && seq - session.snapshotSeq >= this.#snapshotEvery);
    session.armed = false;
    if (due && this.#sessions.has(session.key)) this.#persist(session);
  }

  /** Runs a session's code with the shared state and the async context naming it. */
  #run<A extends unknown[]>(key: number, seq: number, fn: (...args: A) => void, ...args: A): void {
    Atomics.store(this.#state, STATE_CURRENT_KEY, key);
    Atomics.store(this.#state, STATE_CURRENT_SEQ, seq);
    sessionContext.run(key, fn, ...args);
    Atomics.store(this.#state, STATE_CURRENT_KEY, 0);
  }

  #persist(session: HostedSession): void {
    let persisted: { bytes: Uint8Array; wakeAt: number };
    try {
      persisted = this.#persistedBytes(session);
    } catch (error) {
      this.#unencodable(session, error);
      return;
    }
    session.snapshotSeq = session.seq;
    this.#dirty.forget(session);
    this.#note([NOTE_PERSIST, session.key, session.seq, persisted.bytes, persisted.wakeAt]);
  }

  /**
   * The session's timers run through this clock: each runs naming its session (a timer that
   * hangs the worker is charged to it), and what it changes is persisted (no rollback).
   */
  readonly #clock: SessionClock = sessionClock(() => sessionContext.getStore(), (key) => this.#timerChanged(key), (key, fn) => {
    this.#run(key, 0, fn);
    this.#timerChanged(key);
  });

  /** A timer of session `key` was armed or fired: persisted (see the contract). */
  #timerChanged(key: number): void {
    const session = this.#sessions.get(key);
    if (session === undefined || session.starting || !this.#noRollback) return;
    // Armed by the host's event: persisted right after it (a crash later in the tick must not lose it).
    if (this.#processingKey === key) session.armed = true;
    else this.#dirty.mark(session);
  }

  /** The session failed: the answer to its spawn while it starts, a crash note after. */
  #failed(session: HostedSession, error: unknown, poisonSeq: number | null): void {
    if (session.starting) session.failure ??= { error, poisonSeq };
    else this.#note([NOTE_CRASHED, session.key, toWireError(error), poisonSeq]);
  }

  /**
   * The session's state cannot be encoded (its context holds a Symbol, a BigInt past 64 bits, …):
   * it cannot be persisted, restored or shown, so it fails like a session whose action threw —
   * it alone; its worker and neighbours go on. Which event put the value there is unknown, so
   * none is dropped as poison: restarts replay it, and past the restart intensity it crashes.
   */
  #unencodable(session: HostedSession, cause: unknown): void {
    if (!this.#sessions.has(session.key)) return;
    this.#sessions.delete(session.key);
    session.onStopped = () => {};
    this.#run(session.key, 0, stopActor, session.actor);
    this.#failed(session, unencodableError('its state', cause), null);
  }

  /** For the outbox: a note about `key` could not be encoded; what to send instead. */
  readonly #unencodableNote = (key: number, cause: unknown): Note[] => {
    const session = this.#sessions.get(key);
    if (!session) return [[NOTE_CRASHED, key, toWireError(unencodableError('its final state', cause)), null]];
    this.#sessions.delete(key);
    session.onStopped = () => {};
    this.#run(key, 0, stopActor, session.actor);
    return [[NOTE_CRASHED, key, toWireError(unencodableError('its state', cause)), null]];
  };

  #persistedBytes(session: HostedSession): { bytes: Uint8Array; wakeAt: number } {
    const { persisted, wakeAt } = persistedWithTimers(session.actor, session.version);
    return { bytes: this.#packr.pack(persisted).slice(), wakeAt };
  }

  /** The shutdown contract (`shutDown`); with `persist`, a snapshot first: the state to restore. */
  stop(key: number, timeoutMs: number, persist = false): StopResult | Promise<StopResult> {
    const session = this.#sessions.get(key);
    // Answered at once when nothing is left to wait for (the common case: no handler).
    if (session === undefined) return { outcome: 'not-found' };
    let saved: { snapshot?: Uint8Array; seq?: number; wakeAt?: number } = {};
    if (persist) {
      try {
        const { bytes, wakeAt } = this.#persistedBytes(session);
        saved = { snapshot: bytes, seq: session.seq, wakeAt };
      } catch {
        // Not encodable: the host keeps the last snapshot that was, and the journal since.
      }
    }
    return shutDown(session, timeoutMs, saved, (fn) => this.#run(key, 0, fn));
  }

  /** A stop the host asked for is over: it hears so at once, alone. */
  stopped(key: number, result: StopResult): void {
    this.#note([NOTE_STOPPED, key, result]);
  }

  /** The session's snapshot, encoded; `'failed'` when it cannot be (the session then fails). */
  snapshot(key: number): Uint8Array | 'failed' | undefined {
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    try {
      return this.#packr.pack(wireSnapshot(session.actor)).slice();
    } catch (error) {
      this.#unencodable(session, error);
      return 'failed';
    }
  }

  /** A `reply` action ran in the session of actor system `system`. */
  reply(system: object, to: string, value: unknown): void {
    const key = this.#keysBySystem.get(system);
    if (key !== undefined) this.#replies.reply(key, to, value, this.#processingKey === key);
  }

  /** The session an actor system belongs to (for `fromChildProcess`). */
  keyOf(system: object): number | undefined {
    return this.#keysBySystem.get(system);
  }

  stats(collectGarbage = false): ShardStats {
    if (collectGarbage) (globalThis as { gc?: () => void }).gc?.();
    return { sessions: this.#sessions.size, eventsProcessed: this.#eventsProcessed, heapUsed: getHeapStatistics().used_heap_size };
  }

  /** Shuts every session down in parallel; a failing shutdown does not hold up the others. */
  async stopAll(timeoutMs: number): Promise<void> {
    await Promise.allSettled([...this.#sessions.keys()].map((key) => this.stop(key, timeoutMs)));
    this.#outbox.flush(0);
  }

  #note(note: Note): void {
    this.#outbox.note(note);
  }
}
