/**
 * The host's handle on one shard: a worker thread (a piscina pool of exactly one thread running
 * one long-lived task), its comlink control proxy, and its data port (batch-channel.ts).
 *
 * Contract:
 * - `enqueue` appends an event (already validated and copied) to the current batch (see
 *   batch-channel.ts for when it leaves); acks release one mailbox slot per event.
 * - A control call never hangs on a dead worker: each call rejects with the real cause when the
 *   worker ends, and holds nothing once it settles.
 * - The watchdog pings the worker every `heartbeatMs`; a ping unanswered for `hangTimeoutMs` means
 *   it is stuck (an endless loop): terminated and reported like any exit, its culprit named from
 *   the state the worker shared (`culprit()`: which session, and which of its events).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { Logger } from 'pino';
import type { ResourceLimits } from 'node:worker_threads';
import { MachineModuleError, WorkerHangError, WorkerStartError } from '../../errors.js';
import { MAX_TIMER_MS, unref, type Clock } from '../options.js';
import { ChildProcesses, type ChildProcessEvents } from './child-processes.js';
import { BatchChannel, type Mailbox } from './batch-channel.js';
import { TickBatcher } from './tick-batcher.js';
import {
  NOTE_STOPPED,
  STATE_CULPRIT_KEY,
  STATE_CURRENT_KEY,
  STATE_CURRENT_SEQ,
  STATE_SLOTS,
  type Note,
  type InspectSettings,
  type ShardApi,
  type ShardInit,
  type ShardStats,
  type SpawnRequest,
  type SpawnResult,
  type StopRequest,
  type StopResult,
} from '../../protocol/wire.js';

const WORKER_URL = new URL('../../actors/worker/shard.worker.js', import.meta.url).href;

export type { Mailbox } from './batch-channel.js';

export interface ShardHandlers {
  onNotes(shard: Shard, notes: Note[]): void;
  /** The worker ended without being asked to: it exited, crashed, hung and was terminated, or ran out of memory. */
  onExit(shard: Shard, cause: Error): void;
  /** The worker's figures at each heartbeat (its heap: memory passivation). */
  onStats?(shard: Shard, stats: ShardStats): void;
}

export interface ShardStartOptions {
  index: number;
  machines: ReadonlyMap<string, string>;
  resourceLimits: ResourceLimits;
  snapshotEvery: number;
  busyTag: string;
  noRollback: boolean;
  startTimeoutMs: number;
  inspect: InspectSettings;
  watchdog: { heartbeatMs: number; hangTimeoutMs: number };
  /** Events arrive encoded (`enqueueEncoded`): the runtime journals them. */
  encodeEvents: boolean;
  clock: Clock;
  logger: Logger;
  handlers: ShardHandlers;
  childProcesses: ChildProcessEvents;
}

/** The session a dead worker was running, and the event (0: none, it was starting or stopping). */
export interface Culprit {
  key: number;
  seq: number;
  /** It died of an asynchronous error that came from this session's code. */
  async: boolean;
}

export class Shard {
  #index: number;
  #logger: Logger;
  readonly #baseLogger: Logger;
  /** Live sessions placed here, for least-loaded placement. */
  sessions = 0;
  /** Events this worker was sent (since it started; a replacement starts at 0). */
  eventsAccepted = 0;

  readonly #pool: Piscina;
  readonly #api: Remote<ShardApi>;
  readonly #channel: BatchChannel;
  readonly #controlPort: MessagePort;
  readonly #processPort: MessagePort;
  readonly #handlers: ShardHandlers;
  /** Subprocesses this shard's sessions started (`fromChildProcess`); the host owns them. */
  readonly childProcesses: ChildProcesses;
  readonly #exited: Promise<never>;
  /** The reject functions of control calls under way, failed with the cause when the worker ends. */
  readonly #pendingCalls = new Set<(cause: Error) => void>();
  readonly #state = new Int32Array(new SharedArrayBuffer(STATE_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  #exitCause: Error | undefined;
  #terminateCause: Error | undefined;
  #closing = false;
  readonly #clock: Clock;
  #heartbeat: unknown;
  #pinging = false;
  #missedBeats = 0;
  /** What the worker reported at its latest heartbeat. */
  lastStats: ShardStats = { sessions: 0, eventsProcessed: 0, heapUsed: 0 };

  readonly #spawns = new TickBatcher<SpawnRequest, SpawnResult>((requests) => this.call((api) => api.spawn(requests)));
  /** Stops asked for in this tick (sent in one call), and the stops under way, by key. */
  #stopQueue: StopRequest[] = [];
  readonly #stopWaiters = new Map<number, { resolve(result: StopResult): void; reject(cause: Error): void }>();

