// What a session does inside its worker never wedges its neighbours or the host: a context that
// cannot be encoded fails that session alone; a neighbour that kills the worker costs no
// subscriber a snapshot.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionCrashedError, eventually, fixture, useRuntime, type Runtime } from './helpers.js';

const start = useRuntime({
  machines: { unencodable: fixture('unencodable'), counter: fixture('counter'), killer: fixture('killer') },
});

async function spawnNeighbours(rt: Runtime, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, index) => `neighbour-${index}`);
  await Promise.all(ids.map((id) => rt.spawn('counter', { id })));
  return ids;
}

async function neighboursCount(rt: Runtime, ids: string[], expected: number): Promise<void> {
  for (const id of ids) expect((await rt.getSnapshot(id)).context.count).toBe(expected);
}

describe('a session whose context cannot be encoded', () => {
  it.each([['SYMBOL'], ['BIGINT']])('(%s) fails alone: its neighbours are restored or untouched, the host shuts down', async (poison) => {
    const rt = await start({ snapshotEvery: 5, restart: { intensity: 2, periodMs: 60_000 } });
    const crashed: string[] = [];
    rt.on('crashed', ({ id }) => crashed.push(id));
    const neighbours = await spawnNeighbours(rt, 20);
    await rt.spawn('unencodable', { id: 'bad' });
    await rt.send('bad', { type: poison });
    // Enough events for a periodic snapshot, which cannot be encoded.
    for (let i = 0; i < 10; i++) await rt.send('bad', { type: 'INC' });
    for (const id of neighbours) for (let i = 0; i < 7; i++) await rt.send(id, { type: 'INC' });
    const error = await rt.getSnapshot('bad').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionCrashedError);
    expect((error as Error).message).toContain('cannot be encoded');
    expect(crashed).toEqual(['bad']);
    await neighboursCount(rt, neighbours, 7);
    expect(rt.stats().shards[0]!.alive).toBe(true);
    // shutdown() settles (it hung while sessions were stuck restarting).
    await rt.shutdown();
  });

  it('fails alone when it is watched: the subscriber hears the error, neighbours keep their updates', async () => {
    const rt = await start({ restart: { intensity: 0, periodMs: 60_000 } });
    const neighbours = await spawnNeighbours(rt, 3);
    const seen: number[] = [];
    rt.subscribe('neighbour-0', (snapshot) => seen.push(snapshot.context.count as number));
    await rt.spawn('unencodable', { id: 'bad' });
    const failed = new Promise<unknown>((resolve) => rt.subscribe('bad', { error: resolve }));
    await rt.send('bad', { type: 'SYMBOL' });
    await rt.send('neighbour-0', { type: 'INC' });
    expect(String(await failed)).toContain('cannot be encoded');
    await rt.send('neighbour-0', { type: 'INC' });
    await neighboursCount(rt, neighbours.slice(0, 1), 2);
    expect(seen).toEqual([1, 2]);
  });

  it('is not stuck after a host restart on its store: it crashes alone, the neighbour resumes', async () => {
    const path = mkdtempSync(join(tmpdir(), 'actorhost-unencodable-'));
    try {
      const first = await start({ store: { path }, restart: { intensity: 1, periodMs: 60_000 } });
      await first.spawn('counter', { id: 'neighbour' });
      await first.spawn('unencodable', { id: 'bad' });
      await first.send('neighbour', { type: 'INC' });
      await first.send('bad', { type: 'SYMBOL' });
      await first.shutdown();
      const second = await start({ store: { path }, restart: { intensity: 1, periodMs: 60_000 } });
      expect((await second.getSnapshot('neighbour')).context.count).toBe(1);
      await expect(second.getSnapshot('bad')).rejects.toBeInstanceOf(SessionCrashedError);
      await second.send('neighbour', { type: 'INC' });
      expect((await second.getSnapshot('neighbour')).context.count).toBe(2);
      await second.shutdown();
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });
});

describe('subscribers across a neighbour killing the worker', () => {
  it('see every state once, replayed events included, and waitFor resolves', async () => {
    const rt = await start({ snapshotEvery: 50 });
    await rt.spawn('counter', { id: 'watched' });
    await rt.spawn('killer', { id: 'culprit' });
    const seen: number[] = [];
    rt.subscribe('watched', (snapshot) => seen.push(snapshot.context.count as number));
    const done = rt.waitFor('watched', (snapshot) => snapshot.context.count === 300, { timeoutMs: 20_000 });
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 300; i++) {
      sends.push(rt.send('watched', { type: 'INC' }));
      if (i === 150) sends.push(rt.send('culprit', { type: 'EXIT' }));
    }
    await Promise.all(sends);
    expect((await done).context.count).toBe(300);
    // waitFor may resolve from a snapshot read before the last notifications arrive: wait for them.
    await eventually(() => seen.at(-1) === 300);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, index) => index + 1));
  });
});
