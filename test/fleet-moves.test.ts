// What a session's shard carries when it moves to another host (real nats-server, two hosts in
// this process): an armed timer fires on the new owner at its deadline, although nobody sends
// the session anything (the new owner's alarms wake it); its label stays held.
import { describe, expect, it } from 'vitest';
import { shardOf } from '../dist/src/runtime/fleet/placement.js';
import { eventually, fixture } from './helpers.js';
import { PAIR_SHARDS, useFleetPair } from './fleet-pair.js';

describe('a shard moving to another host', () => {
  const pair = useFleetPair('moves', { machines: { alarm: fixture('alarm') }, groups: { agents: {} } });

  it("a timer armed on host B fires on host A at its deadline after B leaves, with nobody sending to the session; its label stays held", { timeout: 60_000 }, async () => {
    // A session that lives on host B (its id is in one of B's shards), spawned and armed through A.
    const { a, b, shardsOfB } = pair;
    const id = Array.from({ length: 100 }, (_, i) => `timer-${i}`).find((candidate) => shardsOfB.has(shardOf(candidate, PAIR_SHARDS)))!;
    await a.spawn('alarm', { id, label: { group: 'agents', name: 'sleeper' } });
    expect(b.peek(id)?.host).toBe('host-b');
    const armedAt = Date.now();
    await a.send(id, { type: 'ARM', ms: 4_000, at: armedAt } as never);

    const woken: string[] = [];
    a.on('reactivated', ({ id: which }) => woken.push(which));
    // Host B leaves: its sessions are saved (the timer with its deadline) and its shards handed to A.
    await b.shutdown();
    await eventually(() => a.peek(id)?.status === 'evicted');
    expect(a.peek(id)?.host).toBe('host-a');
    expect(a.lookup('agents', 'sleeper')).toBe(id);

    // Nobody sends to it: A's alarms wake it at the deadline, and the timer fires then.
    await eventually(() => woken.includes(id), 15_000);
    // The restore re-arms the timer with what it has left (none): it fires just after the wake.
    const { context } = (await a.waitFor(id, (snapshot) => (snapshot.context as { fired: number }).fired > 0, { timeoutMs: 5_000 })) as unknown as {
      context: { fired: number; firedAt: number };
    };
    expect(context.fired).toBe(1);
    expect(context.firedAt).toBeGreaterThanOrEqual(armedAt + 4_000 - 50);
  });
});
