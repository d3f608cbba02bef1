import { describe, expect, it } from 'vitest';
import { addRestart } from '../dist/src/internal.js';
import {
  SessionCrashedError,
  WorkerHangError,
  WorkerStartError,
  createRuntime,
  eventually,
  fixture,
  silentLogger,
  type Runtime,
  type RuntimeEvents,
  useRuntime,
} from './helpers.js';

describe('addRestart (pure)', () => {
  const policy = { intensity: 2, periodMs: 1_000 };
  it('allows `intensity` restarts in any window of `periodMs`, then refuses', () => {
    let history: number[] = [];
    for (const at of [0, 100]) {
      const result = addRestart(history, at, policy);
      expect(result.allowed).toBe(true);
      history = result.history;
    }
    expect(addRestart(history, 200, policy).allowed).toBe(false);
    // The window slides: the restart at 0 has left it by 1,050.
    expect(addRestart(history, 1_050, policy)).toEqual({ allowed: true, history: [100, 1_050] });
  });

  it('an intensity of 0 never restarts', () => {
    expect(addRestart([], 0, { intensity: 0, periodMs: 1_000 }).allowed).toBe(false);
  });
});

const start = useRuntime({
  machines: { killer: fixture('killer') },
  // One worker: the culprit and its neighbour share it.
  workers: 1,
});

/** Records every runtime event of these kinds, in order. */
function record(rt: Runtime, kinds: Array<keyof RuntimeEvents>) {
  const seen: Array<{ kind: string; id?: string; culprit?: string; reason?: string; event?: unknown }> = [];
  for (const kind of kinds) {
    // The event name last: a `crashed` payload has a `kind` of its own (the machine kind).
    rt.on(kind, (payload) => seen.push({ ...(payload as object), kind }));
  }
  return seen;
}

async function counts(rt: Runtime, ...ids: string[]): Promise<number[]> {
  return Promise.all(ids.map(async (id) => (await rt.getSnapshot(id)).context.count as number));
}

/** Both sessions built up state; `victim` then takes the worker down with `event`. */
async function twoSessionsThen(rt: Runtime, event: string) {
  await rt.spawn('killer', { id: 'culprit' });
  await rt.spawn('killer', { id: 'neighbour' });
  for (let i = 0; i < 3; i++) await rt.send('culprit', { type: 'INC' });
  for (let i = 0; i < 5; i++) await rt.send('neighbour', { type: 'INC' });
  expect(await counts(rt, 'culprit', 'neighbour')).toEqual([3, 5]);
  await rt.send('culprit', { type: event });
}

describe('level 1: an action throws', () => {
  it('restarts the session from its snapshot and journal; the poison event goes to dead letters; the neighbour never notices', async () => {
    const rt = await start({ snapshotEvery: 2 });
    const seen = record(rt, ['restarted', 'deadLetter', 'crashed', 'workerExit']);
    await twoSessionsThen(rt, 'BOOM');
    await eventually(() => seen.some((e) => e.kind === 'restarted'));
    await rt.send('culprit', { type: 'INC' });
    expect(await counts(rt, 'culprit', 'neighbour')).toEqual([4, 5]);
    expect(seen.map((e) => e.kind)).toEqual(['deadLetter', 'restarted']);
    expect(seen[0]).toMatchObject({ id: 'culprit', event: { type: 'BOOM' } });
    expect(seen[0]!.reason).toContain('poison');
    expect(rt.peek('culprit')).toMatchObject({ status: 'active', restarts: 1 });
  });

  it('past restart.intensity within restart.periodMs, stops the session and reports it crashed with the cause', async () => {
    const rt = await start({ restart: { intensity: 2, periodMs: 60_000 } });
    const crashed = new Promise<RuntimeEvents['crashed']>((resolve) => rt.on('crashed', resolve));
    await rt.spawn('killer', { id: 'flaky' });
    await rt.spawn('killer', { id: 'neighbour' });
    for (let i = 0; i < 3; i++) {
      await rt.send('flaky', { type: 'BOOM' });
      await eventually(() => rt.peek('flaky')?.status !== 'restarting');
    }
    const report = await crashed;
    expect(report.id).toBe('flaky');
    expect(report.error).toBeInstanceOf(SessionCrashedError);
    expect(report.error.message).toContain('boom from an action');
    expect(rt.peek('flaky')).toBeUndefined();
    await rt.send('neighbour', { type: 'INC' });
    expect(await counts(rt, 'neighbour')).toEqual([1]);
  });
});

