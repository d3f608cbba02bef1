// Restore is invisible: a timer armed before a restore fires at its original deadline after it,
// a timer that fired before it is not rolled back — on every restore path.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, eventually, fixture, silentLogger, sleep, useRuntime, type Runtime } from './helpers.js';

const machines = { alarm: fixture('alarm') };
/** How late a timer may fire on a slow, noisy machine; a timer restarted from scratch is later still. */
const LATE_MS = 900;
const DELAY_MS = 2_500;

interface AlarmContext {
  armedAt: number;
  firedAt: number;
  fired: number;
  pongs: number;
}

async function context(rt: Runtime, id: string): Promise<AlarmContext> {
  return (await rt.getSnapshot(id)).context as AlarmContext;
}

/** Waits for the timer to fire and checks that it fired at its deadline, not later. */
async function firesOnTime(rt: Runtime, id: string): Promise<void> {
  const snapshot = await rt.waitFor(id, (s) => s.matches('fired'), { timeoutMs: DELAY_MS + 5_000 });
  const { armedAt, firedAt, fired } = snapshot.context as AlarmContext;
  expect(fired).toBe(1);
  expect(firedAt - armedAt).toBeGreaterThanOrEqual(DELAY_MS - 5);
  expect(firedAt - armedAt).toBeLessThan(DELAY_MS + LATE_MS);
}

describe('timers keep their deadlines across a restore', () => {
  const start = useRuntime({ machines, watchdog: { heartbeatMs: 100, hangTimeoutMs: 600 } });

  for (const [path, event] of [
    ['an action throws', 'BOOM'],
    ['the worker exits', 'EXIT'],
    ['the worker hangs', 'HANG'],
    ['the worker runs out of memory', 'OOM'],
  ] as const) {
    it(`${path}: the armed after-timer fires on time`, async () => {
      const rt = await start(event === 'OOM' ? { resourceLimits: { maxOldGenerationSizeMb: 64 } } : {});
      const restarted: string[] = [];
      rt.on('restarted', ({ id }) => restarted.push(id));
      await rt.spawn('alarm', { id: 'a' });
      await rt.send('a', { type: 'ARM', ms: DELAY_MS, at: Date.now() });
      await sleep(1_000);
      await rt.send('a', { type: event });
      await eventually(() => restarted.includes('a'));
      await firesOnTime(rt, 'a');
    });
  }

  it('a delayed raise (not an after) armed before a worker exit fires on time after it', async () => {
    const rt = await start();
    await rt.spawn('alarm', { id: 'a' });
    const sentAt = Date.now();
    await rt.send('a', { type: 'PONG_LATER', ms: 2_000 });
    await sleep(500);
    await rt.send('a', { type: 'EXIT' });
    await rt.waitFor('a', (s) => (s.context as AlarmContext).pongs === 1, { timeoutMs: 8_000 });
    expect(Date.now() - sentAt).toBeLessThan(2_000 + LATE_MS + 500);
    await sleep(300);
    expect((await context(rt, 'a')).pongs).toBe(1);
  });

  for (const event of ['EXIT', 'BOOM'] as const) {
    it(`a timer that fired is not rolled back by a restore (${event})`, async () => {
      const rt = await start();
      await rt.spawn('alarm', { id: 'a' });
      await rt.send('a', { type: 'ARM', ms: 200 });
      const fired = await rt.waitFor('a', (s) => s.matches('fired'));
      const { firedAt } = fired.context as AlarmContext;
      // The worker persists the timer's transition at the end of its tick.
      await sleep(100);
      const restarted = new Promise<void>((resolve) => rt.on('restarted', () => resolve()));
      await rt.send('a', { type: event });
      await restarted;
      const after = await rt.getSnapshot('a');
      expect(after.value).toBe('fired');
      // Rolled back, it would be `waiting` again and fire anew, later.
      await sleep(400);
      expect(await context(rt, 'a')).toMatchObject({ firedAt, fired: 1 });
    });
  }
});

describe('noRollback: false', () => {
  const start = useRuntime({ machines, noRollback: false });

  it('keeps only the events from send between snapshots: a timer that fired is rolled back and fires again', async () => {
    const rt = await start();
    await rt.spawn('alarm', { id: 'a' });
    await rt.send('a', { type: 'ARM', ms: 200 });
    const { firedAt } = (await rt.waitFor('a', (s) => s.matches('fired'))).context as AlarmContext;
    await sleep(100);
    const restarted = new Promise<void>((resolve) => rt.on('restarted', () => resolve()));
    await rt.send('a', { type: 'EXIT' });
    await restarted;
    // Restored from its first state and its journal (ARM): the timer runs again, from the replay.
    const again = await rt.waitFor('a', (s) => s.matches('fired'), { timeoutMs: 5_000 });
    expect((again.context as AlarmContext).firedAt).toBeGreaterThan(firedAt);
  });
});

describe('a passive session is woken when its timer comes due', () => {
  const start = useRuntime({ machines, pools: { p: { capacity: 1, recencyFloorMs: 0 } } });

  it('evicted with a timer armed: reactivated by its timer, which fires on time', async () => {
    const rt = await start();
    const reactivated: string[] = [];
    rt.on('reactivated', ({ id }) => reactivated.push(id));
    await rt.spawn('alarm', { id: 'a', pool: 'p' });
    await rt.send('a', { type: 'ARM', ms: DELAY_MS, at: Date.now() });
    await rt.spawn('alarm', { id: 'b', pool: 'p' });
    await eventually(() => rt.peek('a')?.status === 'evicted');
    // Nobody names it: its timer brings it back.
    await eventually(() => reactivated.includes('a'), DELAY_MS + 5_000);
    await firesOnTime(rt, 'a');
  });

  it('its pool has no room when the timer is due: it fires when the session is reactivated', async () => {
    const rt = await start();
    await rt.spawn('alarm', { id: 'a', pool: 'p' });
    await rt.send('a', { type: 'ARM', ms: 300 });
    await rt.spawn('alarm', { id: 'b', pool: 'p' });
    await eventually(() => rt.peek('a')?.status === 'evicted');
    const release = rt.pin('b');
    await sleep(800);
    expect(rt.peek('a')?.status).toBe('evicted');
    release();
    const snapshot = await rt.waitFor('a', (s) => s.matches('fired'), { timeoutMs: 5_000 });
    expect((snapshot.context as AlarmContext).fired).toBe(1);
  });
});

describe('timers across a host restart (LMDB)', () => {
  const root = mkdtempSync(join(tmpdir(), 'actorhost-timers-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const resume of ['eager', 'lazy'] as const) {
    it(`resume ${resume}: a timer armed before the restart fires on time after it`, async () => {
      const path = join(root, resume);
      const first = await createRuntime({ machines, workers: 1, logger: silentLogger, store: { path } });
      await first.spawn('alarm', { id: 'a' });
      await first.send('a', { type: 'ARM', ms: DELAY_MS, at: Date.now() });
      await sleep(300);
      await first.shutdown();
      const second = await createRuntime({ machines, workers: 1, logger: silentLogger, store: { path }, resume });
      try {
        // Lazy: nobody names it; its timer wakes it.
        await eventually(() => second.peek('a')?.status === 'active', DELAY_MS + 5_000);
        await firesOnTime(second, 'a');
      } finally {
        await second.shutdown();
      }
    });
  }
});
