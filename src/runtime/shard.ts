/**
 * The host's handle on one shard: a worker thread (a piscina pool of exactly one thread running
 * one long-lived task), its comlink control proxy, and the batching encoder of its data port.
 *
 * Contract:
 * - `enqueue` appends an encoded event to the current batch; the batch is flushed at the end of
 *   the current turn of the event loop (`setImmediate`), or at once when it reaches
 *   `FLUSH_BYTES`, so a lone event is never held back waiting for a batch to fill.
 * - Acks come back in batch order; each acknowledged batch releases one mailbox slot per event
 *   for the sessions it carried (`Mailbox.release`).
 * - A control call never hangs on a dead worker: every call races the task's end and rejects
 *   with the real cause.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { Logger } from 'pino';
import type { ResourceLimits } from 'node:worker_threads';
import { WorkerStartError } from '../errors.js';
import {
  createPackr,
  type BatchMessage,
  type Note,
  type ShardApi,
  type ShardInit,
  type SpawnRequest,
  type SpawnResult,
  type WorkerMessage,
} from '../actors/wire.js';

/** Flush a batch as soon as it holds this many bytes (measured: larger batches gain nothing). */
const FLUSH_BYTES = 256 * 1024;
const MSGPACK_UINT32 = 0xce;

const WORKER_URL = new URL('../actors/shard.worker.js', import.meta.url).href;

/** What the shard needs to know about a session to account for its mailbox. */
export interface Mailbox {
  /** Called once per acknowledged event of this session. */
  release(): void;
}

export interface ShardHandlers {
  onNotes(shard: Shard, notes: Note[]): void;
  /** The worker ended without being asked to: it exited, crashed, hung and was terminated, or ran out of memory. */
  onExit(shard: Shard, cause: Error): void;
}

export interface ShardStartOptions {
  index: number;
  machines: ReadonlyMap<string, string>;
  resourceLimits: ResourceLimits | undefined;
  logger: Logger;
  handlers: ShardHandlers;
}

export class Shard {
  readonly index: number;
  readonly logger: Logger;
  /** Live sessions placed here, for least-loaded placement. */
  sessions = 0;
  eventsAccepted = 0;

  readonly #pool: Piscina;
  readonly #api: Remote<ShardApi>;
  readonly #dataPort: MessagePort;
  readonly #controlPort: MessagePort;
  readonly #handlers: ShardHandlers;
  readonly #packr = createPackr();
  readonly #exited: Promise<never>;
  #exitCause: Error | undefined;
  #closing = false;

  #buffer = Buffer.allocUnsafe(64 * 1024);
  #used = 0;
  #batchMailboxes: Mailbox[] = [];
  #unacked: Mailbox[][] = [];
  #unackedHead = 0;
  #flushScheduled = false;
  #spawns: Array<{ request: SpawnRequest; resolve(result: SpawnResult): void; reject(error: Error): void }> = [];