describe('level 2: the session kills its worker', () => {
  // The culprit is charged: a synchronous exit's event is poison (not replayed), so it is restarted
  // once; an async error's event is replayed (which event scheduled it is unknown), kills the
  // worker again, and past the intensity of 1 the culprit is crashed.
  it.each([
    ['process.exit', 'EXIT', /exited with code/, ['restarted']],
    ['an uncaught async error', 'THROW_ASYNC', /async boom/, ['restarted', 'crashed']],
    ['an unhandled rejection', 'REJECT', /nobody handles this rejection/, ['restarted', 'crashed']],
  ])('%s: the worker is replaced, every session restored, the culprit charged', async (_how, event, cause, charged) => {
    const rt = await start({ restart: { intensity: 1, periodMs: 60_000 } });
    const seen = record(rt, ['workerExit', 'restarted', 'crashed']);
    await twoSessionsThen(rt, event);
    await eventually(() => seen.some((e) => e.kind === 'workerExit'));
    const exit = seen.find((e) => e.kind === 'workerExit') as unknown as RuntimeEvents['workerExit'];
    expect(exit.culprit).toBe('culprit');
    expect(exit.error.message).toMatch(cause);
    expect(exit.sessions.sort()).toEqual(['culprit', 'neighbour']);
    // The neighbour on the same worker kept its state and keeps answering.
    await rt.send('neighbour', { type: 'INC' });
    await eventually(async () => (await counts(rt, 'neighbour'))[0] === 6);
    const culpritEvents = () => seen.filter((e) => e.id === 'culprit' && e.kind !== 'workerExit').map((e) => e.kind);
    await eventually(() => culpritEvents().length >= charged.length);
    expect(culpritEvents()).toEqual(charged);
    expect(rt.peek('culprit')?.status).toBe(charged.includes('crashed') ? undefined : 'active');
    await rt.send('neighbour', { type: 'INC' });
    expect((await counts(rt, 'neighbour'))[0]).toBe(7);
    expect(rt.stats().shards[0]!.alive).toBe(true);
  });

  it.each([true, false])('a synchronous exit (standby worker: %s): the event is dropped as poison, the culprit keeps its state', async (standbyWorker) => {
    const rt = await start({ standbyWorker });
    await twoSessionsThen(rt, 'EXIT');
    await eventually(() => rt.stats().restarts === 1);
    await rt.send('culprit', { type: 'INC' });
    expect(await counts(rt, 'culprit', 'neighbour')).toEqual([4, 5]);
    expect(rt.stats().deadLetters).toBe(1);
  });
});

describe('two workers dying at once', () => {
  it('each gets its own replacement (the standby goes to one, the other boots anew)', async () => {
    const rt = await start({ workers: 2 });
    await rt.spawn('killer', { id: 'k0' });
    await rt.spawn('killer', { id: 'k1' });
    await rt.spawn('killer', { id: 'n0' });
    await rt.spawn('killer', { id: 'n1' });
    expect(new Set(['k0', 'k1'].map((id) => rt.peek(id)!.shard))).toEqual(new Set([0, 1]));
    await rt.send('n0', { type: 'INC' });
    await rt.send('n1', { type: 'INC' });
    const exits: number[] = [];
    rt.on('workerExit', ({ shard }) => exits.push(shard));
    void rt.send('k0', { type: 'EXIT' });
    void rt.send('k1', { type: 'EXIT' });
    await eventually(() => exits.length === 2);
    await eventually(() => rt.stats().shards.every((shard, index) => shard.alive && shard.shard === index && shard.actors === shard.sessions));
    expect(await counts(rt, 'n0', 'n1')).toEqual([1, 1]);
  });
});

describe('level 3: the session hangs its worker', () => {
  it('the watchdog notices missed heartbeats, terminates the worker, and recovery proceeds', async () => {
    const rt = await start({ watchdog: { heartbeatMs: 100, hangTimeoutMs: 800 } });
    const exits: Array<RuntimeEvents['workerExit']> = [];
    rt.on('workerExit', (exit) => exits.push(exit));
    await twoSessionsThen(rt, 'HANG');
    await eventually(() => exits.length === 1);
    expect(exits[0]!.error).toBeInstanceOf(WorkerHangError);
    expect(exits[0]!.culprit).toBe('culprit');
    await rt.send('culprit', { type: 'INC' });
    expect(await counts(rt, 'culprit', 'neighbour')).toEqual([4, 5]);
  });
});

describe('level 4: the session exhausts its worker heap', () => {
  it('ERR_WORKER_OUT_OF_MEMORY: the worker is replaced and every session restored', async () => {
    const rt = await start({ resourceLimits: { maxOldGenerationSizeMb: 64 } });
    const exits: Array<RuntimeEvents['workerExit']> = [];
    rt.on('workerExit', (exit) => exits.push(exit));
    await twoSessionsThen(rt, 'OOM');
    await eventually(() => exits.length === 1, 20_000);
    expect((exits[0]!.error as NodeJS.ErrnoException).code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    expect(exits[0]!.culprit).toBe('culprit');
    await rt.send('culprit', { type: 'INC' });
    expect(await counts(rt, 'culprit', 'neighbour')).toEqual([4, 5]);
  });
});

describe('a worker that cannot start', () => {
  it('fails createRuntime with the cause instead of being respawned in a loop', async () => {
    const started = Date.now();
    const error = await createRuntime({
      machines: { killer: fixture('killer') },
      workers: 1,
      logger: silentLogger,
      store: 'memory',
      resourceLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as Error).message).toMatch(/Worker for shard 0 failed to start/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('a worker that keeps dying with no session to blame', () => {
  const startDying = useRuntime({ machines: { dying: fixture('dies-unattributed') } });
  it('is replaced within the restart intensity, then the shard is given up: its sessions crash, nothing hangs', async () => {
    const rt = await startDying({ standbyWorker: false, restart: { intensity: 1, periodMs: 60_000 } });
    const crashed: Array<{ id: string; error: Error }> = [];
    const exits: number[] = [];
    rt.on('crashed', ({ id, error }) => crashed.push({ id, error }));
    rt.on('workerExit', ({ shard }) => exits.push(shard));
    await rt.spawn('dying', { id: 'a' });
    await eventually(() => crashed.length === 1, 20_000);
    expect(exits).toEqual([0, 0]);
    expect(crashed[0]!.id).toBe('a');
    expect(crashed[0]!.error.message).toContain('keeps failing with no session to blame');
    expect(rt.stats().shards[0]!.alive).toBe(false);
    await expect(rt.spawn('dying', { id: 'b' })).rejects.toThrow(/no worker is alive/);
  });
});
