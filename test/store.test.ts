import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  StoreLockedError,
  createRuntime,
  fixture,
  silentLogger,
  type Runtime,
  type RuntimeEvents,
  type RuntimeOptions,
} from './helpers.js';

const HOST = new URL('../dist/test/fixtures/store-host.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'actorhost-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `store-${dirs++}`);

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.shutdown();
  runtime = undefined;
  delete process.env.ACTORHOST_POISON;
});

async function open(path: string, options: Partial<RuntimeOptions> = {}): Promise<Runtime> {
  runtime = await createRuntime({
    machines: { counter: fixture('counter'), poison: fixture('poison-on-replay') },
    workers: 1,
    logger: silentLogger,
    store: { path },
    snapshotEvery: 10,
    ...options,
  });
  return runtime;
}

/** Runs the store host to completion (it may die by SIGKILL on purpose); resolves with its output. */
function host(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [HOST, ...args], { timeout: 30_000 }, (error, stdout) => {
      if (error && error.signal !== 'SIGKILL') reject(error);
      else resolve(stdout);
    }),
  );
}

describe('a host that dies and a new one on the same store', () => {
  it("'journal': every event accepted before the crash is there after it", async () => {
    const path = freshDir();
    const accepted = JSON.parse(await host([path, 'crash', 'journal', '3', '25'])) as Record<string, number>;
    const rt = await open(path);
    for (const [id, count] of Object.entries(accepted)) {
      expect((await rt.getSnapshot(id)).context.count).toBe(count);
    }
  });

  it("'snapshot': what the last snapshot held survives; the events after it are lost", async () => {
    const path = freshDir();
    await host([path, 'crash', 'snapshot', '2', '25']);
    const rt = await open(path, { durability: 'snapshot' });
    // Snapshots every 10 events: 20 of the 25 are on disk.
    expect((await rt.getSnapshot('s0')).context.count).toBe(20);
    expect((await rt.getSnapshot('s1')).context.count).toBe(20);
  });

  it("'snapshot': a full mailbox at the crash loses at most mailbox.capacity + snapshotEvery - 1 events", async () => {
    const path = freshDir();
    const accepted = JSON.parse(await host([path, 'burst', 'snapshot', '64'])) as { b: number };
    const rt = await open(path, { durability: 'snapshot' });
    const lost = accepted.b - ((await rt.getSnapshot('b')).context.count as number);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(64 + 10 - 1);
  });

  it("'none': nothing resumes", async () => {
    const path = freshDir();
    await host([path, 'crash', 'none', '2', '5']);
    const rt = await open(path, { durability: 'none' });
    expect(rt.peek('s0')).toBeUndefined();
    expect(rt.stats().evicted).toBe(0);
  });

  it('an event that crashes its session on replay is a poison message: dead-lettered, not looped', async () => {
    const path = freshDir();
    await host([path, 'crash', 'journal', '1', '1']);
    process.env.ACTORHOST_POISON = '1';
    const rt = await open(path);
    const letters: Array<RuntimeEvents['deadLetter']> = [];
    rt.on('deadLetter', (letter) => letters.push(letter));
    const snapshot = await rt.getSnapshot('p');
    expect(snapshot.context).toEqual({ count: 2, triggered: 0 });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id: 'p', event: { type: 'TRIGGER' } });
    expect(letters[0]!.reason).toContain('fails on replay');
    await rt.send('p', { type: 'INC' });
    expect((await rt.getSnapshot('p')).context.count).toBe(3);
  });
});

describe('resume after a clean shutdown', () => {
  it("'lazy' (default): stored sessions are listed as evicted and come back on first use", async () => {
    const path = freshDir();
    const first = await open(path);
    await first.spawn('counter', { id: 'kept', input: { start: 9 } });
    await first.send('kept', { type: 'INC' });
    await first.shutdown();
    const rt = await open(path);
    expect(rt.peek('kept')?.status).toBe('evicted');
    expect((await rt.getSnapshot('kept')).context.count).toBe(10);
    expect(rt.peek('kept')?.status).toBe('active');
  });

  it("'eager': stored sessions are restored at start", async () => {
    const path = freshDir();
    const first = await open(path);
    await first.spawn('counter', { id: 'kept' });
    await first.send('kept', { type: 'INC' });
    await first.shutdown();
    const rt = await open(path, { resume: 'eager' });
    expect(rt.peek('kept')?.status).toMatch(/restarting|active/);
    expect((await rt.getSnapshot('kept')).context.count).toBe(1);
  });

  it('a stopped session is forgotten by the store', async () => {
    const path = freshDir();
    const first = await open(path);
    await first.spawn('counter', { id: 'gone' });
    await first.stop('gone');
    await first.shutdown();
    const rt = await open(path);
    expect(rt.peek('gone')).toBeUndefined();
  });
});

describe('one owner per store', () => {
  it('a second host on a store a live host owns fails with StoreLockedError naming the owner', async () => {
    const path = freshDir();
    const owner = spawn(process.execPath, [HOST, path, 'hold'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = await new Promise<string>((resolve) => owner.stdout.once('data', (data: Buffer) => resolve(String(data))));
    expect(ready).toBe(`ready ${owner.pid}\n`);
    try {
      const error = await open(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreLockedError);
      expect((error as StoreLockedError).pid).toBe(owner.pid);
      expect((error as Error).message).toContain(`is owned by the live process ${owner.pid}`);
    } finally {
      owner.kill('SIGKILL');
      await new Promise((resolve) => owner.once('exit', resolve));
    }
    // The owner is dead: its lock is taken over.
    const rt = await open(path);
    expect(rt.stats().sessions).toBe(0);
  });

  it('two hosts racing for a dead owner’s store never both win', async () => {
    for (let round = 0; round < 3; round++) {
      const path = freshDir();
      await host([path, 'crash', 'journal', '1', '1']); // leaves a dead owner behind
      const outputs = await Promise.all([host([path, 'race']), host([path, 'race'])]);
      const owned = outputs.filter((out) => out.trim() === 'owned');
      const locked = outputs.filter((out) => out.startsWith('locked '));
      expect(owned).toHaveLength(1);
      expect(locked).toHaveLength(1);
    }
  });
});
