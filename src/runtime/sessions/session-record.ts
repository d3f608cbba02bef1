/**
 * The host's record of one session. Kept small (it exists once per session, so it counts toward
 * the memory per idle session): optional parts are allocated only when used.
 *
 * Recovery state: `snapshot` covers the session's events up to `snapshotSeq`; `journal` holds
 * every accepted event after it (index i is seq `snapshotSeq + 1 + i`; a poison event leaves a
 * hole). Snapshot plus journal restores the session after its machine or its worker fails, in
 * every durability mode: the store only adds what survives a host restart.
 */
import type { AnyMachineSnapshot, Observer } from 'xstate';
import type { Pool, PoolMember } from '../pools/pool.js';
import type { Mailbox, Shard } from '../workers/shard.js';

/** A live record's status; `evicted` and `quarantined` describe sessions kept only in the store. */
/** `remote`: in a fleet, a session that lives on another host (`peek`/`list` on this one; `host` names it). */
export type SessionStatus = 'starting' | 'active' | 'restarting' | 'stopping' | 'evicted' | 'quarantined' | 'remote';

/** A journal slot whose event was dropped as poison. */
export const POISONED = undefined;
/** The journal of every record with none yet: shared, never written (a record's own comes with its first event). */
const NO_EVENTS: unknown[] = [];

/** Totals kept by every record of one runtime, so `stats()` never walks the records. */
export interface MailboxTotals {
  /** Events accepted and not yet processed, over all sessions. */
  mailboxed: number;
  /** Events processed, over all sessions (a running total). */
  processed: number;
}

export class SessionRecord implements Mailbox, PoolMember {
  readonly id: string;
  /** Names this incarnation on the wire; a restart takes a new one, so stale events never reach it. */
  key: number;
  readonly kind: string;
  readonly pool: string;
  readonly input: unknown;
  shard: Shard;
  status: SessionStatus = 'starting';
  /** Events accepted so far (in this host process), and how many the worker has processed. */
  accepted = 0;
  processed = 0;
  lastActiveAt: number;
  pins = 0;
  /** In a state tagged busy (the worker says so when it changes), and since when. */
  busy = false;
  busySince = 0;
  lruPrev: SessionRecord | undefined;
  lruNext: SessionRecord | undefined;
  /** Its pool's LRU list while it is in it (it leaves when its stop or eviction begins). */
  pooledIn: Pool<SessionRecord> | undefined;
  /** Set once the record has left the registry; `endCause` says why when it failed. */
  ended = false;
  /** The seq of the last accepted event, over the session's whole life. */
  seq = 0;
  snapshotSeq = 0;
  snapshot: Uint8Array | undefined;
  /** The snapshot's earliest armed timer (ms since the epoch; 0: none), to wake it once passive. */
  wakeAt = 0;
  journal: unknown[] = NO_EVENTS;
  /** What was sent while the session was (re)starting, in order: copied events, or watch markers. */
  pending: unknown[] | undefined;
  /** Settles when the worker has answered the (re)start; set only while (re)starting. */
  startup: Promise<unknown> | undefined;
  /** What few sessions ever have, allocated on first use (see `Extras`). */
  #extras: Extras | undefined;

  readonly #totals: MailboxTotals;

  constructor(init: { id: string; key: number; kind: string; pool: string; input: unknown; shard: Shard; now: number; totals: MailboxTotals }) {
    this.#totals = init.totals;
    this.id = init.id;
    this.key = init.key;
    this.kind = init.kind;
    this.pool = init.pool;
    this.input = init.input;
    this.shard = init.shard;
    this.lastActiveAt = init.now;
  }

  #x(): Extras {
    return (this.#extras ??= new Extras());
  }

