// A shard's lease (src/runtime/fleet/shard-lease.ts) on an injected clock, over a KV that keeps
// NATS KV's compare-and-swap rules (create refused while a live key exists, update naming the
// revision, TTL on the server's clock); then the same lease on a real nats-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { ShardLease, type LeaseKv, type LostReason } from '../dist/src/runtime/fleet/shard-lease.js';
import { fairShare, rebalance, shardOf } from '../dist/src/runtime/fleet/placement.js';
import { startNats, type NatsServer } from './nats-server.js';

/** A clock whose time moves only when told; due timers fire in order, their promises settle between. */
function timerClock() {
  let time = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => time,
    setTimeout: (fn: () => void, ms: number) => {
      const id = nextId++;
      timers.set(id, { at: time + ms, fn });
      return id;
    },
    clearTimeout: (id: unknown) => void timers.delete(id as number),
    async advance(ms: number) {
      const end = time + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        time = Math.max(time, due[1].at);
        due[1].fn();
        for (let i = 0; i < 10; i++) await Promise.resolve();
      }
      time = end;
    },
  };
}

/** NATS KV's rules for one bucket, on `clock` (the server's): revisions grow, keys expire after `ttlMs`. */
function ruleKeepingKv(clock: { now(): number }, ttlMs: number) {
  let revision = 0;
  const keys = new Map<string, { revision: number; writtenAt: number }>();
  const live = (key: string) => {
    const entry = keys.get(key);
    return entry && clock.now() - entry.writtenAt < ttlMs ? entry : undefined;
  };
  let hang = false;
  let down = false;
  const kv: LeaseKv & { hang(on: boolean): void; down(on: boolean): void } = {
    hang: (on) => void (hang = on),
    down: (on) => void (down = on),
    async create(key) {
      if (live(key)) throw new Error('wrong last sequence');
      keys.set(key, { revision: ++revision, writtenAt: clock.now() });
      return revision;
    },
    async update(key, _value, version) {
      if (hang) return new Promise<number>(() => {});
      if (down) throw new Error('connection closed');
      const entry = live(key);
      if (!entry || entry.revision !== version) throw new Error('wrong last sequence');
      keys.set(key, { revision: ++revision, writtenAt: clock.now() });
      return revision;
    },
    async delete(key, { previousSeq }) {
      if (live(key)?.revision === previousSeq) keys.delete(key);
    },
  };
  return kv;
}

function lease(kv: LeaseKv, clock: ReturnType<typeof timerClock>, host: string, lost: LostReason[] = []) {
  return new ShardLease({ kv, shard: 3, host, ttlMs: 3_000, clock, onLost: (reason) => lost.push(reason) });
}

/** Host "a" holding the lease (3 s, on a clock and a KV of its own), and what it was told it lost. */
async function held() {
  const clock = timerClock();
  const kv = ruleKeepingKv(clock, 3_000);
  const lost: LostReason[] = [];
  const a = lease(kv, clock, 'a', lost);
  await a.acquire();
  return { clock, kv, lost, a };
}

