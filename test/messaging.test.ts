// Labels and deliver: session-aware messaging in groups.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HeldMailFullError, InvalidOptionError, createRuntime, eventually, fixture, silentLogger, sleep, useRuntime, type Runtime } from './helpers.js';

const machines = { inbox: fixture('inbox') };
const groups = { agents: {}, fanout: { untargeted: 'broadcast' as const }, quiet: { untargeted: 'drop' as const } };
const start = useRuntime({ machines, groups });
const root = mkdtempSync(join(tmpdir(), 'actorhost-messaging-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function got(rt: Runtime, id: string): Promise<string[]> {
  return ((await rt.getSnapshot(id)).context as { got: string[] }).got;
}

describe('labels', () => {
  it('20 concurrent spawns in one group get 20 distinct labels, lowest first', async () => {
    const rt = await start();
    await Promise.all(Array.from({ length: 20 }, (_, i) => rt.spawn('inbox', { id: `s${i}`, label: { group: 'agents', prefix: 'claude' } })));
    const labels = rt.list({ group: 'agents' }).map((info) => info.label);
    expect(new Set(labels).size).toBe(20);
    expect(new Set(labels)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `claude:${i + 1}`)));
    for (const info of rt.list({ group: 'agents' })) expect(rt.lookup('agents', info.label!)).toBe(info.id);
  });

  it('a stopped session’s label is free again, and reused lowest first', async () => {
    const rt = await start();
    for (const id of ['a', 'b', 'c']) await rt.spawn('inbox', { id, label: { group: 'agents', prefix: 'claude' } });
    expect(rt.peek('b')).toMatchObject({ label: 'claude:2', group: 'agents' });
    await rt.stop('b');
    expect(rt.lookup('agents', 'claude:2')).toBeUndefined();
    await rt.spawn('inbox', { id: 'd', label: { group: 'agents', prefix: 'claude' } });
    expect(rt.peek('d')!.label).toBe('claude:2');
  });

  it('an explicit name if free; the same key gets its label back', async () => {
    const rt = await start();
    await rt.spawn('inbox', { id: 'named', label: { group: 'agents', name: 'lead' } });
    expect(rt.peek('named')!.label).toBe('lead');
    // Taken: the next rule applies (the prefix defaults to the machine kind).
    await rt.spawn('inbox', { id: 'other', label: { group: 'agents', name: 'lead' } });
    expect(rt.peek('other')!.label).toBe('inbox:1');
    await rt.spawn('inbox', { id: 'k1', label: { group: 'agents', prefix: 'w', key: 'harness-1' } });
    await rt.spawn('inbox', { id: 'k2', label: { group: 'agents', prefix: 'w', key: 'harness-2' } });
    await rt.stop('k1');
    await rt.stop('k2');
    await rt.spawn('inbox', { id: 'k2-again', label: { group: 'agents', prefix: 'w', key: 'harness-2' } });
    expect(rt.peek('k2-again')!.label).toBe('w:2');
  });

  it('bad labels get a clear error, and nothing is left behind', async () => {
    const rt = await start();
    for (const [label, message] of [
      [{ group: 'nope' }, /label.group "nope" is not a group; known: agents, fanout, quiet/],
      [{ group: 'agents', name: 'has space' }, /label.name must match/],
      [{ group: 'agents', prefix: 'a:b' }, /label.prefix must match/],
      [{ group: 'agents', colour: 'red' }, /label.colour is not a label option/],
    ] as const) {
      const error = await rt.spawn('inbox', { id: 'x', label: label as never }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toMatch(message);
    }
    expect(rt.list()).toEqual([]);
  });

  it('the same key gets its label back after a host restart (LMDB)', async () => {
    const path = join(root, 'keys');
    const first = await createRuntime({ machines, groups, workers: 1, logger: silentLogger, store: { path } });
    await first.spawn('inbox', { id: 'one', label: { group: 'agents', prefix: 'claude', key: 'h-1' } });
    await first.spawn('inbox', { id: 'two', label: { group: 'agents', prefix: 'claude', key: 'h-2' } });
    await first.stop('one');
    await first.shutdown();
    const second = await createRuntime({ machines, groups, workers: 1, logger: silentLogger, store: { path } });
    try {
      // 'two' was kept (stored at shutdown): it still holds claude:2.
      expect(second.lookup('agents', 'claude:2')).toBe('two');
      await second.stop('two');
      await second.spawn('inbox', { id: 'two-again', label: { group: 'agents', prefix: 'claude', key: 'h-2' } });
      await second.spawn('inbox', { id: 'fresh', label: { group: 'agents', prefix: 'claude' } });
      expect(second.peek('two-again')!.label).toBe('claude:2');
      expect(second.peek('fresh')!.label).toBe('claude:1');
    } finally {
      await second.shutdown();
    }
  });
});

