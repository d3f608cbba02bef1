// Hosts sharing a fleet's shards (src/runtime/fleet/shard-coordinator.ts) on a real nats-server:
// a fair share each, a crashed host's shards taken over once its leases expire, surplus handed
// to a host that joins — and never two holders of one shard at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { ShardCoordinator } from '../dist/src/runtime/fleet/shard-coordinator.js';
import { startNats, type NatsServer } from './nats-server.js';

const SHARDS = 8;
const TTL = 1_500;
const clock = { now: () => performance.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

interface Tenure {
  host: string;
  shard: number;
  epoch: number;
  from: number;
  to: number;
}

describe('shard coordinators on a real nats-server (2.9.10)', () => {
  let nats: NatsServer;
  const connections: NatsConnection[] = [];
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    try {
      for (const nc of connections) await nc.close().catch(() => {});
    } finally {
      await nats?.stop();
    }
  }, 120_000);

  const tenures: Tenure[] = [];
  async function host(name: string): Promise<{ coordinator: ShardCoordinator; nc: NatsConnection }> {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    const kvm = new Kvm(nc);
    const leases = await kvm.create('fleet-leases', { history: 1, ttl: TTL });
    const members = await kvm.create('fleet-members', { history: 1, ttl: TTL });
    const end = (shard: number) => {
      const open = tenures.find((t) => t.host === name && t.shard === shard && t.to === Infinity);
      if (open) open.to = performance.now();
    };
    const coordinator = new ShardCoordinator({
      leases,
      members,
      host: name,
      shards: SHARDS,
      leaseTtlMs: TTL,
      clock,
      onAcquired: async (shard, epoch) => void tenures.push({ host: name, shard, epoch, from: performance.now(), to: Infinity }),
      onRelease: async (shard) => end(shard),
      onLost: (shard) => end(shard),
    });
    await coordinator.start();
    return { coordinator, nc };
  }

  async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
    const started = performance.now();
    while (!condition()) {
      if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const covered = (...coordinators: ShardCoordinator[]) => {
    const all = coordinators.flatMap((c) => c.owned());
    return new Set(all).size === SHARDS && all.length === SHARDS;
  };

  it('three hosts take a fair share each; a crashed host’s shards go to the others; a host that joins gets its share; never two holders at once', { timeout: 60_000 }, async () => {
    const a = await host('host-a');
    const b = await host('host-b');
    const c = await host('host-c');
    await until(() => covered(a.coordinator, b.coordinator, c.coordinator) && [a, b, c].every((h) => h.coordinator.owned().length >= 2), 'all shards held, 2–3 each');

    // host-c dies: its connection drops, its leases are refused or run out; the others take over.
    await c.nc.close();
    await until(() => covered(a.coordinator, b.coordinator) && a.coordinator.owned().length === 4, 'host-a and host-b hold all 8, 4 each');
    expect(c.coordinator.owned()).toEqual([]);
    await c.coordinator.stop();

    // host-d joins: the others hand their surplus back, gracefully.
    const d = await host('host-d');
    await until(() => covered(a.coordinator, b.coordinator, d.coordinator) && d.coordinator.owned().length >= 2, 'host-d holds its share');

    for (const h of [a, b, d]) await h.coordinator.stop();
    expect(a.coordinator.owned()).toEqual([]);

    // No shard ever had two holders at once; epochs only grow along each shard's history.
    for (let shard = 0; shard < SHARDS; shard++) {
      const history = tenures.filter((t) => t.shard === shard).sort((x, y) => x.from - y.from);
      for (let i = 1; i < history.length; i++) {
        expect(history[i]!.from).toBeGreaterThanOrEqual(history[i - 1]!.to);
        expect(history[i]!.epoch).toBeGreaterThan(history[i - 1]!.epoch);
      }
    }
    expect(tenures.filter((t) => t.host === 'host-d').length).toBeGreaterThanOrEqual(2);
    expect(tenures.filter((t) => t.host !== 'host-c' && tenures.some((o) => o.host === 'host-c' && o.shard === t.shard && o.to <= t.from)).length).toBeGreaterThan(0);
  });

  it('a shard abandoned (its storage fenced by another write) is given up at once (lost, its lease let go) and taken again with a greater epoch', { timeout: 30_000 }, async () => {
    const e = await host('host-e');
    await until(() => e.coordinator.owned().length === SHARDS, 'host-e holds every shard');
    const before = tenures.filter((t) => t.host === 'host-e' && t.shard === 3);
    expect(before).toHaveLength(1);
    e.coordinator.abandon(3);
    expect(e.coordinator.owned()).not.toContain(3);
    expect(before[0]!.to).toBeLessThan(Infinity);
    await until(() => e.coordinator.owned().includes(3), 'shard 3 taken again');
    const after = tenures.filter((t) => t.host === 'host-e' && t.shard === 3);
    expect(after).toHaveLength(2);
    expect(after[1]!.epoch).toBeGreaterThan(after[0]!.epoch);
    await e.coordinator.stop();
  });

  it('stop does not wait forever for a round stuck on a NATS call that never answers', { timeout: 20_000 }, async () => {
    const never = () => new Promise<never>(() => {});
    const stuck = { create: never, update: never, delete: never, keys: never };
    const errors: unknown[] = [];
    const coordinator = new ShardCoordinator({
      ...{ leases: stuck, members: stuck, host: 'stuck', shards: 2, leaseTtlMs: 1_000, clock },
      ...{ onAcquired: async () => {}, onRelease: async () => {}, onLost: () => {}, onError: (error: unknown) => errors.push(error) },
    });
    void coordinator.start();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the round is under way, waiting on `create`
    await coordinator.stop();
    expect(String(errors[0])).toMatch(/the last shard round took more than 1000 ms/);
  });
});