  private constructor(options: ShardStartOptions) {
    this.index = options.index;
    this.logger = options.logger.child({ shard: options.index });
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
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    const data = new MessageChannel();
    const control = new MessageChannel();
    this.#dataPort = data.port1;
    this.#controlPort = control.port1;
    this.#api = wrap<ShardApi>(nodeEndpoint(control.port1));
    const init: ShardInit = {
      shard: options.index,
      machines: [...options.machines],
      dataPort: data.port2,
      controlPort: control.port2,
    };
    const task = this.#pool.run(init, { transferList: [data.port2, control.port2] }) as Promise<void>;
    this.#exited = task.then(
      () => {
        throw new Error(`worker of shard ${this.index} ended its task`);
      },
      (error: unknown) => {
        throw error instanceof Error ? error : new Error(String(error));
      },
    );
    this.#exited.catch((cause: Error) => {
      this.#exitCause = cause;
      if (!this.#closing) this.#handlers.onExit(this, cause);
    });
    this.#dataPort.on('message', (message: WorkerMessage) => this.#onMessage(message));
  }

  /** Starts the worker and waits until it has imported every machine module. */
  static async start(options: ShardStartOptions): Promise<Shard> {
    const shard = new Shard(options);
    try {
      await shard.call((api) => api.init());
    } catch (error) {
      await shard.destroy();
      if (error instanceof Error && error.name === 'MachineModuleError') throw error;
      throw new WorkerStartError(options.index, error);
    }
    return shard;
  }

  get alive(): boolean {
    return this.#exitCause === undefined && !this.#closing;
  }

  /** A control call that rejects with the worker's exit cause instead of hanging when it dies. */
  call<T>(fn: (api: Remote<ShardApi>) => Promise<T>): Promise<T> {
    if (this.#exitCause) return Promise.reject(this.#exitCause);
    return Promise.race([fn(this.#api), this.#exited]);
  }

  /**
   * Starts a session in this worker. Spawns made in the same tick travel in one control call:
   * one round trip per tick instead of one per session.
   */
  spawn(request: SpawnRequest): Promise<SpawnResult> {
    return new Promise((resolve, reject) => {
      if (this.#spawns.push({ request, resolve, reject }) === 1) queueMicrotask(() => this.#flushSpawns());
    });
  }

  #flushSpawns(): void {
    const pending = this.#spawns;
    this.#spawns = [];
    this.call((api) => api.spawn(pending.map((entry) => entry.request))).then(
      (results) => pending.forEach((entry, index) => entry.resolve(results[index] ?? null)),
      (error: Error) => pending.forEach((entry) => entry.reject(error)),
    );
  }

  /** Appends one event (already msgpack-encoded) for the session `key` to the current batch. */
  enqueue(key: number, encodedEvent: Uint8Array, mailbox: Mailbox): void {
    const needed = 5 + encodedEvent.length;
    if (this.#used + needed > this.#buffer.length) this.#grow(needed);
    const buffer = this.#buffer;
    buffer[this.#used] = MSGPACK_UINT32;
    buffer.writeUInt32BE(key, this.#used + 1);
    buffer.set(encodedEvent, this.#used + 5);
    this.#used += needed;
    this.#batchMailboxes.push(mailbox);
    this.eventsAccepted++;
    if (this.#used >= FLUSH_BYTES) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#flushScheduled = false;
    if (this.#used === 0 || !this.alive) return;
    const batch = new ArrayBuffer(this.#used);
    new Uint8Array(batch).set(this.#buffer.subarray(0, this.#used));
    this.#used = 0;
    this.#unacked.push(this.#batchMailboxes);
    this.#batchMailboxes = [];
    const message: BatchMessage = { batch };
    this.#dataPort.postMessage(message, [batch]);
  }

  /** Events accepted for this shard that its worker has not acknowledged (sent or not yet flushed). */
  unacknowledged(): Mailbox[] {
    const waiting = this.#unacked.slice(this.#unackedHead).flat();
    return waiting.concat(this.#batchMailboxes);
  }

  #grow(needed: number): void {
    const size = Math.max(this.#buffer.length * 2, this.#used + needed);
    const grown = Buffer.allocUnsafe(size);
    this.#buffer.copy(grown, 0, 0, this.#used);
    this.#buffer = grown;
  }

  #onMessage(message: WorkerMessage): void {
    for (let ack = 0; ack < message.acks; ack++) {
      const mailboxes = this.#unacked[this.#unackedHead];
      this.#unacked[this.#unackedHead++] = [];
      if (mailboxes) for (const mailbox of mailboxes) mailbox.release();
    }
    if (this.#unackedHead > 1024 && this.#unackedHead * 2 > this.#unacked.length) {
      this.#unacked = this.#unacked.slice(this.#unackedHead);
      this.#unackedHead = 0;
    }
    if (message.notes) {
      this.#handlers.onNotes(this, this.#packr.unpack(new Uint8Array(message.notes)) as Note[]);
    }
  }

  /** Asks the worker to shut its remaining sessions down, then ends the thread. */
  async close(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.alive) {
      this.#closing = true;
      // The worker bounds each session's shutdown by `timeoutMs`; the margin covers the round trip.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + 1_000).unref());
      await Promise.race([this.#api.close(timeoutMs).catch(() => {}), this.#exited.catch(() => {}), deadline]);
    }
    await this.destroy();
  }

  /** Ends the thread at once (a hung or dead worker, or the end of `close`). */
  async destroy(): Promise<void> {
    this.#closing = true;
    this.#dataPort.close();
    this.#controlPort.close();
    await this.#pool.destroy();
  }
}
