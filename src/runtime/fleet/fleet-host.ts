/**
 * This host's part in a fleet (shared/FLEET.md): its shards (leases, via the coordinator), their
 * sessions' store (JetStream, fenced per shard), and calls for other hosts' shards (the router).
 *
 * A shard won: its log is replayed into the store, its stored sessions become this host's passive
 * sessions (reactivated on first use, or at once with `resume: 'eager'`), and its calls are
 * served here. A shard handed off: its live sessions are evicted (saved), then it is let go. A
 * shard lost (lease expired or refused): it is let go first — nothing more is written — and its
 * sessions are stopped and dropped here.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { InvalidOptionError } from '../../errors.js';
import type { RuntimeCore } from '../core.js';
import type { JetStreamStore } from '../store/jetstream-store.js';
import type { ResolvedFleet } from './fleet-options.js';
import type { AnyMachineSnapshot, Observer } from 'xstate';
import { resolveSnapshot } from '../sessions/note-router.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { FleetRouter, type LocalCalls } from './fleet-router.js';
import { FleetWatches } from './fleet-watch.js';
import { FleetDirectory } from './fleet-directory.js';
import type { FleetStats, SessionInfo } from '../types.js';
import { shardOf } from './placement.js';
import { ShardCoordinator } from './shard-coordinator.js';
import { RECONNECT } from './fleet-types.js';

/** What the owner runs for a routed call: the runtime's own methods (run here: the shard is ours). */
export interface RoutedCalls {
  spawn(kind: string, options: { id: string }): Promise<unknown>;
  send(id: string, event: never): Promise<void>;
  ask(id: string, event: never, options?: { timeoutMs?: number }): Promise<unknown>;
  getSnapshot(id: string): Promise<{ status: string; value: unknown; context: unknown; output?: unknown; error?: unknown }>;
  stop(id: string): Promise<void>;
  retryQuarantined(id: string): Promise<void>;
  removeQuarantined(id: string): Promise<void>;
  peek(id: string): { kind: string } | undefined;
}

/** A routed call, run on the owner; what it answers crosses as plain data. */
export async function runRouted(runtime: RoutedCalls, op: string, id: string, args: unknown[]): Promise<unknown> {
  switch (op) {
    case 'spawn':
      await runtime.spawn(args[0] as string, args[1] as { id: string });
      return id;
    case 'send':
      return runtime.send(id, args[0] as never);
    case 'ask':
      return runtime.ask(id, args[0] as never, args[1] as { timeoutMs?: number } | undefined);
    case 'getSnapshot': {
      const { status, value, context, output, error } = await runtime.getSnapshot(id);
      return { kind: runtime.peek(id)?.kind, wire: { status, value, context, output, error } };
    }
    case 'stop':
      return runtime.stop(id);
    case 'retryQuarantined':
      return runtime.retryQuarantined(id);
    case 'removeQuarantined':
      return runtime.removeQuarantined(id);
    default:
      throw new Error(`fleet: unknown routed call ${JSON.stringify(op)}`);
  }
}

/** The fleet's shard count is fixed when its first host starts; a host with another count is refused. */
async function checkShardCount(meta: KV, name: string, shards: number): Promise<void> {
  const value = new TextEncoder().encode(String(shards));
  try {
    await meta.create('shards', value);
    return;
  } catch {
    // Created by an earlier host: it must agree.
  }
  const entry = await meta.get('shards');
  const fixed = entry ? Number(new TextDecoder().decode(entry.value)) : shards;
  if (fixed !== shards) {
    throw new InvalidOptionError(`options.fleet.shards is ${shards}, but fleet ${JSON.stringify(name)} was created with ${fixed} shards; every host of a fleet must use ${fixed}`);
  }
}

/** What the runtime gives its fleet host: routed calls run here, and its own `subscribe`/`getSnapshot` for watches. */
export interface FleetLocal extends LocalCalls {
  subscribe(id: string, observer: Partial<Observer<AnyMachineSnapshot>>): () => void;
  getSnapshot(id: string): Promise<AnyMachineSnapshot>;
  /** A session on another host took `label`: mail held here for it is sent there. */
  labelTaken(group: string, label: string, id: string): void;
}

