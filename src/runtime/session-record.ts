/**
 * The host's record of one session incarnation. Kept small (it exists once per session, so it
 * counts toward the memory per idle session): optional parts are allocated only when used.
 */
import type { AnyMachineSnapshot, Observer } from 'xstate';
import type { Mailbox, Shard } from './shard.js';

export type SessionStatus = 'starting' | 'active' | 'stopping';

export class SessionRecord implements Mailbox {
  readonly id: string;
  /** Names this incarnation on the wire; never reused, so stale messages cannot reach a successor. */
  readonly key: number;
  readonly kind: string;
  readonly pool: string;
  shard: Shard;
  status: SessionStatus = 'starting';
  /** Events accepted so far, and how many of them the worker has processed. */
  accepted = 0;
  processed = 0;
  lastActiveAt: number;
  pins = 0;
  /** Set once the record has left the registry; `endCause` says why when it failed. */
  ended = false;
  endCause: Error | undefined;
  /** What was sent while the session was starting, in order: copied events, or watch markers. */
  pending: unknown[] | undefined;
  /** Settles when the worker has answered the spawn; set only while starting. */
  startup: Promise<unknown> | undefined;
  observers: Set<Partial<Observer<AnyMachineSnapshot>>> | undefined;
  /** Waiters for `processed` to reach a target; targets only grow, so the queue stays sorted. */
  #drainWaiters: Array<{ target: number; wake(): void }> | undefined;

  constructor(id: string, key: number, kind: string, pool: string, shard: Shard, now: number) {
    this.id = id;
    this.key = key;
    this.kind = kind;
    this.pool = pool;
    this.shard = shard;
    this.lastActiveAt = now;
  }

  /** Events in the mailbox: accepted, not yet processed. */
  get inFlight(): number {
    return this.accepted - this.processed;
  }

  release(): void {
    this.processed++;
    const waiters = this.#drainWaiters;
    if (waiters === undefined) return;
    while (waiters.length > 0 && waiters[0]!.target <= this.processed) waiters.shift()!.wake();
    if (waiters.length === 0) this.#drainWaiters = undefined;
  }

  /**
   * Resolves once every event accepted before this call has been processed (or the session has
   * ended). Events accepted later do not hold it back, so it cannot starve under steady load.
   */
  drained(): Promise<void> {
    const target = this.accepted;
    if (this.processed >= target || this.ended) return Promise.resolve();
    return new Promise((wake) => (this.#drainWaiters ??= []).push({ target, wake }));
  }

  /** Leaves the registry: nothing waits on it any more. */
  end(cause?: Error): void {
    this.ended = true;
    this.endCause = cause;
    this.pending = undefined;
    this.#wakeDrainWaiters();
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (waiters) for (const waiter of waiters) waiter.wake();
  }
}
