// The checker of shared/FLEET.md. Not in the default run yet: it found three bugs, fixed, and
// long runs still find a few acknowledged events lost now and then (an open bug). Run it:
//   FLEET_CHECK=1 npx vitest run test/fleet-checker.test.ts      (FLEET_CHECK_SECONDS=120 for longer)
// three host processes and this process on one nats-server; a client drives numbered RECORD
// sends to sessions through this host and records which were acknowledged; a nemesis kills hosts
// with SIGKILL (and starts them again), pauses one with SIGSTOP past its lease, and restarts the
// nats-server. At the end every session's history must hold every acknowledged number exactly
// once, in send order, nothing twice, and each host's run in it must be one stretch (a host that
// took a session over never hands it back mid-run to a host that had lost it).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../dist/src/index.js';
import { fixture, silentLogger } from './helpers.js';
import { startNats } from './nats-server.js';

const HOST = new URL('../dist/test/fixtures/fleet-host.js', import.meta.url).pathname;
const SECONDS = Number(process.env.FLEET_CHECK_SECONDS ?? 20);
const SESSIONS = 60;
const FLEET = 'checker';

describe.runIf(process.env.FLEET_CHECK)('the fleet checker', () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  const hosts = new Map<string, ChildProcess>();
  let client: Runtime | undefined;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    try {
      await client?.shutdown();
    } finally {
      for (const child of hosts.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const child of hosts.values()) if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
      await nats?.stop();
    }
  }, 120_000);

  async function startHost(name: string): Promise<void> {
    const child = spawn(process.execPath, [HOST, nats.url, FLEET, name, '8'], { stdio: ['ignore', 'pipe', 'ignore'] });
    hosts.set(name, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 30_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        if (String(chunk).includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  it(`keeps every acknowledged event exactly once through ${SECONDS} s of kill -9, SIGSTOP past the lease and NATS restarts`, { timeout: (SECONDS + 100) * 1_000 }, async () => {
    for (const name of ['host-a', 'host-b', 'host-c']) await startHost(name);
    process.env.ACTORHOST_HOST = 'host-client';
    client = await createRuntime({
      machines: { recorder: fixture('recorder') },
      workers: 1,
      logger: silentLogger,
      fleet: { servers: nats.url, name: FLEET, host: 'host-client', shards: 8, leaseTtlMs: 1_500 },
    });
    const ids = Array.from({ length: SESSIONS }, (_, i) => `c${i}`);
    const counts = { sent: 0, acknowledged: 0, refused: 0, kills: 0, pauses: 0, natsRestarts: 0 };
    const progress = setInterval(() => process.stderr.write(`[checker] ${phase} ${JSON.stringify(counts)}\n`), 2_000);
    let phase = 'spawn';
    for (const id of ids) {
      for (let attempt = 0; ; attempt++) {
        const spawned = await client.spawn('recorder', { id }).then(() => true, (error: Error) => (process.stderr.write(`[checker] spawn ${id}: ${error.name} ${error.message}\n`), error.name === 'DuplicateSessionError' ? true : attempt > 50 ? Promise.reject(error) : false));
        if (spawned) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    phase = 'load';
    const acknowledged = new Map<string, number[]>(ids.map((id) => [id, []]));
    const attempted = new Map<string, number[]>(ids.map((id) => [id, []]));
    const deadline = performance.now() + SECONDS * 1_000;
    let running = true;

    // Each session has one sender, sending its numbers in order, one at a time.
    const senders = ids.map(async (id) => {
      let seq = 0;
      while (running) {
        seq++;
        counts.sent++;
        attempted.get(id)!.push(seq);
        await client!.send(id, { type: 'RECORD', seq }).then(
          () => {
            counts.acknowledged++;
            acknowledged.get(id)!.push(seq);
          },
          () => counts.refused++,
        );
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
      }
    });

    const nemesis = (async () => {
      const names = ['host-a', 'host-b', 'host-c'];
      while (performance.now() < deadline - 4_000) {
        await new Promise((resolve) => setTimeout(resolve, 2_000 + Math.random() * 1_500));
        const victim = names[Math.floor(Math.random() * names.length)]!;
        const roll = Math.random();
        if (roll < 0.45) {
          hosts.get(victim)!.kill('SIGKILL');
          counts.kills++;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          await startHost(victim);
        } else if (roll < 0.8) {
          hosts.get(victim)!.kill('SIGSTOP');
          counts.pauses++;
          await new Promise((resolve) => setTimeout(resolve, 2_500));
          hosts.get(victim)!.kill('SIGCONT');
        } else {
          await nats.restart();
          counts.natsRestarts++;
        }
      }
    })();

    await nemesis;
    phase = 'drain';
    while (performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    running = false;
    await Promise.all(senders);

    phase = 'check';
    let found = 0;
    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let unacknowledgedKept = 0;
    let hostFlips = 0;
    for (const id of ids) {
      const { seen, hosts: by } = (await client.getSnapshot(id)).context as { seen: number[]; hosts: string[] };
      const seenSet = new Set(seen);
      duplicated += seen.length - seenSet.size;
      if (seen.length !== seenSet.size) {
        const dup = seen.find((seq, i) => seen.indexOf(seq) !== i)!;
        const at = seen.indexOf(dup);
        process.stderr.write(`[checker] duplicate ${id} #${dup}: ${JSON.stringify(seen.slice(Math.max(0, at - 3), at + 8))} by ${JSON.stringify(by.slice(Math.max(0, at - 3), at + 8))}\n`);
      }
      for (let i = 1; i < seen.length; i++) if (seen[i]! <= seen[i - 1]!) outOfOrder++;
      for (const seq of acknowledged.get(id)!) {
        if (seenSet.has(seq)) found++;
        else {
          lost++;
          if (lost <= 5) process.stderr.write(`[checker] lost ${id} #${seq}: acknowledged ${acknowledged.get(id)!.length}, seen ${seen.length}, around: ${JSON.stringify(seen.slice(Math.max(0, seen.indexOf(seq - 1) - 2), seen.indexOf(seq - 1) + 3))} by ${JSON.stringify(by.slice(Math.max(0, seen.indexOf(seq - 1) - 2), seen.indexOf(seq - 1) + 3))}\n`);
        }
      }
      const acked = new Set(acknowledged.get(id));
      unacknowledgedKept += seen.filter((seq) => !acked.has(seq)).length;
      // Runs of one host: a host that reappears after another took over processed it again after
      // losing it — fine only if it took it back by a new lease, which shows as a new run; count them.
      for (let i = 1; i < by.length; i++) if (by[i] !== by[i - 1]) hostFlips++;
    }
    clearInterval(progress);
    const report = { sessions: SESSIONS, seconds: SECONDS, ...counts, found, lost, duplicated, outOfOrder, unacknowledgedKept, hostChanges: hostFlips };
    process.stdout.write(`fleet checker: ${JSON.stringify(report)}\n`);
    expect(counts.acknowledged).toBeGreaterThan(SESSIONS);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(outOfOrder).toBe(0);
  });
});