export class FleetHost {
  readonly #core: RuntimeCore;
  readonly #fleet: ResolvedFleet;
  readonly #store: JetStreamStore;
  readonly #nc: NatsConnection;
  readonly #router: FleetRouter;
  readonly #watches: FleetWatches;
  readonly #local: FleetLocal;
  #directory: FleetDirectory | undefined;
  #coordinator: ShardCoordinator | undefined;
  /** Shards being handed off: calls for them wait for the next owner from the moment it begins. */
  readonly #leaving = new Set<number>();
  /** Shards lost whose sessions are still being stopped here. */
  readonly #stopping = new Map<number, Promise<void>>();

  private constructor(core: RuntimeCore, fleet: ResolvedFleet, store: JetStreamStore, nc: NatsConnection, local: FleetLocal) {
    this.#core = core;
    this.#fleet = fleet;
    this.#store = store;
    this.#nc = nc;
    this.#local = local;
    const call = (op: string, id: string, args: unknown[]) => this.#router.call(op, id, args);
    this.#watches = new FleetWatches({
      nc,
      leaseTtlMs: fleet.leaseTtlMs,
      call,
      subscribe: local.subscribe,
      getSnapshot: local.getSnapshot,
      kindOf: (id) => core.directory.info(id)?.kind,
      resolve: (kind, wire) => resolveSnapshot(core, { kind } as SessionRecord, wire),
    });
    // Watches are served here; every other call is the runtime's.
    const served: LocalCalls = {
      call: (op, id, args) => {
        if (op === 'watch') return this.#watches.serve(id, args[0] as string, args[1] as boolean);
        if (op === 'unwatch') return Promise.resolve(this.#watches.unserve(args[0] as string));
        return local.call(op, id, args);
      },
    };
    this.#router = new FleetRouter({ nc, name: fleet.name, shards: fleet.shards, host: fleet.host, owns: (shard) => this.#owns(shard), local: served, ledger: store });
  }

  static async start(core: RuntimeCore, fleet: ResolvedFleet, store: JetStreamStore, local: FleetLocal): Promise<FleetHost> {
    const nc = await connect({ servers: fleet.servers, ...RECONNECT });
    const host = new FleetHost(core, fleet, store, nc, local);
    core.route = { elsewhere: (id) => !host.owns(id), call: (op, id, args) => host.call(op, id, args), stats: () => host.stats() };
    store.onFenced = (shard) => host.#coordinator?.abandon(shard);
    try {
      await host.#join();
    } catch (error) {
      await nc.close();
      throw error;
    }
    return host;
  }

  /** Whether session `id` lives on this host (its shard is ours). */
  owns(id: string): boolean {
    return this.#owns(shardOf(id, this.#fleet.shards));
  }

  /** Runs `op` where session `id` lives. */
  call(op: string, id: string, args: unknown[]): Promise<unknown> {
    return this.#router.call(op, id, args);
  }

  /** The fleet's name, this host's, and each shard's holder (this host's own shards for sure, the others' as last seen). */
  stats(): FleetStats {
    const { name, host, shards } = this.#fleet;
    return {
      name,
      host,
      shards: Array.from({ length: shards }, (_, shard) => ({ shard, host: this.#owns(shard) ? host : this.#directory?.holderOf(shard) })),
    };
  }

  /** Session `id`, which lives on another host, as seen from here (fleet-directory.ts). */
  info(id: string): SessionInfo | undefined {
    return this.#directory?.info(id);
  }

  /** The fleet's sessions that live on other hosts, for `list`. */
  remote(wanted: (id: string, pool: string, status: SessionInfo['status']) => boolean): SessionInfo[] {
    return this.#directory ? [...this.#directory.rows(wanted)] : [];
  }

  /** `subscribe` to session `id`, which lives on another host (fleet-watch.ts). */
  watch(id: string, observer: Partial<Observer<AnyMachineSnapshot>>, current = false): () => void {
    return this.#watches.watch(id, observer, current);
  }

  /** Before the shutdown stops this host's sessions: their watchers renew with the next owners (no `complete`). */
  closeWatches(): void {
    this.#watches.close();
  }

  /** Hands every shard back (its sessions were stopped and saved by the runtime's shutdown). */
  async stop(): Promise<void> {
    this.#watches.close();
    this.#directory?.close();
    await this.#coordinator?.stop();
    this.#router.close();
    await this.#nc.close();
  }

  #owns(shard: number): boolean {
    return !this.#leaving.has(shard) && this.#coordinator?.epochOf(shard) !== undefined && this.#store.holds(shard);
  }

  async #join(): Promise<void> {
    const { leaseTtlMs, name, host, shards, replicas } = this.#fleet;
    const kvm = new Kvm(this.#nc);
    await checkShardCount(await kvm.create(`${name}-meta`, { history: 1, replicas }), name, shards);
    const leases = await kvm.create(`${name}-leases`, { history: 1, ttl: leaseTtlMs, replicas });
    const members = await kvm.create(`${name}-members`, { history: 1, ttl: leaseTtlMs, replicas });
    const { directory, labels } = this.#core;
    this.#directory = await FleetDirectory.open({ sessions: await kvm.create(`${name}-sessions`, { history: 1, replicas }), leases }, shards, {
      has: (id) => directory.byId.has(id) || directory.leaving.has(id) || directory.passive.has(id) || directory.quarantined.has(id),
      hold: (id, label) => labels.hold(id, label),
      release: (id) => labels.release(id),
      labelTaken: (group, label, id) => this.#local.labelTaken(group, label, id),
    });
    const logger = this.#core.logger;
    this.#coordinator = new ShardCoordinator({
      leases,
      members,
      host,
      shards,
      leaseTtlMs,
      clock: { now: () => performance.now(), setTimeout: (fn, ms) => setTimeout(fn, ms).unref(), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) },
      onAcquired: async (shard, epoch) => {
        // Lost here a moment ago: its sessions' stops finish before it is restored.
        await this.#stopping.get(shard);
        logger.debug({ shard, epoch, host }, 'shard lease won; replaying its log');
        await this.#store.acquire(shard, epoch);
        this.#core.lifecycle.resume((id) => shardOf(id, shards) === shard);
        this.#router.serve(shard);
        logger.info({ shard, epoch, host }, 'shard acquired');
        this.#core.events.emit('shardAcquired', { shard, epoch });
      },
      onRelease: async (shard) => {
        this.#leaving.add(shard);
        this.#router.unserve(shard);
        this.#watches.drop((id) => shardOf(id, shards) === shard);
        const { directory, stopper } = this.#core;
        const live = [...directory.byId.values()].filter((record) => shardOf(record.id, shards) === shard);
        await Promise.allSettled(live.map((record) => stopper.stop(record, 'evict')));
        this.#forgetPassive(shard);
        await this.#store.release(shard);
        this.#leaving.delete(shard);
        logger.info({ shard, host }, 'shard handed off');
        this.#core.events.emit('shardLost', { shard, reason: 'handedOff' });
      },
      onLost: (shard, reason) => {
        this.#router.unserve(shard);
        this.#watches.drop((id) => shardOf(id, shards) === shard);
        // Nothing more is written for it: the store lets it go first.
        void this.#store.release(shard);
        const { directory, stopper } = this.#core;
        const stops = [...directory.byId.values(), ...[...directory.leaving.values()].map((leaving) => leaving.record)]
          .filter((record) => shardOf(record.id, shards) === shard)
          .map((record) => stopper.stop(record, 'shutdown').catch(() => {}));
        const stopped = Promise.all(stops).then(() => {
          if (this.#stopping.get(shard) === stopped) this.#stopping.delete(shard);
        });
        this.#stopping.set(shard, stopped);
        this.#forgetPassive(shard);
        logger.warn({ shard, host, reason }, 'shard lost: its sessions were stopped here');
        this.#core.events.emit('shardLost', { shard, reason: reason === 'refused' ? 'refused' : 'expired' });
      },
      onError: (error) => logger.warn({ err: error }, 'fleet: a shard round failed; trying again'),
    });
    await this.#coordinator.start();
  }

  #forgetPassive(shard: number): void {
    const { directory } = this.#core;
    for (const id of [...directory.passive.keys()]) if (shardOf(id, this.#fleet.shards) === shard) directory.passive.delete(id);
    for (const id of [...directory.quarantined.keys()]) if (shardOf(id, this.#fleet.shards) === shard) directory.quarantined.delete(id);
  }
}
