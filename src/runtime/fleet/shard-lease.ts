/**
 * One shard's lease in a fleet (shared/FLEET.md, "Leases"): a key in a NATS KV bucket whose TTL
 * is the lease time.
 *
 * Contract:
 * - `acquire` is a KV `create` (refused while a live key exists); its revision is the **epoch**,
 *   the fencing token every write of the shard names. Ownership is decided only by the result of
 *   a `create` or an `update`, never by a read.
 * - Held, the lease is renewed every `ttlMs / 3` with an `update` naming the revision held.
 * - The holder treats the lease as valid only until the monotonic time at which it *sent* its
 *   last successful create or renew, plus `ttlMs`, minus `marginMs`: the server's TTL counts from
 *   when it received that write, later than it was sent, so the key outlives the holder's belief.
 *   Past that deadline, or as soon as a renew is refused (another holder has the key), the
 *   holder fences itself: `onLost` runs once, and `valid()` is false from then on. A renew that
 *   fails otherwise (the server restarting) is tried again until the deadline.
 * - `release` fences first, then deletes the key naming the revision held (a key someone else
 *   holds by then is left alone).
 */
import type { Clock } from './fleet-types.js';

/** The KV operations a lease needs: what `@nats-io/kv`'s `KV` offers. */
export interface LeaseKv {
  create(key: string, value: Uint8Array): Promise<number>;
  update(key: string, value: Uint8Array, version: number): Promise<number>;
  delete(key: string, options: { previousSeq: number }): Promise<void>;
}

/** A renew that failed for another reason than a refusal is tried again after this long. */
const RENEW_RETRY_MS = 200;

export type LostReason = 'expired' | 'refused' | 'released';

export interface ShardLeaseOptions {
  kv: LeaseKv;
  shard: number;
  /** The key; default `shard.<shard>`. */
  key?: string;
  /** This host's name, stored as the key's value (for operators; ownership is the revision). */
  host: string;
  ttlMs: number;
  /** Subtracted from the deadline; default a tenth of the lease. */
  marginMs?: number;
  clock: Clock;
  /** The lease is gone (`expired`: the deadline passed; `refused`: a renew failed): stop the shard now. */
  onLost(reason: LostReason, error?: unknown): void;
}

export class ShardLease {
  readonly shard: number;
  readonly #options: ShardLeaseOptions;
  readonly #key: string;
  readonly #value: Uint8Array;
  #revision = 0;
  #epoch: number | undefined;
  #validUntil = 0;
  #renewTimer: unknown;
  #deadlineTimer: unknown;

  constructor(options: ShardLeaseOptions) {
    this.#options = options;
    this.shard = options.shard;
    this.#key = options.key ?? `shard.${options.shard}`;
    this.#value = new TextEncoder().encode(options.host);
  }

  /** The fencing token while held: the revision of the `create` that won the lease. */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  /** Held, and its deadline not yet reached. */
  valid(): boolean {
    return this.#epoch !== undefined && this.#options.clock.now() < this.#validUntil;
  }

  /** Tries to take the lease; resolves false when a live holder has it. */
  async acquire(): Promise<boolean> {
    if (this.#epoch !== undefined) return true;
    const sentAt = this.#options.clock.now();
    let revision: number;
    try {
      revision = await this.#options.kv.create(this.#key, this.#value);
    } catch {
      return false;
    }
    this.#revision = revision;
    this.#epoch = revision;
    this.#held(sentAt);
    return true;
  }

  /** Gives the lease up: fenced at once, then the key deleted if it is still ours. */
  async release(): Promise<void> {
    const revision = this.#revision;
    if (this.#epoch === undefined) return;
    this.#lose('released');
    try {
      await this.#options.kv.delete(this.#key, { previousSeq: revision });
    } catch {
      // Someone else holds it by now, or the bucket is unreachable: its TTL frees it.
    }
  }

  #held(sentAt: number): void {
    const { ttlMs, clock } = this.#options;
    const margin = this.#options.marginMs ?? Math.floor(ttlMs / 10);
    this.#validUntil = sentAt + ttlMs - margin;
    clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = clock.setTimeout(() => this.#lose('expired'), Math.max(0, this.#validUntil - clock.now()));
    clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = clock.setTimeout(() => void this.#renew(), Math.floor(ttlMs / 3));
  }

  async #renew(): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === undefined) return;
    const sentAt = this.#options.clock.now();
    try {
      const revision = await this.#options.kv.update(this.#key, this.#value, this.#revision);
      // Lost meanwhile (the deadline passed while the renew was under way): stays lost.
      if (this.#epoch !== epoch) return;
      this.#revision = revision;
      this.#held(sentAt);
    } catch (error) {
      if (this.#epoch !== epoch) return;
      // Refused: another holder has the key. Anything else (NATS restarting, a timeout) is tried
      // again until the deadline, which fences it if no renewal gets through.
      if (/wrong last sequence/i.test(String((error as Error)?.message))) this.#lose('refused', error);
      else {
        const { clock } = this.#options;
        clock.clearTimeout(this.#renewTimer);
        this.#renewTimer = clock.setTimeout(() => void this.#renew(), RENEW_RETRY_MS);
      }
    }
  }

  #lose(reason: LostReason, error?: unknown): void {
    const { clock } = this.#options;
    clock.clearTimeout(this.#renewTimer);
    clock.clearTimeout(this.#deadlineTimer);
    this.#epoch = undefined;
    this.#validUntil = 0;
    if (reason !== 'released') this.#options.onLost(reason, error);
  }
}