  get endCause(): Error | undefined {
    return this.#extras?.endCause;
  }
  set endCause(cause: Error | undefined) {
    if (cause !== undefined || this.#extras) this.#x().endCause = cause;
  }
  /** A fresh IPC link for its connection machines, until its restore has handed it over. */
  get relink(): { address: unknown; token: string } | undefined {
    return this.#extras?.relink;
  }
  set relink(link: { address: unknown; token: string } | undefined) {
    if (link !== undefined || this.#extras) this.#x().relink = link;
  }
  /** The message of its last failure: the same failure again is logged without its stack. */
  get lastFailure(): string | undefined {
    return this.#extras?.lastFailure;
  }
  set lastFailure(message: string | undefined) {
    if (message !== undefined || this.#extras) this.#x().lastFailure = message;
  }
  /** Restart times inside the restart window. */
  get restarts(): number[] | undefined {
    return this.#extras?.restarts;
  }
  set restarts(times: number[] | undefined) {
    if (times !== undefined || this.#extras) this.#x().restarts = times;
  }
  /** Subprocesses the session started that have not exited. */
  get pids(): Set<number> | undefined {
    return this.#extras?.pids;
  }
  set pids(pids: Set<number> | undefined) {
    if (pids !== undefined || this.#extras) this.#x().pids = pids;
  }
  get observers(): Set<Partial<Observer<AnyMachineSnapshot>>> | undefined {
    return this.#extras?.observers;
  }
  set observers(observers: Set<Partial<Observer<AnyMachineSnapshot>>> | undefined) {
    if (observers !== undefined || this.#extras) this.#x().observers = observers;
  }
  /** The seq of the latest snapshot its observers were given (replays skip up to it). */
  get notifiedSeq(): number {
    return this.#extras?.notifiedSeq ?? 0;
  }
  set notifiedSeq(seq: number) {
    if (seq !== 0 || this.#extras) this.#x().notifiedSeq = seq;
  }

  /** Events in the mailbox: accepted, not yet processed. */
  get inFlight(): number {
    return this.accepted - this.processed;
  }

  /**
   * Estimated encoded bytes of the events in the mailbox. Each processed event takes away its
   * share (the mean of those waiting), not its own size: no per-event list to keep (measured: a
   * FIFO of sizes per session cost throughput at 100,000 sessions). Exact whenever the mailbox
   * empties, and exact throughout for events of one size.
   */
  inFlightBytes = 0;

  /** Records an accepted event of about `bytes` encoded in the journal; returns its seq. */
  journalEvent(event: unknown, bytes: number): number {
    this.accepted++;
    this.#totals.mailboxed++;
    if (this.journal === NO_EVENTS) this.journal = [event];
    else this.journal.push(event);
    this.inFlightBytes += bytes;
    return ++this.seq;
  }

  /**
   * A persisted snapshot arrived: it replaces the journal up to `seq`. One at the same seq (a
   * timer or an invoke moved the session on) replaces the snapshot.
   */
  compact(seq: number, snapshot: Uint8Array, wakeAt: number): boolean {
    if (seq < this.snapshotSeq || seq > this.seq) return false;
    this.journal.splice(0, seq - this.snapshotSeq);
    this.snapshotSeq = seq;
    this.snapshot = snapshot;
    this.wakeAt = wakeAt;
    return true;
  }

  /** Drops the event `seq` from the journal (poison); returns it, or undefined if not held. */
  poison(seq: number): unknown {
    const index = seq - this.snapshotSeq - 1;
    if (index < 0 || index >= this.journal.length) return POISONED;
    const event = this.journal[index];
    this.journal[index] = POISONED;
    return event;
  }

  /** The journal as a replay list `[seq₁, event₁, …]`, without poisoned events. */
  replay(): unknown[] {
    const replay: unknown[] = [];
    this.journal.forEach((event, index) => {
      if (event !== POISONED) replay.push(this.snapshotSeq + 1 + index, event);
    });
    return replay;
  }

  release(): void {
    // An ended record took its events out of the totals when it ended.
    if (this.ended) return;
    const waiting = this.accepted - this.processed;
    this.inFlightBytes = waiting > 1 ? this.inFlightBytes - this.inFlightBytes / waiting : 0;
    this.processed++;
    this.#totals.mailboxed--;
    this.#totals.processed++;
    // Its mailbox emptied: it may be the candidate an over-capacity pool waits for.
    const pool = this.pooledIn;
    if (waiting === 1 && pool !== undefined && pool.size > pool.capacity) pool.onCandidate?.(pool);
    const waiters = this.#extras?.drainWaiters;
    if (waiters === undefined) return;
    while (waiters.length > 0 && waiters[0]!.target <= this.processed) waiters.shift()!.wake();
    if (waiters.length === 0) this.#extras!.drainWaiters = undefined;
  }

  /**
   * Resolves once every event accepted before this call has been processed (or the session has
   * ended). Events accepted later do not hold it back, so it cannot starve under steady load.
   */
  drained(): Promise<void> {
    const target = this.accepted;
    if (this.processed >= target || this.ended) return Promise.resolve();
    return new Promise((wake) => (this.#x().drainWaiters ??= []).push({ target, wake }));
  }

  /** Waits out any (re)start under way, then for the events accepted before the call. */
  async settled(): Promise<void> {
    await this.#startedUp();
    await this.drained();
    await this.#startedUp();
  }

  async #startedUp(): Promise<void> {
    for (let startup = this.startup; startup; startup = this.startup) await startup.catch(() => {});
  }

  /** Resolves when this incarnation (`key`) is replaced by a restart, or the session ends. */
  nextIncarnation(key: number): Promise<void> {
    if (this.key !== key || this.ended) return Promise.resolve();
    return new Promise((wake) => (this.#x().incarnationWaiters ??= []).push(wake));
  }

  /** A restart gave the session a new key (the directory's `rekey`): wakes `nextIncarnation`. */
  reincarnated(): void {
    const extras = this.#extras;
    const waiters = extras?.incarnationWaiters;
    if (!waiters) return;
    extras!.incarnationWaiters = undefined;
    for (const wake of waiters) wake();
  }

  /** Leaves the registry: nothing waits on it any more. */
  end(cause?: Error): void {
    // Its unprocessed events leave the totals now; their acks, if any still come, are not counted again.
    this.#totals.mailboxed -= this.inFlight;
    this.processed = this.accepted;
    this.inFlightBytes = 0;
    this.ended = true;
    this.endCause = cause;
    this.pending = undefined;
    this.journal = NO_EVENTS;
    this.snapshot = undefined;
    const waiters = this.#extras?.drainWaiters;
    if (waiters) this.#extras!.drainWaiters = undefined;
    if (waiters) for (const waiter of waiters) waiter.wake();
    this.reincarnated();
  }
}

/**
 * The parts of a record few sessions ever use — observers, subprocesses, restarts, waiters —
 * kept apart so an idle session's record stays small (it counts toward the memory per session).
 */
class Extras {
  endCause: Error | undefined = undefined;
  relink: { address: unknown; token: string } | undefined = undefined;
  lastFailure: string | undefined = undefined;
  restarts: number[] | undefined = undefined;
  pids: Set<number> | undefined = undefined;
  observers: Set<Partial<Observer<AnyMachineSnapshot>>> | undefined = undefined;
  notifiedSeq = 0;
  /** Waiters for `processed` to reach a target; targets only grow, so the queue stays sorted. */
  drainWaiters: Array<{ target: number; wake(): void }> | undefined = undefined;
  incarnationWaiters: Array<() => void> | undefined = undefined;
}
