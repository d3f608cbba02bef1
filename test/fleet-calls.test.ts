// Calls made on one host of a fleet for a session that lives on another (real nats-server, two
// hosts in this process): subscribe and waitFor hear the other host's session; a watch follows
// the session when its shard moves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { createRuntime, UnknownSessionError, type Runtime } from '../dist/src/index.js';
import { fixture, silentLogger } from './helpers.js';
import { startNats, type NatsServer } from './nats-server.js';

const until = async (what: string, condition: () => boolean, ms = 20_000) => {
  for (const started = performance.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (performance.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
  }
};

describe('calls across the hosts of a fleet', () => {
  let nats: NatsServer;
  let a: Runtime;
  let b: Runtime;
  const ids = Array.from({ length: 16 }, (_, i) => `s-${i}`);
  /** A session that lives on host A, and one on host B. */
  let onA: string;
  let onB: string;

  const host = (name: string) =>
    createRuntime({
      machines: { counter: fixture('counter') },
      workers: 1,
      logger: silentLogger,
      fleet: { servers: nats.url, name: 'calls', host: name, shards: 4, leaseTtlMs: 1_500 },
    });

  beforeAll(async () => {
    nats = await startNats();
    a = await host('host-a');
    b = await host('host-b');
    // Host A held every shard when B joined; B gets its share (two) from A's handoffs.
    const acquiredByB = new Set<number>();
    b.on('shardAcquired', ({ shard }) => acquiredByB.add(shard));
    await until('host B to hold its share', () => acquiredByB.size === 2);
    for (const id of ids) await a.spawn('counter', { id });
    onA = ids.find((id) => a.peek(id)?.host === 'host-a')!;
    onB = ids.find((id) => b.peek(id)?.host === 'host-b')!;
    expect(onA && onB).toBeTruthy();
  }, 60_000);
  afterAll(async () => {
    try {
      await a?.shutdown();
      await b?.shutdown();
    } finally {
      await nats?.stop();
    }
  }, 60_000);

  it('subscribe on host B hears every snapshot of a session that lives on host A, and stops when unsubscribed', { timeout: 30_000 }, async () => {
    const heard: number[] = [];
    const off = b.subscribe(onA, (snapshot) => heard.push((snapshot.context as { count: number }).count));
    // The watch is registered with the owner before the first event counts on it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let n = 0; n < 3; n++) await a.send(onA, { type: 'INC' });
    await until('three snapshots on host B', () => heard.length >= 3);
    expect(heard.slice(-3)).toEqual([1, 2, 3]);
    off();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.send(onA, { type: 'INC' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard.at(-1)).toBe(3);
  });

  it('waitFor on host B resolves with a typed snapshot of the session on host A; complete when it ends', { timeout: 30_000 }, async () => {
    const waiting = b.waitFor(onA, (snapshot) => (snapshot.context as { count: number }).count >= 6, { timeoutMs: 15_000 });
    for (let n = 0; n < 2; n++) await a.send(onA, { type: 'INC' });
    await b.send(onA, { type: 'INC' });
    const snapshot = await waiting;
    expect(snapshot.context).toMatchObject({ count: 6 });
    expect(snapshot.matches('counting')).toBe(true);

    let completed = false;
    const final: AnyMachineSnapshot[] = [];
    b.subscribe(onA, { next: (s) => final.push(s as AnyMachineSnapshot), complete: () => (completed = true) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.send(onA, { type: 'FINISH' });
    await until('the watch to complete', () => completed);
    expect(final.at(-1)?.status).toBe('done');
  });

  it("subscribe to a session no host has: UnknownSessionError, thrown by its shard's owner, given to the observer elsewhere", { timeout: 30_000 }, async () => {
    const thrown: unknown[] = [];
    const heard: unknown[] = [];
    for (const runtime of [a, b]) {
      try {
        runtime.subscribe('nobody', { error: (error) => heard.push(error) });
      } catch (error) {
        thrown.push(error);
      }
    }
    await until('the other host to hear of it', () => heard.length === 1);
    expect(thrown).toEqual([expect.any(UnknownSessionError)]);
    expect(heard).toEqual([expect.any(UnknownSessionError)]);
  });

  it('a watch follows its session when its shard moves to another host', { timeout: 60_000 }, async () => {
    const heard: number[] = [];
    const off = a.subscribe(onB, (snapshot) => heard.push((snapshot.context as { count: number }).count));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await b.send(onB, { type: 'INC' });
    await until('the first snapshot', () => heard.includes(1));
    // Host B leaves: its shards (onB's among them) move to host A.
    await b.shutdown();
    await a.send(onB, { type: 'INC' });
    expect(a.peek(onB)?.host).toBe('host-a');
    await until('the snapshot after the move', () => heard.includes(2));
    off();
  });

});