describe('a shard lease on the injected clock', () => {
  it('is taken by one holder; its epoch is the create revision; renewed every third of the lease, it stays valid', async () => {
    const clock = timerClock();
    const kv = ruleKeepingKv(clock, 3_000);
    const a = lease(kv, clock, 'a');
    const b = lease(kv, clock, 'b');
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(a.epoch).toBe(1);
    await clock.advance(10_000);
    expect(a.valid()).toBe(true);
    expect(await b.acquire()).toBe(false);
  });

  it('fences itself at its deadline (sent + ttl − margin) when renewals get no answer, before the key expires on the server', async () => {
    const { clock, kv, lost, a } = await held();
    kv.hang(true);
    await clock.advance(2_699);
    expect(a.valid()).toBe(true);
    expect(lost).toEqual([]);
    await clock.advance(1);
    expect(a.valid()).toBe(false);
    expect(lost).toEqual(['expired']);
    // The server still has the key: nobody else can take the shard until it expires.
    const b = lease(kv, clock, 'b');
    expect(await b.acquire()).toBe(false);
    await clock.advance(300);
    expect(await b.acquire()).toBe(true);
    expect(b.epoch).toBeGreaterThan(1);
  });

  it('rides out a server that is down for less than its margin: renewals are tried again, it is never fenced', async () => {
    const { clock, kv, lost, a } = await held();
    kv.down(true);
    await clock.advance(1_500);
    expect(a.valid()).toBe(true);
    kv.down(false);
    await clock.advance(10_000);
    expect(lost).toEqual([]);
    expect(a.valid()).toBe(true);
  });

  it('a server down past the deadline: fenced at the deadline, not before', async () => {
    const { clock, kv, lost } = await held();
    kv.down(true);
    await clock.advance(2_650);
    expect(lost).toEqual([]);
    await clock.advance(100);
    expect(lost).toEqual(['expired']);
  });

  it('fences itself at once when a renew is refused (another holder has the key)', async () => {
    const { clock, kv, lost, a } = await held();
    await kv.delete('shard.3', { previousSeq: 1 });
    await lease(kv, clock, 'b').acquire();
    await clock.advance(1_000);
    expect(lost).toEqual(['refused']);
    expect(a.valid()).toBe(false);
    expect(a.epoch).toBeUndefined();
  });

  it('is released: fenced at once, the key deleted, another holder takes it', async () => {
    const { clock, kv, lost, a } = await held();
    await a.release();
    expect(a.valid()).toBe(false);
    expect(lost).toEqual([]);
    expect(await lease(kv, clock, 'b').acquire()).toBe(true);
  });
});

describe('placement', () => {
  it('puts a session on a stable shard, spread over all shards', () => {
    expect(shardOf('session-1', 64)).toBe(shardOf('session-1', 64));
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[shardOf(`s${i}`, 16)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(700);
  });

  it('aims for a fair share: takes free shards up to it, hands back the surplus when a member joins', () => {
    expect(fairShare(64, 3)).toBe(22);
    expect(rebalance({ shards: 4, members: 1, held: new Set(), free: new Set([0, 1, 2, 3]) })).toEqual({ take: [0, 1, 2, 3], release: [] });
    expect(rebalance({ shards: 4, members: 2, held: new Set([0, 1, 2, 3]), free: new Set() })).toEqual({ take: [], release: [3, 2] });
    expect(rebalance({ shards: 4, members: 2, held: new Set([0]), free: new Set([2, 3]) })).toEqual({ take: [2], release: [] });
  });
});

describe('a shard lease on a real nats-server (2.9.10)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    try {
      await nc?.close();
    } finally {
      await nats?.stop();
    }
  }, 120_000);

  it('one holder at a time; a holder whose renewals stop fences itself before another can take the shard; its stale write is refused', { timeout: 20_000 }, async () => {
    const kv = await new Kvm(nc).create('leases-test', { history: 1, ttl: 1_500 });
    const clock = { now: () => performance.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    let paused = false;
    const pausable: LeaseKv = {
      create: (key, value) => kv.create(key, value),
      update: (key, value, version) => (paused ? new Promise<number>(() => {}) : kv.update(key, value, version)),
      delete: (key, options) => kv.delete(key, options),
    };
    let lostAt = 0;
    const a = new ShardLease({ kv: pausable, shard: 1, host: 'a', ttlMs: 1_500, clock, onLost: () => (lostAt = performance.now()) });
    const b = new ShardLease({ kv, shard: 1, host: 'b', ttlMs: 1_500, clock, onLost: () => {} });
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    // Renewed: it outlives the bucket's TTL several times over.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(a.valid()).toBe(true);
    expect(await b.acquire()).toBe(false);
    const staleRevision = (await kv.get('shard.1'))!.revision;
    paused = true;
    let acquiredAt = 0;
    for (let tries = 0; tries < 100 && acquiredAt === 0; tries++) {
      if (await b.acquire()) acquiredAt = performance.now();
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(acquiredAt).toBeGreaterThan(0);
    expect(lostAt).toBeGreaterThan(0);
    expect(lostAt).toBeLessThan(acquiredAt);
    expect(b.epoch).toBeGreaterThan(staleRevision);
    await expect(kv.update('shard.1', new TextEncoder().encode('a'), staleRevision)).rejects.toThrow(/wrong last sequence/);
    await b.release();
  });
});