  private constructor(options: ShardStartOptions) {
    this.#index = options.index;
    this.#clock = options.clock;
    this.#baseLogger = options.logger;
    this.#logger = options.logger.child({ shard: options.index });
    this.#handlers = options.handlers;
    this.#pool = new Piscina({
      filename: WORKER_URL,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      // Our task never returns while the shard lives; piscina's Atomics.wait between tasks
      // would only block the worker's event loop.
      atomics: 'disabled',
      resourceLimits: options.resourceLimits,
    });
    // piscina reports a worker error with no task in flight as an 'error' event; unheard, that
    // event would throw in the host. Ours is always in flight until close, but not after.
    this.#pool.on('error', (error: unknown) => this.logger.warn({ err: error }, 'worker error after its task ended'));
    const data = new MessageChannel();
    const control = new MessageChannel();
    const processes = new MessageChannel();
    this.#channel = new BatchChannel(data.port1, (notes) => this.#onNotes(notes), () => this.alive, options.encodeEvents);
    this.#controlPort = control.port1;
    this.#processPort = processes.port1;
    this.childProcesses = new ChildProcesses(processes.port1, options.childProcesses, this.logger);
    this.#api = wrap<ShardApi>(nodeEndpoint(control.port1));
    const init: ShardInit = {
      machines: [...options.machines],
      dataPort: data.port2,
      controlPort: control.port2,
      processPort: processes.port2,
      state: this.#state.buffer as SharedArrayBuffer,
      snapshotEvery: options.snapshotEvery,
      busyTag: options.busyTag,
      noRollback: options.noRollback,
      startTimeoutMs: options.startTimeoutMs,
      inspect: options.inspect,
    };
    const task = this.#pool.run(init, { transferList: [data.port2, control.port2, processes.port2] }) as Promise<void>;
    this.#exited = task.then(
      () => {
        throw new Error(`worker of shard ${this.#index} ended its task`);
      },
      (error: unknown) => {
        throw this.#terminateCause ?? (error instanceof Error ? error : new Error(String(error)));
      },
    );
    this.#exited.catch((cause: Error) => {
      this.#exitCause = cause;
      for (const reject of this.#pendingCalls) reject(cause);
      this.#pendingCalls.clear();
      for (const key of [...this.#stopWaiters.keys()]) this.#settleStop(key, undefined, cause);
      this.#stopHeartbeat();
      if (!this.#closing) this.#handlers.onExit(this, cause);
    });
    this.#startHeartbeat(options.watchdog);
  }

  /** Starts the worker and waits until it has imported every machine module. */
  static async start(options: ShardStartOptions): Promise<Shard> {
    const shard = new Shard(options);
    let timer: unknown;
    try {
      // The worker bounds each module's import; this bounds the whole start, whatever hangs.
      const margin = options.startTimeoutMs * (options.machines.size + 1);
      const timedOut = new Promise<never>((_, reject) => {
        timer = options.clock.setTimeout(() => reject(new Error(`the worker did not start within ${margin} ms`)), Math.min(margin, MAX_TIMER_MS));
      });
      await Promise.race([shard.call((api) => api.init()), timedOut]);
    } catch (error) {
      await shard.destroy();
      if (error instanceof Error && error.name === 'MachineModuleError') {
        // It crossed the thread as a plain Error: made the catalog's class again, for `instanceof`.
        const url = [...options.machines.values()].find((candidate) => error.message.includes(candidate)) ?? '(in a worker)';
        throw new MachineModuleError(url, error.message.replace(`Machine module ${url} `, ''), error);
      }
      throw new WorkerStartError(options.index, error);
    } finally {
      options.clock.clearTimeout(timer);
    }
    return shard;
  }

  /** The shard this worker serves (-1 for a standby worker not yet given one). */
  get index(): number {
    return this.#index;
  }

  get logger(): Logger {
    return this.#logger;
  }

  /** Gives a standby worker its shard. */
  assign(index: number): void {
    this.#index = index;
    this.#logger = this.#baseLogger.child({ shard: index });
  }

  /**
   * The watchdog. Each beat sends a ping (which also fetches the worker's figures for stats());
   * a ping still unanswered counts the beats it missed, on the clock's own timers. A beat that
   * fires late (the host's own loop was blocked) is excused once: the answer may be unread.
   */
  #startHeartbeat({ heartbeatMs, hangTimeoutMs }: ShardStartOptions['watchdog']): void {
    let lastBeat = this.#clock.now();
    let excused = false;
    const beat = () => {
      const late = this.#clock.now() - lastBeat > 2 * heartbeatMs;
      lastBeat = this.#clock.now();
      if (this.#pinging && late && !excused) excused = true;
      else if (this.#pinging) {
        excused = false;
        const waited = ++this.#missedBeats * heartbeatMs;
        if (waited >= hangTimeoutMs) {
          void this.terminate(new WorkerHangError(this.#index, waited));
          return;
        }
      } else {
        this.#pinging = true;
        this.#missedBeats = 0;
        this.call((api) => api.stats()).then(
          (stats) => {
            this.lastStats = stats;
            this.#pinging = false;
            this.#handlers.onStats?.(this, stats);
          },
          () => {},
        );
      }
      this.#heartbeat = unref(this.#clock.setTimeout(beat, heartbeatMs));
    };
    this.#heartbeat = unref(this.#clock.setTimeout(beat, heartbeatMs));
  }

  #stopHeartbeat(): void {
    this.#clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /** Ends a worker that will not end by itself (it hangs); reported to `onExit` with `cause`. */
  async terminate(cause: Error): Promise<void> {
    if (this.#exitCause || this.#terminateCause) return;
    this.#terminateCause = cause;
    this.#stopHeartbeat();
    await this.#pool.destroy();
  }

  /** After the worker ended: the session it was running, if any. */
  culprit(): Culprit | undefined {
    const asyncKey = Atomics.load(this.#state, STATE_CULPRIT_KEY);
    if (asyncKey !== 0) return { key: asyncKey, seq: 0, async: true };
    const key = Atomics.load(this.#state, STATE_CURRENT_KEY);
    return key === 0 ? undefined : { key, seq: Atomics.load(this.#state, STATE_CURRENT_SEQ), async: false };
  }

  /** The worker is gone: its unacknowledged events are released (they are journaled, and replayed on restore). */
  releaseUnacknowledged(): void {
    this.#channel.releaseAll();
  }

  get alive(): boolean {
    return this.#exitCause === undefined && !this.#closing;
  }

  /**
   * A control call that rejects with the worker's exit cause instead of hanging when it dies; its
   * exit listener goes when it settles (one shared never-settling promise kept every result alive).
   */
  call<T>(fn: (api: Remote<ShardApi>) => Promise<T>): Promise<T> {
    if (this.#exitCause) return Promise.reject(this.#exitCause);
    return new Promise<T>((resolve, reject) => {
      this.#pendingCalls.add(reject);
      fn(this.#api).then(
        (value) => {
          this.#pendingCalls.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.#pendingCalls.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** Starts a session in this worker. Spawns made in one tick travel in one control call. */
  spawn(request: SpawnRequest): Promise<SpawnResult> {
    return this.#spawns.call(request);
  }

  /** Shuts a session down (the shutdown contract); stops in the same tick share a round trip. */
  stop(key: number, timeoutMs: number, persist = false): Promise<StopResult> {
    if (this.#exitCause) return Promise.reject(this.#exitCause);
    return new Promise<StopResult>((resolve, reject) => {
      this.#stopWaiters.set(key, { resolve, reject });
      if (this.#stopQueue.push({ key, timeoutMs, persist }) === 1) queueMicrotask(() => this.#sendStops());
    });
  }

  #sendStops(): void {
    const requests = this.#stopQueue;
    this.#stopQueue = [];
    this.call((api) => api.stop(requests)).then(
      (results) => results.forEach((result, index) => result && this.#settleStop(requests[index]!.key, result)),
      (cause: Error) => {
        for (const { key } of requests) this.#settleStop(key, undefined, cause);
      },
    );
  }

  #settleStop(key: number, result: StopResult | undefined, cause?: Error): void {
    const waiter = this.#stopWaiters.get(key);
    if (!waiter) return;
    this.#stopWaiters.delete(key);
    if (result) waiter.resolve(result);
    else waiter.reject(cause!);
  }

  /** Stop answers are the shard's own; every other note goes to the runtime. */
  #onNotes(notes: Note[]): void {
    let others = notes;
    if (this.#stopWaiters.size > 0) {
      others = [];
      for (const note of notes) {
        if (note[0] === NOTE_STOPPED) this.#settleStop(note[1], note[2]);
        else others.push(note);
      }
    }
    if (others.length > 0) this.#handlers.onNotes(this, others);
  }

  /** Appends one event (validated and copied by the caller) or watch marker for session `key`. */
  enqueue(key: number, event: unknown, mailbox: Mailbox): void {
    if (this.#exitCause) {
      // The worker is gone; the event is in its session's journal and is replayed on restore.
      mailbox.release();
      return;
    }
    // Watch markers travel in the batch but are not events.
    if (typeof event !== 'number') this.eventsAccepted++;
    this.#channel.push(key, event, mailbox);
  }

  /** Appends an encoded event; its bytes' view in the batch (the journal's), `undefined` if the worker is gone. */
  enqueueEncoded(key: number, bytes: Uint8Array, mailbox: Mailbox): Uint8Array | undefined {
    if (this.#exitCause) {
      mailbox.release();
      return undefined;
    }
    this.eventsAccepted++;
    return this.#channel.pushEncoded(key, bytes, mailbox);
  }

  flush(): void {
    this.#channel.flush();
  }

  /** Asks the worker to shut its remaining sessions down, then ends the thread. */
  async close(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.alive) {
      this.#closing = true;
      // The worker bounds each session's shutdown by `timeoutMs`; the margin covers the round trip.
      let timer: unknown;
      const deadline = new Promise<void>((resolve) => (timer = unref(this.#clock.setTimeout(resolve, timeoutMs + 1_000))));
      await Promise.race([this.#api.close(timeoutMs).catch(() => {}), this.#exited.catch(() => {}), deadline]);
      this.#clock.clearTimeout(timer);
    }
    await this.destroy();
  }

  /** Ends the thread at once (a dead worker, or the end of `close`). */
  async destroy(): Promise<void> {
    this.#closing = true;
    this.#stopHeartbeat();
    this.#channel.close();
    this.#controlPort.close();
    this.#processPort.close();
    await Promise.all([this.childProcesses.killAll(), this.#pool.destroy()]);
  }
}
