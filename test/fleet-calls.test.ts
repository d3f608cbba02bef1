// Calls made on one host of a fleet for a session that lives on another (real nats-server, two
// hosts in this process): subscribe and waitFor hear the other host's session; a watch follows
// the session when its shard moves; peek, list and lookup see the whole fleet; deliver reaches a
// label held on the other host, and mail held on one host goes to the session that takes its
// label on the other.
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { UnknownSessionError, type Runtime } from '../dist/src/index.js';
import { shardOf } from '../dist/src/runtime/fleet/placement.js';
import { eventually, fixture } from './helpers.js';
import { useFleetPair } from './fleet-pair.js';

describe('calls across the hosts of a fleet', () => {
  const pair = useFleetPair('calls', { machines: { counter: fixture('counter'), inbox: fixture('inbox') }, groups: { agents: { untargeted: 'primary' } } });
  let a: Runtime;
  let b: Runtime;
  const ids = Array.from({ length: 16 }, (_, i) => `s-${i}`);
  /** A session that lives on host A, and one on host B. */
  let onA: string;
  let onB: string;

  beforeAll(async () => {
    ({ a, b } = pair);
    for (const id of ids) await a.spawn('counter', { id });
    onA = ids.find((id) => a.peek(id)?.host === 'host-a')!;
    onB = ids.find((id) => b.peek(id)?.host === 'host-b')!;
    expect(onA && onB).toBeTruthy();
  }, 60_000);

  it('subscribe on host B hears every snapshot of a session that lives on host A, and stops when unsubscribed', { timeout: 30_000 }, async () => {
    const heard: number[] = [];
    const off = b.subscribe(onA, (snapshot) => heard.push((snapshot.context as { count: number }).count));
    // The watch is registered with the owner before the first event counts on it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let n = 0; n < 3; n++) await a.send(onA, { type: 'INC' });
    await eventually(() => heard.length >= 3);
    expect(heard.slice(-3)).toEqual([1, 2, 3]);
    off();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.send(onA, { type: 'INC' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard.at(-1)).toBe(3);
  });

  it('waitFor on host B resolves with a typed snapshot of the session on host A; complete when it ends', { timeout: 30_000 }, async () => {
    const waiting = b.waitFor(onA, (snapshot) => (snapshot.context as { count: number }).count >= 6, { timeoutMs: 15_000 });
    for (let n = 0; n < 2; n++) await a.send(onA, { type: 'INC' });
    await b.send(onA, { type: 'INC' });
    const snapshot = await waiting;
    // The first snapshot from the owner that satisfies it: at 6, or the current one (7) if the watch registered after.
    expect((snapshot.context as { count: number }).count).toBeGreaterThanOrEqual(6);
    expect(snapshot.matches('counting')).toBe(true);

    // Another session of host A ends: the watch on host B completes.
    const ending = ids.find((id) => id !== onA && a.peek(id)?.host === 'host-a')!;
    let completed = false;
    const final: AnyMachineSnapshot[] = [];
    b.subscribe(ending, { next: (s) => final.push(s as AnyMachineSnapshot), complete: () => (completed = true) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.send(ending, { type: 'FINISH' });
    await eventually(() => completed);
    expect(final.at(-1)?.status).toBe('done');
  });

  it("subscribe to a session no host has: UnknownSessionError, thrown by its shard's owner, given to the observer elsewhere", { timeout: 30_000 }, async () => {
    const thrown: unknown[] = [];
    const heard: unknown[] = [];
    for (const runtime of [a, b]) {
      try {
        runtime.subscribe('nobody', { error: (error) => heard.push(error) });
      } catch (error) {
        thrown.push(error);
      }
    }
    await eventually(() => heard.length === 1);
    expect(thrown).toEqual([expect.any(UnknownSessionError)]);
    expect(heard).toEqual([expect.any(UnknownSessionError)]);
  });

  it('peek and list on either host show every session of the fleet, and where it lives', { timeout: 30_000 }, async () => {
    const live = ids.filter((id) => a.peek(id) !== undefined);
    expect(live).toHaveLength(ids.length - 1); // one ended above
    await eventually(() => live.every((id) => b.peek(id) !== undefined));
    expect(b.peek(onA)).toMatchObject({ id: onA, kind: 'counter', status: 'remote', host: 'host-a' });
    expect(a.peek(onA)).toMatchObject({ id: onA, status: 'active', host: 'host-a' });
    expect(a.peek(onB)).toMatchObject({ status: 'remote', host: 'host-b' });
    const everywhere = (runtime: Runtime) => runtime.list({ pool: 'default' }).filter((info) => ids.includes(info.id)).map((info) => `${info.id}@${info.host}`).sort();
    expect(everywhere(a)).toEqual(everywhere(b));
    expect(everywhere(a)).toHaveLength(live.length);
    expect(b.list({ status: 'remote' }).map((info) => info.id)).toContain(onA);
    expect(b.list({ status: 'remote' }).map((info) => info.id)).not.toContain(onB);
    // A pin holds a session on its host: refused elsewhere, with where to pin it.
    expect(() => b.pin(onA)).toThrow(UnknownSessionError);
    expect(() => b.pin(onA)).toThrow(/lives on another host of the fleet \(host-a\).*pin it there/);
    a.pin(onA)();
    // A session stopped on one host is gone from both.
    const gone = live.find((id) => id !== onA && id !== onB)!;
    await b.stop(gone);
    await eventually(() => a.peek(gone) === undefined && b.peek(gone) === undefined);
  });

  it("stats().fleet and the inspector page (a real browser) show which host holds which shard", { timeout: 60_000 }, async () => {
    const holders = (runtime: Runtime) => runtime.stats().fleet!.shards.map((shard) => shard.host);
    await eventually(() => holders(a).every((held) => held !== undefined) && holders(a).join() === holders(b).join());
    expect(a.stats().fleet).toMatchObject({ name: 'calls', host: 'host-a' });
    expect(holders(a).filter((held) => held === 'host-a')).toHaveLength(2);
    expect(holders(a).filter((held) => held === 'host-b')).toHaveLength(2);

    const { url } = await a.serveInspector({ port: 0 });
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForSelector('#fleet-shards tbody tr:nth-child(4)');
      const rows = await page.$$eval('#fleet-shards tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      expect(rows.filter((row) => row.includes('host-a (here)'))).toHaveLength(2);
      expect(rows.filter((row) => row.includes('host-b'))).toHaveLength(2);
      expect(await page.textContent('#fleet-name')).toContain('calls');
    } finally {
      await browser.close();
    }
  });

  it('labels across hosts: lookup on either host, deliver to a label held on the other, held mail sent where the label is taken', { timeout: 30_000 }, async () => {
    // Two labelled sessions, one spawned on each host, each living wherever its shard is.
    await a.spawn('inbox', { id: 'agent-1', label: { group: 'agents', name: 'lead' } });
    await eventually(() => b.lookup('agents', 'lead') === 'agent-1');
    expect(b.peek('agent-1')).toMatchObject({ label: 'lead', group: 'agents' });
    await b.deliver('agents', { type: 'TASK', n: 1 }, { to: 'lead' });
    await a.deliver('agents', { type: 'TASK', n: 2 }, { to: 'lead' });
    expect((await b.getSnapshot('agent-1')).context).toEqual({ got: ['TASK:1', 'TASK:2'] });

    // Held on host B for a label no session has yet; a session takes it on host A (or wherever it lives).
    await b.deliver('agents', { type: 'HELD', n: 1 }, { to: 'helper' });
    await b.deliver('agents', { type: 'HELD', n: 2 }, { to: 'helper' });
    // An id in the shard of a session that lives on host A: it lives there too.
    const helper = Array.from({ length: 100 }, (_, i) => `helper-${i}`).find((id) => shardOf(id, 4) === shardOf(onA, 4))!;
    await a.spawn('inbox', { id: helper, label: { group: 'agents', name: 'helper' } });
    expect(a.peek(helper)?.host).toBe('host-a');
    const got = async () => ((await a.getSnapshot(helper)).context as { got: string[] }).got;
    for (const started = performance.now(); (await got()).length < 2 && performance.now() - started < 10_000; ) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await got()).toEqual(['HELD:1', 'HELD:2']);
  });

  it('the directory keeps following after the nats-server is killed (SIGKILL) and restarted', { timeout: 60_000 }, async () => {
    await pair.nats.restart();
    // A session spawned after the restart (retried while the hosts reconnect) shows on both hosts.
    for (let attempt = 0; !(await a.spawn('counter', { id: 'after-restart' }).then(() => true, () => false)); attempt++) {
      if (attempt > 100) throw new Error('no spawn after the restart');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await eventually(() => a.peek('after-restart') !== undefined && b.peek('after-restart') !== undefined, 20_000);
    expect(a.peek('after-restart')!.host).toBe(b.peek('after-restart')!.host);
  });

  it('a watch follows its session when its shard moves to another host', { timeout: 60_000 }, async () => {
    const heard: number[] = [];
    const off = a.subscribe(onB, (snapshot) => heard.push((snapshot.context as { count: number }).count));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await b.send(onB, { type: 'INC' });
    await eventually(() => heard.includes(1));
    // Host B leaves: its shards (onB's among them) move to host A.
    await b.shutdown();
    await a.send(onB, { type: 'INC' });
    expect(a.peek(onB)?.host).toBe('host-a');
    await eventually(() => heard.includes(2));
    off();
  });

});