describe('deliver', () => {
  it('to a live label: sent', async () => {
    const rt = await start();
    await rt.spawn('inbox', { id: 'a', label: { group: 'agents', prefix: 'claude' } });
    await rt.deliver('agents', { type: 'HI', n: 1 }, { to: 'claude:1' });
    expect(await got(rt, 'a')).toEqual(['HI:1']);
  });

  it('to an absent label: held, then delivered in order when a session takes it', async () => {
    const rt = await start();
    for (let n = 1; n <= 3; n++) await rt.deliver('agents', { type: 'HELD', n }, { to: 'claude:2' });
    await rt.spawn('inbox', { id: 'first', label: { group: 'agents', prefix: 'claude' } });
    await rt.spawn('inbox', { id: 'second', label: { group: 'agents', prefix: 'claude' } });
    await eventually(async () => (await got(rt, 'second')).length === 3);
    expect(await got(rt, 'second')).toEqual(['HELD:1', 'HELD:2', 'HELD:3']);
    expect(await got(rt, 'first')).toEqual([]);
  });

  it('held mail survives a host restart (LMDB)', async () => {
    const path = join(root, 'held');
    const first = await createRuntime({ machines, groups, workers: 1, logger: silentLogger, store: { path } });
    await first.deliver('agents', { type: 'KEPT', n: 1 }, { to: 'lead' });
    await first.deliver('agents', { type: 'KEPT', n: 2 }, { to: 'lead' });
    await first.shutdown();
    const second = await createRuntime({ machines, groups, workers: 1, logger: silentLogger, store: { path } });
    try {
      await second.spawn('inbox', { id: 'lead', label: { group: 'agents', name: 'lead' } });
      await eventually(async () => (await got(second, 'lead')).length === 2);
      expect(await got(second, 'lead')).toEqual(['KEPT:1', 'KEPT:2']);
    } finally {
      await second.shutdown();
    }
  });

  it('untargeted, primary: to the lowest label; held when none, and delivered to the next that appears', async () => {
    const rt = await start();
    await rt.deliver('agents', { type: 'EARLY', n: 1 });
    await rt.spawn('inbox', { id: 'b', label: { group: 'agents', name: 'claude:2' } });
    await eventually(async () => (await got(rt, 'b')).length === 1);
    expect(await got(rt, 'b')).toEqual(['EARLY:1']);
    await rt.spawn('inbox', { id: 'a', label: { group: 'agents', name: 'claude:1' } });
    await rt.deliver('agents', { type: 'NOW', n: 2 });
    expect(await got(rt, 'a')).toEqual(['NOW:2']);
    expect(await got(rt, 'b')).toEqual(['EARLY:1']);
  });

  it('untargeted, broadcast: every live session; drop: a dead letter', async () => {
    const rt = await start();
    const dead: string[] = [];
    rt.on('deadLetter', ({ reason }) => dead.push(reason));
    await rt.spawn('inbox', { id: 'x', label: { group: 'fanout' } });
    await rt.spawn('inbox', { id: 'y', label: { group: 'fanout' } });
    await rt.deliver('fanout', { type: 'ALL' });
    expect(await got(rt, 'x')).toEqual(['ALL']);
    expect(await got(rt, 'y')).toEqual(['ALL']);
    await rt.spawn('inbox', { id: 'z', label: { group: 'quiet' } });
    await rt.deliver('quiet', { type: 'GONE' });
    expect(await got(rt, 'z')).toEqual([]);
    expect(dead).toEqual([expect.stringMatching(/policy is drop/)]);
  });

  it('held mail is bounded and expires: overflow and expiry are dead letters, counted', async () => {
    const rt = await start({ groups: { agents: { maxHeld: 2, heldTtlMs: 300 } } });
    await rt.deliver('agents', { type: 'A' }, { to: 'nobody' });
    await rt.deliver('agents', { type: 'B' }, { to: 'nobody' });
    await expect(rt.deliver('agents', { type: 'C' }, { to: 'nobody' })).rejects.toBeInstanceOf(HeldMailFullError);
    expect(rt.stats().deadLetters).toBe(1);
    await sleep(500);
    await eventually(() => rt.stats().deadLetters === 3);
    await rt.spawn('inbox', { id: 'late', label: { group: 'agents', name: 'nobody' } });
    await sleep(100);
    expect(await got(rt, 'late')).toEqual([]);
  });

  it('bad input: an unknown group, a bad event — typed rejections', async () => {
    const rt = await start();
    await expect(rt.deliver('nope', { type: 'X' })).rejects.toThrow(/"nope" is not a group/);
    await expect(rt.deliver('agents', { type: 'X' }, { to: 5 as never })).rejects.toThrow(/options.to must be a label string \(got number\)/);
    await expect(rt.deliver('agents', { type: 'X', f: () => 1 } as never, { to: 'nobody' })).rejects.toThrow(/plain data|function/);
  });
});
