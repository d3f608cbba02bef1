import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, fixture, silentLogger, type Runtime } from './helpers.js';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.shutdown();
  runtime = undefined;
});

async function start(workers = 2): Promise<Runtime> {
  runtime = await createRuntime({ machines: { counter: fixture('counter') }, workers, logger: silentLogger, store: 'memory' });
  return runtime;
}

describe('placement', () => {
  it('spreads sessions over every worker and peek shows which one holds each', async () => {
    const rt = await start(2);
    await Promise.all(Array.from({ length: 10 }, (_, i) => rt.spawn('counter', { id: `s${i}` })));
    const shards = Array.from({ length: 10 }, (_, i) => rt.peek(`s${i}`)!.shard);
    expect(new Set(shards)).toEqual(new Set([0, 1]));
    expect(shards.filter((shard) => shard === 0)).toHaveLength(5);
    expect(rt.stats().shards.map((shard) => shard.sessions)).toEqual([5, 5]);
  });

  it('keeps a session on its worker afterwards (sticky)', async () => {
    const rt = await start(2);
    await rt.spawn('counter', { id: 'sticky' });
    const shard = rt.peek('sticky')!.shard;
    for (let i = 0; i < 20; i++) await rt.send('sticky', { type: 'INC' });
    await rt.spawn('counter', { id: 'other' });
    expect((await rt.getSnapshot('sticky')).context.count).toBe(20);
    expect(rt.peek('sticky')!.shard).toBe(shard);
  });
});

describe('ordering', () => {
  it('processes 100 sessions × 100 concurrent events each in send order', async () => {
    const rt = await start(2);
    const ids = Array.from({ length: 100 }, (_, i) => `order-${i}`);
    await Promise.all(ids.map((id) => rt.spawn('counter', { id })));
    const sends: Promise<void>[] = [];
    // Interleave the sessions, as concurrent clients would.
    for (let seq = 0; seq < 100; seq++) for (const id of ids) sends.push(rt.send(id, { type: 'RECORD', seq }));
    await Promise.all(sends);
    const expected = Array.from({ length: 100 }, (_, seq) => seq);
    for (const id of ids) expect((await rt.getSnapshot(id)).context.seen).toEqual(expected);
  });

  it('delivers events sent while the session is still starting, in order', async () => {
    const rt = await start(1);
    const spawned = rt.spawn('counter', { id: 'early' });
    await Promise.resolve();
    // The id is registered synchronously at spawn; the session is still starting in the worker.
    expect(rt.peek('early')?.status).toBe('starting');
    const sends = [0, 1, 2].map((seq) => rt.send('early', { type: 'RECORD', seq }));
    await spawned;
    await Promise.all(sends);
    expect((await rt.getSnapshot('early')).context.seen).toEqual([0, 1, 2]);
  });
});

describe('snapshots', () => {
  it('getSnapshot returns a machine snapshot that reflects every accepted event', async () => {
    const rt = await start(1);
    const ref = await rt.spawn('counter', { id: 'snap', input: { start: 10 } });
    await ref.send({ type: 'INC' });
    const snapshot = await ref.getSnapshot();
    expect(snapshot.context.count).toBe(11);
    expect(snapshot.matches('counting')).toBe(true);
    expect(snapshot.status).toBe('active');
  });

  it('subscribe sees every state change, in order, and stops after unsubscribe', async () => {
    const rt = await start(1);
    await rt.spawn('counter', { id: 'watched' });
    const counts: number[] = [];
    const off = rt.subscribe('watched', (snapshot) => counts.push(snapshot.context.count as number));
    for (let i = 0; i < 50; i++) void rt.send('watched', { type: 'INC' });
    await rt.waitFor('watched', (snapshot) => snapshot.context.count === 50, { timeoutMs: 5_000 });
    expect(counts).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    off();
    await rt.send('watched', { type: 'INC' });
    await rt.getSnapshot('watched');
    expect(counts).toHaveLength(50);
  });

  it('subscribe reports the final snapshot, then completes, when the session finishes', async () => {
    const rt = await start(1);
    await rt.spawn('counter', { id: 'finisher' });
    const seen: string[] = [];
    const done = new Promise<void>((resolve) =>
      rt.subscribe('finisher', { next: (s) => seen.push(s.status), complete: () => resolve() }),
    );
    const outputs: unknown[] = [];
    rt.on('done', ({ id, output }) => id === 'finisher' && outputs.push(output));
    await rt.send('finisher', { type: 'INC' });
    await rt.send('finisher', { type: 'FINISH' });
    await done;
    expect(seen).toEqual(['active', 'done']);
    expect(outputs).toEqual([{ count: 1 }]);
    expect(rt.peek('finisher')).toBeUndefined();
  });

  it('waitFor resolves at once when the current snapshot already matches', async () => {
    const rt = await start(1);
    await rt.spawn('counter', { id: 'ready', input: { start: 3 } });
    const snapshot = await rt.waitFor('ready', (s) => s.context.count === 3, { timeoutMs: 1_000 });
    expect(snapshot.matches('counting')).toBe(true);
  });
});

describe('operators', () => {
  it('list and peek show sessions without touching them; stats count per pool and shard', async () => {
    runtime = await createRuntime({
      machines: { counter: fixture('counter') },
      workers: 2,
      pools: { conversation: { capacity: 10 }, routine: { capacity: 5 } },
      logger: silentLogger,
    store: 'memory',
    });
    await runtime.spawn('counter', { id: 'c1', pool: 'conversation' });
    await runtime.spawn('counter', { id: 'r1', pool: 'routine' });
    const before = runtime.peek('c1')!.lastActiveAt;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runtime.list({ pool: 'conversation' }).map((s) => s.id)).toEqual(['c1']);
    expect(runtime.peek('c1')!.lastActiveAt).toBe(before);
    const stats = runtime.stats();
    expect(stats.sessions).toBe(2);
    expect(stats.pools.conversation).toEqual({ sessions: 1, capacity: 10, evicted: 0 });
    expect(stats.pools.routine).toEqual({ sessions: 1, capacity: 5, evicted: 0 });
    const release = runtime.pin('c1');
    expect(runtime.peek('c1')!.pinned).toBe(true);
    release();
    release();
    expect(runtime.peek('c1')!.pinned).toBe(false);
  });
});
