// Machine versions: a stored session restored under a changed machine is migrated when the module
// says how, and quarantined — kept, listed, reported once, never deleted — when it cannot be.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionQuarantinedError, createRuntime, eventually, fixture, silentLogger, type Runtime } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'actorhost-versions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let paths = 0;

/** Runs `body` on a runtime whose `versioned` kind is the given fixture, on the store at `path`. */
async function withRuntime(path: string, module: string, body: (rt: Runtime) => Promise<void>, resume: 'lazy' | 'eager' = 'lazy'): Promise<void> {
  const rt = await createRuntime({
    machines: { versioned: fixture(module), other: fixture('counter') },
    workers: 1,
    logger: silentLogger,
    store: { path },
    resume,
  });
  try {
    await body(rt);
  } finally {
    await rt.shutdown();
  }
}

/** A store holding session `s`, stored by version 1 in state `talking` with `said: 2`. */
async function storedByVersion1(): Promise<string> {
  const path = join(root, `store-${paths++}`);
  await withRuntime(path, 'versioned-v1', async (rt) => {
    await rt.spawn('versioned', { id: 's' });
    await rt.send('s', { type: 'GO' });
    await rt.send('s', { type: 'SAY' });
    await rt.send('s', { type: 'SAY' });
    expect((await rt.getSnapshot('s')).value).toBe('talking');
  });
  return path;
}

describe('machine versions', () => {
  it('migrate runs once and the session goes on in the new version', async () => {
    const path = await storedByVersion1();
    await withRuntime(path, 'versioned-v2', async (rt) => {
      const snapshot = await rt.getSnapshot('s');
      expect(snapshot.value).toBe('chatting');
      expect(snapshot.context).toEqual({ said: 2, migrations: 1 });
      await rt.send('s', { type: 'SAY' });
      expect((await rt.getSnapshot('s')).context).toEqual({ said: 3, migrations: 1 });
    });
    // Stored in version 2 now: a later start does not migrate again.
    await withRuntime(path, 'versioned-v2', async (rt) => {
      expect((await rt.getSnapshot('s')).context).toEqual({ said: 3, migrations: 1 });
    });
  });

  for (const [module, cause] of [
    ['renamed', /does not fit the machine.*State 'talking' does not exist/],
    ['versioned-v2-bare', /stored by version 1.*exports no migrate/],
  ] as const) {
    it(`${module}: the session is quarantined, the host keeps running, the data stays in the store`, async () => {
      const path = await storedByVersion1();
      await withRuntime(path, module, async (rt) => {
        const quarantined: Array<{ id: string; error: Error }> = [];
        const restarted: string[] = [];
        rt.on('quarantined', (event) => quarantined.push(event));
        rt.on('restarted', ({ id }) => restarted.push(id));
        const failure = await rt.getSnapshot('s').catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(SessionQuarantinedError);
        expect((failure as Error).message).toMatch(cause);
        expect((failure as Error).message).toMatch(/retryQuarantined\("s"\).*removeQuarantined\("s"\)/);
        // Not retried in a loop: one report, no restarts.
        expect(quarantined.map(({ id }) => id)).toEqual(['s']);
        expect(restarted).toEqual([]);
        expect(rt.peek('s')?.status).toBe('quarantined');
        expect(rt.list({ status: 'quarantined' }).map(({ id }) => id)).toEqual(['s']);
        expect(rt.stats().quarantined).toBe(1);
        // Every call that names it says so; none deletes it.
        await expect(rt.send('s', { type: 'SAY' })).rejects.toBeInstanceOf(SessionQuarantinedError);
        await expect(rt.stop('s')).rejects.toBeInstanceOf(SessionQuarantinedError);
        await expect(rt.spawn('versioned', { id: 's' })).rejects.toThrow(/quarantined/);
        // The host goes on.
        await rt.spawn('other', { id: 'c' });
        await rt.send('c', { type: 'INC' });
        expect((await rt.getSnapshot('c')).context).toMatchObject({ count: 1 });
      });
      // Still quarantined on the next start, with its data: the fixed machine takes it back.
      await withRuntime(path, module, async (rt) => {
        expect(rt.peek('s')?.status).toBe('quarantined');
      });
      await withRuntime(path, 'versioned-v2', async (rt) => {
        expect(rt.peek('s')?.status).toBe('quarantined');
        await rt.retryQuarantined('s');
        const snapshot = await rt.getSnapshot('s');
        expect(snapshot.value).toBe('chatting');
        expect(snapshot.context).toEqual({ said: 2, migrations: 1 });
      });
    });
  }

  it('a retry that still fails leaves it quarantined; removeQuarantined deletes it', async () => {
    const path = await storedByVersion1();
    await withRuntime(
      path,
      'renamed',
      async (rt) => {
        // Eager resume quarantines it at start, nobody naming it.
        await eventually(() => rt.peek('s')?.status === 'quarantined');
        await expect(rt.retryQuarantined('s')).rejects.toBeInstanceOf(SessionQuarantinedError);
        expect(rt.peek('s')?.status).toBe('quarantined');
        await expect(rt.retryQuarantined('nobody')).rejects.toThrow(/not quarantined/);
        await rt.removeQuarantined('s');
        expect(rt.peek('s')).toBeUndefined();
        await rt.spawn('versioned', { id: 's' });
      },
      'eager',
    );
    await withRuntime(path, 'versioned-v2', async (rt) => {
      // The new session took the id; the old data (said: 2) is gone.
      expect((await rt.getSnapshot('s')).context).toMatchObject({ said: 0 });
    });
  });
});
