// Fleet hosts as real processes on a real nats-server (fleet groundwork): a host killed with
// SIGKILL — its sessions answer again from the survivors, with every acknowledged event.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../dist/src/index.js';
import { fixture, silentLogger } from './helpers.js';
import { startNats, type NatsServer } from './nats-server.js';

const HOST = new URL('../dist/test/fixtures/fleet-host.js', import.meta.url).pathname;

describe('fleet hosts as processes', () => {
  let nats: NatsServer;
  const children: ChildProcess[] = [];
  const runtimes: Runtime[] = [];
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    try {
      for (const runtime of runtimes) await runtime.shutdown();
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    } finally {
      await nats?.stop();
    }
  }, 120_000);

  async function hostProcess(fleet: string, name: string, stderr: 'inherit' | 'pipe' = 'inherit'): Promise<ChildProcess> {
    const child = spawn(process.execPath, [HOST, nats.url, fleet, name], { stdio: ['pipe', 'pipe', stderr] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`fleet host ${name} exited (${code})`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (String(chunk).includes('ready')) resolve();
      });
    });
    return child;
  }

  /** This process as a host of `fleet` too (it takes its share of the shards), shut down after the tests. */
  async function clientHost(fleet: string): Promise<Runtime> {
    const client = await createRuntime({
      machines: { counter: fixture('counter') },
      workers: 1,
      logger: silentLogger,
      fleet: { servers: nats.url, name: fleet, host: 'host-test', shards: 4, leaseTtlMs: 1_500 },
    });
    runtimes.push(client);
    return client;
  }

  /** The ids the host process has (live or evicted), by asking it. */
  async function peekAll(child: ChildProcess, ids: string[]): Promise<string[]> {
    const answers = new Map<string, string>();
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += String(chunk);
      for (const match of buffered.matchAll(/^peek (\S+) (\S+)$/gm)) answers.set(match[1]!, match[2]!);
    };
    child.stdout!.on('data', onData);
    for (const id of ids) child.stdin!.write(`peek ${id}\n`);
    for (let wait = 0; wait < 100 && answers.size < ids.length; wait++) await new Promise((resolve) => setTimeout(resolve, 50));
    child.stdout!.off('data', onData);
    return ids.filter((id) => answers.get(id) !== undefined && answers.get(id) !== 'none' && answers.get(id) !== 'remote');
  }

  it('a host killed with SIGKILL: its sessions answer again from the survivors with every acknowledged event', { timeout: 90_000 }, async () => {
    const a = await hostProcess('crash', 'host-a');
    await hostProcess('crash', 'host-b');
    const client = await clientHost('crash');
    // Let the three hosts settle on their shares.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const ids = Array.from({ length: 16 }, (_, i) => `s${i}`);
    const acknowledged = new Map<string, number>();
    for (const id of ids) {
      await client.spawn('counter', { id });
      for (let n = 0; n < 5; n++) {
        await client.send(id, { type: 'INC' });
        acknowledged.set(id, (acknowledged.get(id) ?? 0) + 1);
      }
    }
    // Some of the sessions live on host-a (it holds its share of the shards).
    const onA = await peekAll(a, ids);
    expect(onA.length).toBeGreaterThan(0);
    a.kill('SIGKILL');
    const killedAt = performance.now();
    for (const id of ids) {
      const snapshot = await client.getSnapshot(id);
      expect(snapshot.context).toMatchObject({ count: acknowledged.get(id) });
    }
    const answeredAfter = performance.now() - killedAt;
    // Within a lease and a restore (and the coordinator's round): bounded, not a hang.
    expect(answeredAfter).toBeLessThan(15_000);
    for (const id of ids) await client.send(id, { type: 'INC' });
    for (const id of ids) expect((await client.getSnapshot(id)).context).toMatchObject({ count: acknowledged.get(id)! + 1 });
  });

  it('a host paused (SIGSTOP) past its lease: the others take its shards; resumed, it fences itself and drops them; no acknowledged event is lost or doubled', { timeout: 90_000 }, async () => {
    const a = await hostProcess('pause', 'host-a', 'pipe');
    let aLog = '';
    a.stderr!.on('data', (chunk: Buffer) => (aLog += String(chunk)));
    await hostProcess('pause', 'host-b');
    const client = await clientHost('pause');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const ids = Array.from({ length: 16 }, (_, i) => `p${i}`);
    for (const id of ids) {
      await client.spawn('counter', { id });
      for (let n = 0; n < 3; n++) await client.send(id, { type: 'INC' });
    }
    const onA = await peekAll(a, ids);
    expect(onA.length).toBeGreaterThan(0);
    a.kill('SIGSTOP');
    // While host-a is paused, its sessions are taken over and go on.
    for (const id of ids) await client.send(id, { type: 'INC' });
    a.kill('SIGCONT');
    for (let wait = 0; wait < 100 && !aLog.includes('shard lost'); wait++) await new Promise((resolve) => setTimeout(resolve, 50));
    // It fenced itself: its shards lost, the sessions it had stopped (it may take shards back at
    // once, by new leases, restoring them from JetStream).
    expect(aLog).toContain('shard lost: its sessions were stopped here');
    // None of them lost or doubled an event.
    for (const id of ids) await client.send(id, { type: 'INC' });
    for (const id of ids) expect((await client.getSnapshot(id)).context).toMatchObject({ count: 5 });
  });
});
