// Nothing grows without bound: control calls release their results, churn leaves nothing behind,
// a session's stdout is capped before it reaches the host, mailboxes are bounded in bytes too.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MailboxFullError, fixture, useRuntime } from './helpers.js';

const HOST = new URL('../dist/test/fixtures/leak-host.js', import.meta.url).pathname;

/** Runs the leak host in its own process with --expose-gc; resolves with its stdout and stderr. */
function runHost(args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', HOST, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ stdout, stderr, code });
    });
  });
}

const MiB = 1024 * 1024;

describe('the host heap stays bounded', () => {
  it('after 50,000 sessions spawned and stopped', { timeout: 120_000 }, async () => {
    const { stdout, code } = await runHost(['churn', '50000']);
    expect(code).toBe(0);
    const { before, after } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { before: number; after: number };
    // ~100 B per churned session used to stay (5 MB here); what remains now is noise.
    expect(after - before).toBeLessThan(2 * MiB);
  });

  it('after 200 snapshots of a 1 MB context, and a second of heartbeats', { timeout: 120_000 }, async () => {
    const { stdout, code } = await runHost(['snapshots', '200']);
    expect(code).toBe(0);
    const { before, after } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { before: number; after: number };
    // Each result used to stay reachable: 200 MiB.
    expect(after - before).toBeLessThan(20 * MiB);
  });
});

describe('a session writing to stdout', () => {
  it('is capped in its worker: the host gets a bounded share and a line saying how much was dropped', { timeout: 120_000 }, async () => {
    const { stdout, stderr, code } = await runHost(['chatty', '100']);
    expect(code).toBe(0);
    const { rssBefore, rssAfter, heapLimitMb } = JSON.parse(stderr.trim().split('\n').at(-1)!) as Record<string, number>;
    // 100 MB printed; a quarter MB a second gets through.
    expect(stdout.length).toBeLessThan(5 * MiB);
    expect(stdout).toMatch(/worker output over 262144 bytes\/s: \d+ bytes dropped/);
    expect(rssAfter! - rssBefore!).toBeLessThan(200 * MiB);
    // And its worker has an old-space cap by default.
    expect(heapLimitMb).toBeLessThan(1_200);
  });
});

describe('the mailbox bound in bytes', () => {
  const start = useRuntime({ machines: { keeper: fixture('keeper') } });
  it('refuses what would pass options.mailbox.maxBytes, keeps what it accepted, spares the neighbours', async () => {
    const rt = await start({ mailbox: { capacity: 1_000, maxBytes: 40_000 } });
    await rt.spawn('keeper', { id: 'big' });
    await rt.spawn('keeper', { id: 'neighbour' });
    // Sent in one tick: none is processed before the batch leaves, so they all wait at once.
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => rt.send('big', { type: 'KEEP', value: `${i}`.repeat(5_000) })));
    const accepted = results.filter((result) => result.status === 'fulfilled').length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(10);
    const refused = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')!.reason as Error;
    expect(refused).toBeInstanceOf(MailboxFullError);
    expect(refused.message).toContain('bytes of events waiting, the limit is 40000');
    expect(((await rt.getSnapshot('big')).context.kept as string)[0]).toBe(String(accepted - 1));
    await rt.send('neighbour', { type: 'INC' });
    expect((await rt.getSnapshot('neighbour')).context.count).toBe(1);
    // Drained: it takes events again.
    await rt.send('big', { type: 'KEEP', value: 'again' });
    expect((await rt.getSnapshot('big')).context.kept).toBe('again');
  });
});
