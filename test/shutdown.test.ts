import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { captureLogger, fixture, useRuntime } from './helpers.js';

const start = useRuntime({
  machines: { counter: fixture('counter'), cleanup: fixture('cleanup'), faulty: fixture('faulty') },
  workers: 2,
});

describe('stop', () => {
  it('waits for an asynchronous shutdown to finish', async () => {
    const rt = await start();
    await rt.spawn('cleanup', { id: 'tidy', input: { cleanupMs: 200 } });
    const started = performance.now();
    await rt.stop('tidy');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(rt.peek('tidy')).toBeUndefined();
  });

  it('independent stops never wait for each other: a quick one asked in the same tick as a slow one', async () => {
    const rt = await start({ workers: 1 });
    await rt.spawn('cleanup', { id: 'slow', input: { cleanupMs: 2_000 } });
    await rt.spawn('counter', { id: 'quick' });
    const order: string[] = [];
    const slow = rt.stop('slow').then(() => order.push('slow'));
    const quick = rt.stop('quick').then(() => order.push('quick'));
    await Promise.all([slow, quick]);
    // On one worker, in one tick: they used to share one answer, the slowest's.
    expect(order).toEqual(['quick', 'slow']);
  });

  it('stops a session without a shutdown handler at once, not after the timeout', async () => {
    const rt = await start({ shutdownTimeoutMs: 20_000 });
    await rt.spawn('counter', { id: 'plain' });
    const started = performance.now();
    await rt.stop('plain');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(rt.peek('plain')).toBeUndefined();
  });

  it('forces a shutdown that never finishes after shutdownTimeoutMs, and says so', async () => {
    const { logger, records } = captureLogger();
    const rt = await start({ shutdownTimeoutMs: 300, logger });
    await rt.spawn('cleanup', { id: 'stuck', input: { cleanupMs: 600_000 } });
    const started = performance.now();
    await rt.stop('stuck');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(rt.peek('stuck')).toBeUndefined();
    const forced = records.find((r) => r.msg.includes('stopped by force'));
    expect(forced).toMatchObject({ sessionId: 'stuck', level: 40 });
  });

  it('logs a shutdown that throws and goes on with the others', async () => {
    const { logger, records } = captureLogger();
    const rt = await start({ logger });
    await rt.spawn('faulty', { id: 'thrower', input: { failOnShutdown: true } });
    await rt.spawn('counter', { id: 'bystander' });
    await rt.stop('thrower');
    expect(records.find((r) => r.msg.includes('session shutdown threw'))).toMatchObject({ sessionId: 'thrower', level: 50 });
    await rt.send('bystander', { type: 'INC' });
    expect((await rt.getSnapshot('bystander')).context.count).toBe(1);
  });

  it('processes the events sent before stop, then shuts down', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'busy' });
    const outputs: unknown[] = [];
    const counts: number[] = [];
    rt.subscribe('busy', (s) => counts.push(s.context.count as number));
    rt.on('done', ({ output }) => outputs.push(output));
    for (let i = 0; i < 20; i++) void rt.send('busy', { type: 'INC' });
    await rt.stop('busy');
    expect(counts.at(-1)).toBe(20);
    await expect(rt.send('busy', { type: 'INC' })).rejects.toThrow(/Unknown session "busy"/);
  });

  it('a second stop of the same session waits for the first', async () => {
    const rt = await start();
    await rt.spawn('cleanup', { id: 'twice', input: { cleanupMs: 150 } });
    const first = rt.stop('twice');
    const second = rt.stop('twice');
    await Promise.all([first, second]);
    expect(rt.peek('twice')).toBeUndefined();
  });
});

describe('shutdown', () => {
  it('shuts every session down in parallel', async () => {
    const rt = await start();
    for (let i = 0; i < 4; i++) await rt.spawn('cleanup', { id: `c${i}`, input: { cleanupMs: 500 } });
    const started = performance.now();
    await rt.shutdown();
    // One after another would take at least 2 s.
    expect(performance.now() - started).toBeLessThan(1_900);
    expect(rt.stats().sessions).toBe(0);
  });

  it('leaves no worker thread behind, and the host process exits by itself', async () => {
    const script = new URL('../dist/test/fixtures/shutdown-host.js', import.meta.url);
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [script.pathname], { timeout: 20_000 }, (error, out) =>
        error ? reject(error) : resolve({ stdout: out }),
      );
    });
    const threads = JSON.parse(stdout) as { before: number; during: number; after: number };
    expect(threads.during).toBeGreaterThanOrEqual(threads.before + 2);
    expect(threads.after).toBe(threads.before);
  });
});
