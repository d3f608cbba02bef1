// No orphans, even when the host dies: a host SIGKILLed with six subprocess-owning sessions leaves
// none of their processes alive (its reaper kills them), and when the reaper cannot, the next host
// on the store kills them before it resumes a session.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRuntime, eventually, fixture, silentLogger, sleep } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'actorhost-orphans-'));
const started: ChildProcess[] = [];
const stray: number[] = [];
afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
  for (const pid of stray.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Alive: it exists and is not a zombie (a dead process its new parent has not reaped yet). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Processes whose parent is `parent` and whose command line contains `text`. */
function childrenOf(parent: number, text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // It ended meanwhile.
    }
  }
  return found;
}

/** Starts the orphan host on `store` and resolves with it and its sessions' subprocess pids. */
async function hostWithSubprocesses(store: string): Promise<{ host: ChildProcess; pids: number[] }> {
  const host = spawn(process.execPath, [new URL('../dist/test/fixtures/orphan-host.js', import.meta.url).pathname, store], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(host);
  let output = '';
  host.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(() => output.includes('\n'), 20_000);
  const { pids } = JSON.parse(output.split('\n')[0]!) as { pids: number[] };
  stray.push(...pids);
  expect(pids).toHaveLength(12);
  for (const pid of pids) expect(alive(pid)).toBe(true);
  return { host, pids };
}

describe('subprocesses never outlive their host', () => {
  it('a host killed with SIGKILL: none of its sessions’ subprocesses is alive 3 s later', async () => {
    const { host, pids } = await hostWithSubprocesses(join(root, 'killed'));
    host.kill('SIGKILL');
    await sleep(3_000);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('its reaper stopped too: the next host on the store kills them before it resumes a session', async () => {
    const store = join(root, 'reaped-by-next');
    const { host, pids } = await hostWithSubprocesses(store);
    const [reaper] = childrenOf(host.pid!, 'reaper.process.js');
    expect(reaper).toBeGreaterThan(0);
    stray.push(reaper!);
    process.kill(reaper!, 'SIGSTOP');
    host.kill('SIGKILL');
    await eventually(() => !alive(host.pid!));
    await sleep(500);
    expect(pids.filter(alive)).toHaveLength(12);
    const next = await createRuntime({ machines: { child: fixture('child') }, workers: 1, logger: silentLogger, store: { path: store } });
    try {
      // Killed before any session was resumed (they are listed, none running yet); SIGKILL is
      // delivered asynchronously, so the last ones may take a moment to die.
      await eventually(() => pids.filter(alive).length === 0, 2_000);
      expect(next.list({ status: 'evicted' })).toHaveLength(6);
    } finally {
      await next.shutdown();
    }
  });
});

describe('a session’s subprocesses are stopped gracefully', () => {
  const machines = { graceful: fixture('graceful') };

  it('SIGTERM first: a subprocess that handles it exits cleanly before stop resolves', async () => {
    const marker = join(root, 'terminated');
    const rt = await createRuntime({ machines, workers: 1, logger: silentLogger, store: 'memory', subprocessGraceMs: 5_000 });
    try {
      await rt.spawn('graceful', { id: 'g', input: { script: `trap 'echo term > ${marker}; exit 0' TERM; echo ready; while :; do sleep 0.1; done` } });
      const { context } = await rt.waitFor('g', (s) => (s.context as { lines: string[] }).lines.length > 0, { timeoutMs: 10_000 });
      const started = Date.now();
      await rt.stop('g');
      expect(readFileSync(marker, 'utf8').trim()).toBe('term');
      expect(alive((context as { pid: number }).pid)).toBe(false);
      // It did not wait out the grace period.
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      await rt.shutdown();
    }
  });

  it('SIGKILL after subprocessGraceMs: a subprocess that ignores SIGTERM is gone when stop resolves', async () => {
    const rt = await createRuntime({ machines, workers: 1, logger: silentLogger, store: 'memory', subprocessGraceMs: 400 });
    try {
      await rt.spawn('graceful', { id: 'g', input: { script: `trap '' TERM; echo ready; while :; do sleep 0.1; done` } });
      const { context } = await rt.waitFor('g', (s) => (s.context as { lines: string[] }).lines.length > 0, { timeoutMs: 10_000 });
      const started = Date.now();
      await rt.stop('g');
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      expect(alive((context as { pid: number }).pid)).toBe(false);
    } finally {
      await rt.shutdown();
    }
  });
});
