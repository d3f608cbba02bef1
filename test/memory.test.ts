// Memory passivation: a worker whose heap passes its high mark passivates its least recently used
// sessions (never a pinned or busy one), reported as `passivated` with reason `memory`.
import { describe, expect, it } from 'vitest';
import { chooseForMemory } from '../dist/src/internal.js';
import { InvalidOptionError, createRuntime, eventually, fixture, poolMember, silentLogger, useRuntime } from './helpers.js';

const MB = 1024 * 1024;

describe('chooseForMemory (pure)', () => {
  const members = ['a', 'b', 'c', 'd', 'e'].map((name) => poolMember(name, { status: 'active' }));

  it('passivates the least recently used share that brings the heap under the low mark', () => {
    // 500 MB over 5 sessions: 100 MB each; from 500 to under 320 takes 2.
    const chosen = chooseForMemory(members, { heapUsed: 500 * MB, highBytes: 400 * MB, lowBytes: 320 * MB, sessions: 5 });
    expect(chosen.map((m) => m.name)).toEqual(['a', 'b']);
  });

  it('nothing under the high mark; skips pinned, busy, waiting and starting sessions', () => {
    expect(chooseForMemory(members, { heapUsed: 390 * MB, highBytes: 400 * MB, lowBytes: 320 * MB, sessions: 5 })).toEqual([]);
    const guarded = [
      poolMember('pinned', { pins: 1 }),
      poolMember('busy', { busy: true }),
      poolMember('waiting', { inFlight: 2 }),
      poolMember('starting', { status: 'starting' }),
      poolMember('free'),
    ];
    const chosen = chooseForMemory(guarded, { heapUsed: 500 * MB, highBytes: 400 * MB, lowBytes: 100 * MB, sessions: 5 });
    expect(chosen.map((m) => m.name)).toEqual(['free']);
  });
});

describe('memory passivation on real worker heaps', () => {
  const start = useRuntime({ machines: { hog: fixture('hog') }, watchdog: { heartbeatMs: 100, hangTimeoutMs: 5_000 } });

  it('past the high mark, the worker’s least recently used sessions are passivated, pinned ones kept', async () => {
    const rt = await start({ memory: { workerHeapHighMb: 80, workerHeapLowMb: 50 } });
    const passivated: Array<{ id: string; reason: string }> = [];
    rt.on('passivated', ({ id, reason }) => passivated.push({ id, reason }));
    const ids = Array.from({ length: 12 }, (_, i) => `h${i}`);
    for (const id of ids) await rt.spawn('hog', { id });
    const release = rt.pin('h0');
    // In order, so h0 (pinned) and h1 are the least recently used.
    for (const id of ids) await rt.send(id, { type: 'GROW', mb: 10 });
    await eventually(() => passivated.length > 0, 10_000);
    expect(passivated.every(({ reason }) => reason === 'memory')).toBe(true);
    const chosen = passivated.map(({ id }) => id);
    expect(chosen).not.toContain('h0');
    expect(chosen[0]).toBe('h1');
    // The most recently used are kept.
    expect(chosen).not.toContain('h11');
    await eventually(() => chosen.every((id) => rt.peek(id)?.status === 'evicted'));
    // Nothing was lost: a passivated session comes back with its state.
    expect(((await rt.getSnapshot('h1')).context as { grown: number }).grown).toBe(1);
    release();
  });
});

describe('memory options', () => {
  it('are checked', async () => {
    for (const [memory, message] of [
      [{ workerHeapHighMb: 100, workerHeapLowMb: 100 }, 'options.memory.workerHeapLowMb must be below workerHeapHighMb (got 100 ≥ 100)'],
      [{ workerHeapHighMb: -1 }, 'options.memory.workerHeapHighMb must be a positive number of megabytes (got -1)'],
      [{ highMb: 1 }, 'options.memory.highMb is not an option; known: workerHeapHighMb, workerHeapLowMb'],
    ] as const) {
      const error = await createRuntime({ machines: { hog: fixture('hog') }, logger: silentLogger, store: 'memory', memory } as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toBe(message);
    }
  });
});
