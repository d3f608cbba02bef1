// Idle passivation: sessions idle for their pool's idleMs are passivated — kept in the store,
// reactivated by their next call — unless pinned or mid-turn. Time moves on the injected clock.
import { describe, expect, it } from 'vitest';
import { Pool, chooseIdle } from '../dist/src/internal.js';
import { InvalidOptionError, createRuntime, eventually, fixture, manualClock, poolMember as member, silentLogger, type TestMember, useRuntime } from './helpers.js';

const start = useRuntime({ machines: { counter: fixture('counter'), turn: fixture('turn') } });

describe('chooseIdle (pure)', () => {
  it('picks members idle that long, least recent first, skipping protected ones, and stops at a recent one', () => {
    const pool = new Pool<TestMember>('p', 10, 0);
    const [old, pinned, busy, fresh] = [member('old'), member('pinned', { pins: 1 }), member('busy', { busy: true }), member('fresh')];
    pool.add(old, 0);
    pool.add(pinned, 0);
    pool.add(busy, 0);
    pool.add(fresh, 900);
    expect(chooseIdle(pool, 1_000, 500)).toEqual([old]);
    expect(chooseIdle(pool, 1_000, Infinity)).toEqual([]);
  });
});

describe('idle passivation', () => {
  it('passivates a session idle for idleMs, with reason idle; a used, pinned or busy one stays', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { idleMs: 60_000 } }, now: clock.now });
    const passivated: Array<{ id: string; reason: string }> = [];
    rt.on('passivated', ({ id, reason }) => passivated.push({ id, reason }));
    for (const id of ['sleepy', 'pinned', 'active']) await rt.spawn('counter', { id, pool: 'chat', input: { start: 5 } });
    await rt.spawn('turn', { id: 'thinking', pool: 'chat' });
    await rt.send('thinking', { type: 'START', ms: 20_000 });
    await rt.waitFor('thinking', (s) => s.matches('thinking'));
    rt.pin('pinned');
    clock.advance(30_000);
    await rt.send('active', { type: 'INC' });
    clock.advance(40_000);
    // The sweep runs on the runtime's timers (every second at most): no sleeping on idleMs itself.
    await eventually(() => passivated.length === 1, 10_000);
    expect(passivated).toEqual([{ id: 'sleepy', reason: 'idle' }]);
    await eventually(() => rt.peek('sleepy')?.status === 'evicted');
    for (const id of ['pinned', 'active', 'thinking']) expect(rt.peek(id)?.status).toBe('active');
    // Passivation is invisible: the next call brings it back as it was.
    expect((await rt.getSnapshot('sleepy')).context.count).toBe(5);
  });

  it('reports evictions for a full pool as passivated with reason capacity', async () => {
    const rt = await start({ pools: { small: { capacity: 1 } } });
    const passivated: Array<{ id: string; reason: string }> = [];
    rt.on('passivated', ({ id, reason }) => passivated.push({ id, reason }));
    await rt.spawn('counter', { id: 'first', pool: 'small' });
    await rt.spawn('counter', { id: 'second', pool: 'small' });
    expect(passivated).toEqual([{ id: 'first', reason: 'capacity' }]);
  });

  it('checks the option', async () => {
    const error = await createRuntime({ machines: { counter: fixture('counter') }, logger: silentLogger, store: 'memory', pools: { p: { idleMs: 0 } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('options.pools.p.idleMs must be a positive integer (got 0)');
  });
});

describe('a session being evicted', () => {
  it('getSnapshot waits for the eviction and brings it back, as send does', async () => {
    const rt = await start({ pools: { small: { capacity: 1 } } });
    await rt.spawn('counter', { id: 'first', pool: 'small', input: { start: 3 } });
    const read = new Promise<number>((resolve, reject) =>
      rt.on('evicted', ({ id }) => {
        // Read while its shutdown has only just begun.
        if (id === 'first') rt.getSnapshot('first').then((s) => resolve(s.context.count as number), reject);
      }),
    );
    await rt.spawn('counter', { id: 'second', pool: 'small' });
    expect(await read).toBe(3);
  });
});
