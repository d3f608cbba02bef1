/**
 * A host's part in sharing a fleet's shards (shared/FLEET.md, "Members", "Leases", "Takeover").
 *
 * Contract:
 * - The host keeps a key with its name in the members bucket (whose TTL is the lease time),
 *   renewed every third of the lease; every host counts the live keys to know the fleet's size.
 * - Every third of the lease (with jitter), it aims for its fair share, ⌈shards / members⌉: it
 *   hands back its surplus (highest shards first) gracefully — `onRelease` drains and persists
 *   the shard's sessions, then the lease is deleted — and tries to take free shards (a KV `create`
 *   per shard, starting at an offset of its own so hosts do not all contend for the same ones).
 * - A shard won is handed to `onAcquired(shard, epoch)` (restore from the store); a lease lost —
 *   deadline passed or renewal refused — to `onLost(shard, reason)` at once (stop the shard's
 *   sessions, kill their subprocesses, write nothing more).
 * - `stop` releases every shard gracefully and leaves the members bucket.
 */
import { within, type Clock } from './fleet-types.js';
import { fairShare, shardOf } from './placement.js';
import { ShardLease, type LeaseKv, type LostReason } from './shard-lease.js';

/** The members bucket: `create`/`update` as leases, and the live keys. */
export interface MembersKv extends LeaseKv {
  keys(): Promise<AsyncIterable<string>>;
}

export interface ShardCoordinatorOptions {
  leases: LeaseKv;
  members: MembersKv;
  host: string;
  shards: number;
  leaseTtlMs: number;
  clock: Clock;
  onAcquired(shard: number, epoch: number): Promise<void>;
  onRelease(shard: number): Promise<void>;
  onLost(shard: number, reason: LostReason, error?: unknown): void;
  /** A failure the coordinator survives (an unreachable server): it tries again next round. */
  onError?(error: unknown): void;
}

export class ShardCoordinator {
  readonly #options: ShardCoordinatorOptions;
  readonly #held = new Map<number, ShardLease>();
  readonly #membership: ShardLease;
  #timer: unknown;
  #round: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: ShardCoordinatorOptions) {
    this.#options = options;
    // Membership is a lease on the host's own key in the members bucket (hex: KV keys allow few characters).
    this.#membership = new ShardLease({
      kv: options.members,
      shard: -1,
      key: `member.${Buffer.from(options.host, 'utf8').toString('hex')}`,
      host: options.host,
      ttlMs: options.leaseTtlMs,
      clock: options.clock,
      onLost: () => {
        if (!this.#stopped) this.#schedule(0);
      },
    });
  }

  /** The shards this host holds a valid lease on. */
  owned(): number[] {
    return [...this.#held].filter(([, lease]) => lease.valid()).map(([shard]) => shard);
  }

  /** The epoch of a shard this host holds (its writes' fencing token). */
  epochOf(shard: number): number | undefined {
    const lease = this.#held.get(shard);
    return lease?.valid() ? lease.epoch : undefined;
  }

  /**
   * The shard's storage was written by another owner (fenced): its lease — however valid it
   * still looks — is given up now (`onLost`, then the key deleted), so the shard is taken over
   * and replayed rather than held by a host that can no longer write to it.
   */
  abandon(shard: number): void {
    const lease = this.#held.get(shard);
    if (!lease) return;
    this.#held.delete(shard);
    this.#options.onLost(shard, 'refused');
    void lease.release();
  }

  start(): Promise<void> {
    return this.#run();
  }

  /** Hands every shard back gracefully, leaves the fleet. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#options.clock.clearTimeout(this.#timer);
    // A round stuck on a NATS call is not waited for past a lease (it takes nothing more: stopped).
    await within(this.#round, this.#options.leaseTtlMs, 'the last shard round').catch((error: unknown) => this.#options.onError?.(error));
    for (const shard of [...this.#held.keys()].sort((a, b) => b - a)) await this.#release(shard);
    await this.#membership.release();
  }

  #run(): Promise<void> {
    this.#round = this.#round.then(() => this.#rebalance()).catch((error: unknown) => this.#options.onError?.(error));
    return this.#round.then(() => {
      if (!this.#stopped) this.#schedule(this.#options.leaseTtlMs / 3);
    });
  }

  #schedule(ms: number): void {
    const { clock } = this.#options;
    clock.clearTimeout(this.#timer);
    // Jitter: hosts that started together do not all try the same shards at the same moment.
    this.#timer = clock.setTimeout(() => void this.#run(), ms * (0.75 + Math.random() * 0.5));
  }

  async #rebalance(): Promise<void> {
    if (this.#stopped) return;
    if (!this.#membership.valid()) await this.#membership.acquire();
    const members = await within(this.#countMembers(), this.#options.leaseTtlMs, 'counting the members');
    const share = fairShare(this.#options.shards, Math.max(1, members));
    const owned = this.owned();
    for (const shard of [...this.#held.keys()]) if (!owned.includes(shard)) this.#held.delete(shard);
    for (const shard of owned.sort((a, b) => b - a).slice(0, Math.max(0, owned.length - share))) await this.#release(shard);
    const { shards, host } = this.#options;
    const start = shardOf(host, shards);
    for (let step = 0; step < shards && this.#held.size < share && !this.#stopped; step++) {
      const shard = (start + step) % shards;
      if (!this.#held.has(shard)) await this.#take(shard);
    }
  }

  async #countMembers(): Promise<number> {
    let members = 0;
    for await (const key of await this.#options.members.keys()) if (key.startsWith('member.')) members++;
    return members;
  }

  async #take(shard: number): Promise<void> {
    const lease = new ShardLease({
      kv: this.#options.leases,
      shard,
      host: this.#options.host,
      ttlMs: this.#options.leaseTtlMs,
      clock: this.#options.clock,
      onLost: (reason, error) => {
        if (this.#held.get(shard) === lease) this.#held.delete(shard);
        this.#options.onLost(shard, reason, error);
      },
    });
    if (!(await lease.acquire())) return;
    this.#held.set(shard, lease);
    try {
      await this.#options.onAcquired(shard, lease.epoch!);
    } catch (error) {
      // Could not take it over (the store refused: another owner wrote): give it back.
      this.#held.delete(shard);
      await lease.release();
      this.#options.onError?.(error);
    }
  }

  async #release(shard: number): Promise<void> {
    const lease = this.#held.get(shard);
    if (!lease) return;
    try {
      await this.#options.onRelease(shard);
    } finally {
      this.#held.delete(shard);
      await lease.release();
    }
  }
}
