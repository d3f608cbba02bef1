/**
 * The shard host: the part of a worker that owns session actors.
 *
 * Contract:
 * - Events arrive in batches and are handed to their session's actor in batch order; one batch
 *   is processed synchronously, then acknowledged. XState processes one event at a time per
 *   actor, so each session is turn-based and sees its events in `send` order.
 * - A session's failure never escapes: every actor has an error observer (XState re-throws an
 *   unobserved actor error inside `setTimeout`, which in a worker kills the thread), and the
 *   failure is reported to the host as a `NOTE_CRASHED`.
 * - Snapshots leave the worker only for sessions the host watches, so an unwatched session costs
 *   no serialization per event.
 */
import { createActor, type AnyActorRef, type AnyStateMachine } from 'xstate';
import { getHeapStatistics } from 'node:v8';
import { importMachine } from './machine-module.js';
import {
  NOTE_CRASHED,
  NOTE_DONE,
  NOTE_SNAPSHOT,
  NOTE_UNDELIVERED,
  SHUTDOWN_EVENT,
  WATCH_OFF,
  WATCH_ON,
  createPackr,
  toTransferable,
  toWireError,
  type Note,
  type ShardStats,
  type SpawnRequest,
  type SpawnResult,
  type StopResult,
  type WireSnapshot,
  type WorkerMessage,
} from './wire.js';

interface HostedSession {
  readonly key: number;
  readonly actor: AnyActorRef;
  watched: boolean;
  /** Set while `stop` runs: completion then resolves the stop instead of reporting `done`. */
  onStopped: ((error?: unknown) => void) | undefined;
}

export type PostToHost = (message: WorkerMessage, transfer: ArrayBuffer[]) => void;

export class ShardHost {
  readonly #machineUrls: ReadonlyArray<[string, string]>;
  readonly #machines = new Map<string, AnyStateMachine>();
  readonly #sessions = new Map<number, HostedSession>();
  readonly #packr = createPackr();
  readonly #post: PostToHost;
  #outbox: Note[] = [];
  #flushScheduled = false;
  #eventsProcessed = 0;

  constructor(machineUrls: ReadonlyArray<[string, string]>, post: PostToHost) {
    this.#machineUrls = machineUrls;
    this.#post = post;
  }

  async init(): Promise<void> {
    for (const [kind, url] of this.#machineUrls) {
      this.#machines.set(kind, await importMachine(url));
    }
  }

  spawn(requests: SpawnRequest[]): SpawnResult[] {
    return requests.map((request) => this.#spawnOne(request));
  }

  #spawnOne({ key, id, kind, input }: SpawnRequest): SpawnResult {
    const machine = this.#machines.get(kind);
    if (!machine) return { name: 'UnknownMachineError', message: `machine "${kind}" is not loaded` };
    let actor: AnyActorRef;
    try {
      actor = createActor(machine, { id, input });
    } catch (error) {
      return toWireError(error);
    }
    const session: HostedSession = { key, actor, watched: false, onStopped: undefined };
    let startError: unknown;
    let starting = true;
    actor.subscribe({
      next: (snapshot: WireSnapshot) => {
        if (session.watched && snapshot.status === 'active') {
          this.#note([NOTE_SNAPSHOT, key, this.#wireSnapshot(actor)]);
        }
      },
      error: (error: unknown) => {
        if (starting) {
          startError = error;
          return;
        }
        this.#sessions.delete(key);
        if (session.onStopped) session.onStopped(error);
        else this.#note([NOTE_CRASHED, key, toWireError(error)]);
      },
      complete: () => {
        this.#sessions.delete(key);
        if (session.onStopped) session.onStopped();
        else this.#note([NOTE_DONE, key, this.#wireSnapshot(actor)]);
      },
    });
    this.#sessions.set(key, session);
    actor.start();
    starting = false;
    if (startError !== undefined) {
      this.#sessions.delete(key);
      return toWireError(startError);
    }
    return null;
  }

  /** Processes one batch from the host, then acknowledges it together with any notes. */
  handleBatch(batch: ArrayBuffer): void {
    const values = this.#packr.unpack(new Uint8Array(batch)) as unknown[];
    for (let index = 0; index < values.length; index += 2) {
      const key = values[index] as number;
      const event = values[index + 1] as { type: string } | typeof WATCH_ON | typeof WATCH_OFF;
      const session = this.#sessions.get(key);
      if (typeof event === 'number') {
        if (session) session.watched = event === WATCH_ON;
      } else if (session === undefined) {
        this.#note([NOTE_UNDELIVERED, key, event]);
      } else {
        session.actor.send(event);
        this.#eventsProcessed++;
      }
    }
    this.#flush(1);
  }

  /**
   * The shutdown contract: send `actorhost.shutdown` when the machine handles it and wait for a
   * final state; stop at once when it does not; stop by force after `timeoutMs`.
   */
  stop(key: number, timeoutMs: number): Promise<StopResult> {
    const session = this.#sessions.get(key);
    if (session === undefined) return Promise.resolve({ outcome: 'not-found' });
    const { actor } = session;
    if (!actor.getSnapshot().can(SHUTDOWN_EVENT)) {
      session.onStopped = () => {};
      actor.stop();
      return Promise.resolve({ outcome: 'no-handler' });
    }
    return new Promise<StopResult>((resolve) => {
      const timer = setTimeout(() => {
        session.onStopped = () => resolve({ outcome: 'forced' });
        actor.stop();
      }, timeoutMs);
      session.onStopped = (error) => {
        clearTimeout(timer);
        resolve(error === undefined ? { outcome: 'final' } : { outcome: 'failed', error: toWireError(error) });
      };
      actor.send(SHUTDOWN_EVENT);
    });
  }

  snapshot(key: number): WireSnapshot | undefined {
    const session = this.#sessions.get(key);
    return session && this.#wireSnapshot(session.actor);
  }

  stats(collectGarbage = false): ShardStats {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (collectGarbage && gc) gc();
    return {
      sessions: this.#sessions.size,
      eventsProcessed: this.#eventsProcessed,
      heapUsed: getHeapStatistics().used_heap_size,
    };
  }

  /** Shuts every session down in parallel; a failing shutdown does not hold up the others. */
  async stopAll(timeoutMs: number): Promise<void> {
    await Promise.allSettled([...this.#sessions.keys()].map((key) => this.stop(key, timeoutMs)));
    this.#flush(0);
  }

  #wireSnapshot(actor: AnyActorRef): WireSnapshot {
    const persisted = actor.getPersistedSnapshot() as WireSnapshot;
    // `children` can be large and the host has no use for it; the rest is what resolveState takes.
    return {
      status: persisted.status,
      value: persisted.value,
      context: persisted.context,
      ...(persisted.output !== undefined ? { output: persisted.output } : {}),
      ...(persisted.error !== undefined ? { error: toWireError(persisted.error) } : {}),
    };
  }

  #note(note: Note): void {
    this.#outbox.push(note);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush(0));
    }
  }

  #flush(acks: number): void {
    this.#flushScheduled = false;
    if (this.#outbox.length === 0) {
      if (acks > 0) this.#post({ acks }, []);
      return;
    }
    const notes = toTransferable(this.#packr.pack(this.#outbox));
    this.#outbox = [];
    this.#post({ acks, notes }, [notes]);
  }
}
