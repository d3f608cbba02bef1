// A session mid-turn — in a state tagged busy, its mailbox empty while it waits on its model —
// is never evicted; its pool comes back to capacity as soon as the turn ends, a pin is released,
// or a recency floor passes.
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, createRuntime, eventually, fixture, manualClock, silentLogger, useRuntime } from './helpers.js';

const start = useRuntime({ machines: { turn: fixture('turn') } });

describe('busy sessions', () => {
  /** A pool of one, no recency floor, on a manual clock; the ids it evicts, in order. */
  async function poolOfOne() {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1, recencyFloorMs: 0 } }, now: clock.now });
    const evicted: string[] = [];
    rt.on('evicted', ({ id }) => evicted.push(id));
    return { clock, rt, evicted };
  }

  it('a session waiting on its model is not evicted; when its turn ends, the pool comes back to capacity by itself', async () => {
    const { clock, rt, evicted } = await poolOfOne();
    await rt.spawn('turn', { id: 'thinker', pool: 'chat' });
    await rt.send('thinker', { type: 'START', ms: 1_500 });
    await rt.waitFor('thinker', (s) => s.matches('thinking'));
    clock.advance(60_000);
    // Its floor has long passed and its mailbox is empty: only the busy tag protects it.
    await rt.spawn('turn', { id: 'newcomer', pool: 'chat' });
    expect(evicted).toEqual([]);
    expect(rt.stats().pools.chat!.sessions).toBe(2);
    // The turn ends (no spawn, no resize): the pool is brought back to its capacity.
    await eventually(() => evicted.length === 1, 15_000);
    expect(evicted).toEqual(['thinker']);
    expect(rt.stats().pools.chat!.sessions).toBe(1);
    // Evicted, not lost: its turn counted.
    expect((await rt.getSnapshot('thinker')).context.turns).toBe(1);
  });

  it('a pool over capacity because of the recency floor comes back to capacity when the floor passes (no spawn)', async () => {
    const rt = await start({ pools: { chat: { capacity: 1, recencyFloorMs: 600 } } });
    const evicted: string[] = [];
    rt.on('evicted', ({ id }) => evicted.push(id));
    await rt.spawn('turn', { id: 'recent', pool: 'chat' });
    await rt.spawn('turn', { id: 'newer', pool: 'chat' });
    // Both inside the floor: the pool stays over capacity for now.
    expect(evicted).toEqual([]);
    expect(rt.stats().pools.chat!.sessions).toBe(2);
    // One timer for the pool brings it back once the oldest floor has passed.
    await eventually(() => evicted.length === 1, 5_000);
    expect(evicted).toEqual(['recent']);
    expect(rt.stats().pools.chat!.sessions).toBe(1);
  });

  it('a pool over capacity because of a pin comes back to capacity when the pin is released', async () => {
    const { clock, rt, evicted } = await poolOfOne();
    await rt.spawn('turn', { id: 'pinned', pool: 'chat' });
    const release = rt.pin('pinned');
    clock.advance(10);
    await rt.spawn('turn', { id: 'other', pool: 'chat' });
    expect(evicted).toEqual([]);
    release();
    await eventually(() => evicted.length === 1);
    expect(evicted).toEqual(['pinned']);
  });

  it('the tag is an option, checked', async () => {
    const error = await createRuntime({ machines: { turn: fixture('turn') }, logger: silentLogger, store: 'memory', busyTag: '' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('options.busyTag must be a non-empty string');
  });
});
