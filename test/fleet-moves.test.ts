// What a session's shard carries when it moves to another host (real nats-server, two hosts in
// this process): an armed timer fires on the new owner at its deadline, although nobody sends
// the session anything (the new owner's alarms wake it); its label stays held.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../dist/src/index.js';
import { shardOf } from '../dist/src/runtime/fleet/placement.js';
import { fixture, silentLogger } from './helpers.js';
import { startNats, type NatsServer } from './nats-server.js';

const until = async (what: string, condition: () => boolean, ms = 20_000) => {
  for (const started = performance.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (performance.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
  }
};

describe('a shard moving to another host', () => {
  let nats: NatsServer;
  let a: Runtime;
  let b: Runtime;
  const acquiredByB = new Set<number>();
  const host = (name: string) =>
    createRuntime({
      machines: { alarm: fixture('alarm') },
      workers: 1,
      logger: silentLogger,
      groups: { agents: {} },
      fleet: { servers: nats.url, name: 'moves', host: name, shards: 4, leaseTtlMs: 6_000 }, // long: shards stay put on a busy machine
    });

  beforeAll(async () => {
    nats = await startNats();
    a = await host('host-a');
    b = await host('host-b');
    b.on('shardAcquired', ({ shard }) => acquiredByB.add(shard));
    await until('host B to hold its share', () => acquiredByB.size === 2);
  }, 60_000);
  afterAll(async () => {
    try {
      await a?.shutdown();
      await b?.shutdown();
    } finally {
      await nats?.stop();
    }
  }, 60_000);

  it("a timer armed on host B fires on host A at its deadline after B leaves, with nobody sending to the session; its label stays held", { timeout: 60_000 }, async () => {
    // A session that lives on host B (its id is in one of B's shards), spawned and armed through A.
    const id = Array.from({ length: 100 }, (_, i) => `timer-${i}`).find((candidate) => acquiredByB.has(shardOf(candidate, 4)))!;
    await a.spawn('alarm', { id, label: { group: 'agents', name: 'sleeper' } });
    expect(b.peek(id)?.host).toBe('host-b');
    const armedAt = Date.now();
    await a.send(id, { type: 'ARM', ms: 4_000, at: armedAt } as never);

    const woken: string[] = [];
    a.on('reactivated', ({ id: which }) => woken.push(which));
    // Host B leaves: its sessions are saved (the timer with its deadline) and its shards handed to A.
    await b.shutdown();
    await until('host A to hold the session, passive', () => a.peek(id)?.status === 'evicted');
    expect(a.peek(id)?.host).toBe('host-a');
    expect(a.lookup('agents', 'sleeper')).toBe(id);

    // Nobody sends to it: A's alarms wake it at the deadline, and the timer fires then.
    await until('the timer to wake the session on host A', () => woken.includes(id), 15_000);
    const { context } = (await a.getSnapshot(id)) as unknown as { context: { fired: number; firedAt: number } };
    expect(context.fired).toBe(1);
    expect(context.firedAt).toBeGreaterThanOrEqual(armedAt + 4_000 - 50);
  });
});
