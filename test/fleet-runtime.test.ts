// Two hosts of one fleet on a real nats-server (fleet groundwork): calls made on either host
// reach the session wherever it lives; when the second host joins, the first hands it shards
// (their sessions evicted to JetStream) and the second restores them on first use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, InvalidOptionError, type Runtime } from '../dist/src/index.js';
import { fixture, silentLogger } from './helpers.js';
import { startNats, type NatsServer } from './nats-server.js';

describe('a fleet of two hosts (groundwork)', () => {
  let nats: NatsServer & { restart(): Promise<void> };
  const runtimes: Runtime[] = [];
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    try {
      for (const runtime of runtimes) await runtime.shutdown();
    } finally {
      await nats?.stop();
    }
  }, 120_000);

  const host = async (name: string) => {
    const runtime = await createRuntime({
      machines: { counter: fixture('counter') },
      workers: 1,
      logger: silentLogger,
      fleet: { servers: nats.url, name: 'pair', host: name, shards: 4, leaseTtlMs: 1_500 },
    });
    runtimes.push(runtime);
    return runtime;
  };

  it('sessions spawned and driven through either host keep every event across a handoff of shards', { timeout: 60_000 }, async () => {
    const a = await host('host-a');
    const ids = Array.from({ length: 12 }, (_, i) => `conv-${i}`);
    // Host A alone: every shard is its own, every session lives there.
    for (let wait = 0; wait < 100 && (await a.spawn('counter', { id: 'probe' }).then(() => false, () => true)); wait++) await new Promise((r) => setTimeout(r, 100));
    for (const id of ids) await a.spawn('counter', { id });
    for (const id of ids) for (let n = 0; n < 3; n++) await a.send(id, { type: 'INC' });

    const lostByA: Array<{ shard: number; reason: string }> = [];
    a.on('shardLost', (event) => lostByA.push(event));
    // Host B joins: A hands it about half of the shards (their sessions evicted, kept in JetStream).
    const b = await host('host-b');
    const acquiredByB: Array<{ shard: number; epoch: number }> = [];
    b.on('shardAcquired', (event) => acquiredByB.push(event));
    const livesOnB = (id: string) => b.peek(id)?.host === 'host-b';
    for (let wait = 0; wait < 200 && !ids.some(livesOnB); wait++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ids.some(livesOnB)).toBe(true);

    // Every session answers through both hosts, with every event it was sent.
    for (const id of ids) {
      await b.send(id, { type: 'INC' });
      await a.send(id, { type: 'INC' });
      expect((await a.getSnapshot(id)).context).toMatchObject({ count: 5 });
      expect((await b.getSnapshot(id)).context).toMatchObject({ count: 5 });
    }
    // A said which shards it handed off, B which it took, with their epochs.
    expect(lostByA.length).toBeGreaterThan(0);
    expect(lostByA.every((event) => event.reason === 'handedOff')).toBe(true);
    expect(acquiredByB.map((event) => event.shard).sort()).toEqual(lostByA.map((event) => event.shard).sort());
    expect(acquiredByB.every((event) => event.epoch > 0)).toBe(true);
    // Either host says where each session lives (the other's sessions have status 'remote').
    for (const id of ids) {
      const [onA, onB] = [a.peek(id)!, b.peek(id)!];
      expect(onA.host).toBe(onB.host);
      expect([onA.status, onB.status].filter((status) => status === 'remote')).toHaveLength(1);
    }
    expect(a.list().map((info) => info.id).sort()).toEqual(b.list().map((info) => info.id).sort());
    // Each session lives on exactly one host.
    for (const id of ids) expect([a.peek(id), b.peek(id)].filter((info) => info?.status === 'active')).toHaveLength(1);
    // A stop made on either host ends the session where it lives.
    await b.stop(ids[0]!);
    await expect(a.send(ids[0]!, { type: 'INC' })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_SESSION' });
  });

  it('refuses a bad fleet option with a typed error that names it', async () => {
    const bad = (fleet: unknown) => createRuntime({ machines: { counter: fixture('counter') }, fleet: fleet as never });
    await expect(bad({ servers: nats.url, name: 'has spaces' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(bad({ servers: nats.url, name: 'x', shards: 0 })).rejects.toThrow(/options\.fleet\.shards/);
    await expect(bad('nats://127.0.0.1:4222')).rejects.toThrow(/options\.fleet must be an object/);
    await expect(bad({ servers: [], name: 'x' })).rejects.toThrow(/options\.fleet\.servers/);
    await expect(bad({ servers: nats.url, name: 'x', host: '' })).rejects.toThrow(/options\.fleet\.host/);
    await expect(bad({ servers: nats.url, name: 'x', leaseTtlMs: 10 })).rejects.toThrow(/options\.fleet\.leaseTtlMs must be an integer from 1,000/);
    await expect(bad({ servers: nats.url, name: 'x', replicas: 2 })).rejects.toThrow(/options\.fleet\.replicas must be 1 or 3/);
    // The fleet "pair" was created with 4 shards: a host with 8 is refused, naming the count to use.
    const mismatch = createRuntime({ machines: { counter: fixture('counter') }, workers: 1, logger: silentLogger, fleet: { servers: nats.url, name: 'pair', shards: 8 } });
    await expect(mismatch).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(mismatch).rejects.toThrow(/created with 4 shards/);
  });

  it('a nats-server killed (SIGKILL) and restarted mid-load loses no acknowledged event and doubles none', { timeout: 60_000 }, async () => {
    const solo = await createRuntime({
      machines: { counter: fixture('counter') },
      workers: 1,
      logger: silentLogger,
      fleet: { servers: nats.url, name: 'solo', host: 'solo-host', shards: 4, leaseTtlMs: 3_000 },
    });
    runtimes.push(solo);
    const ids = Array.from({ length: 8 }, (_, i) => `r${i}`);
    for (const id of ids) {
      for (let wait = 0; wait < 100; wait++) {
        if (await solo.spawn('counter', { id }).then(() => true, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const acknowledged = new Map(ids.map((id) => [id, 0]));
    const attempted = new Map(ids.map((id) => [id, 0]));
    const load = Promise.all(
      ids.map(async (id) => {
        for (let n = 0; n < 40; n++) {
          attempted.set(id, attempted.get(id)! + 1);
          await solo.send(id, { type: 'INC' }).then(() => acknowledged.set(id, acknowledged.get(id)! + 1), () => {});
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    await nats.restart();
    await load;
    let total = 0;
    for (const id of ids) {
      const { count } = (await solo.getSnapshot(id)).context as { count: number };
      expect(count).toBeGreaterThanOrEqual(acknowledged.get(id)!);
      expect(count).toBeLessThanOrEqual(attempted.get(id)!);
      total += acknowledged.get(id)!;
    }
    expect(total).toBeGreaterThan(0);
  });
});
