// The checker of shared/FLEET.md, on one nats-server and on a three-node cluster (replicas 3):
// three host processes and this process in one fleet; a client drives numbered RECORD sends to
// 60 sessions through this host and records which were acknowledged; a nemesis kills hosts with
// SIGKILL (and starts them again), pauses one with SIGSTOP past its lease, and kills a NATS node
// (SIGKILL) and starts it again. Every session owns a subprocess (`sleep <mark>`).
// At the end, for every session: every acknowledged number is in its history exactly once, in
// send order; per shard, the epochs of its successive owners only grow (a lease's revision: no
// two acquisitions share one, none goes back); and once every host has shut down, no subprocess
// of any host — killed, fenced or stopped — is left running. It prints its counts.
// The default run is short (20 s of nemesis per topology); longer:
//   FLEET_CHECK_SECONDS=120 npx vitest run test/fleet-checker.test.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../dist/src/index.js';
import { fixture, silentLogger } from './helpers.js';
import { startNats, startNatsCluster } from './nats-server.js';

const HOST = new URL('../dist/test/fixtures/fleet-host.js', import.meta.url).pathname;
const SECONDS = Number(process.env.FLEET_CHECK_SECONDS ?? 20);
const SESSIONS = 60;
const SHARDS = 8;
const HOSTS = ['host-a', 'host-b', 'host-c'];

interface Topology {
  servers: string[];
  replicas: 1 | 3;
  /** Kills one NATS node with SIGKILL and starts it again. */
  restartNats(): Promise<void>;
  stop(): Promise<void>;
}

/** Pids of processes whose command line is `sleep <mark>` (this run's sessions' subprocesses). */
function subprocessesOf(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === `sleep\0${mark}\0`) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

type ShardEvent = { kind: 'acquired'; host: string; shard: number; epoch: number; at: number } | { kind: 'lost'; host: string; shard: number; reason: string; at: number };

describe('the fleet checker', () => {
  const hosts = new Map<string, ChildProcess>();
  /** Every host's shards acquired and lost (the hosts print them; this process's own are added). */
  let shardEvents: ShardEvent[] = [];
  let client: Runtime | undefined;
  let topology: Topology | undefined;
  let mark = '';
  afterEach(async () => {
    try {
      await client?.shutdown();
    } finally {
      for (const child of hosts.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const child of hosts.values()) if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
      hosts.clear();
      client = undefined;
      await topology?.stop();
      topology = undefined;
      // Whatever a failed run left (the assertion is in the test): killed, by pid, ours only.
      for (const pid of subprocessesOf(mark)) process.kill(pid, 'SIGKILL');
    }
  }, 120_000);

  async function startHost(name: string, fleet: string): Promise<void> {
    const { servers, replicas } = topology!;
    const child = spawn(process.execPath, [HOST, servers.join(','), fleet, name, String(SHARDS), String(replicas)], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, FLEET_CHECK_MARK: mark },
    });
    hosts.set(name, child);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('event ')) shardEvents.push(JSON.parse(line.slice('event '.length)) as ShardEvent);
    });
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

  async function check(fleet: string): Promise<void> {
    // A number no other process uses as `sleep`'s argument: this run's subprocesses.
    mark = String(700_000 + Math.floor(Math.random() * 100_000));
    shardEvents = [];
    const kills: Array<{ host: string; at: number }> = [];
    const refusals: Record<string, number> = {};
    process.env.FLEET_CHECK_MARK = mark;
    const { servers, replicas } = topology!;
    for (const name of HOSTS) await startHost(name, fleet);
    process.env.ACTORHOST_HOST = 'host-client';
    client = await createRuntime({
      machines: { recorder: fixture('recorder') },
      workers: 1,
      logger: silentLogger,
      fleet: { servers, name: fleet, host: 'host-client', shards: SHARDS, leaseTtlMs: 1_500, replicas },
    });
    client.on('shardAcquired', ({ shard, epoch }) => shardEvents.push({ kind: 'acquired', host: 'host-client', shard, epoch, at: Date.now() }));
    client.on('shardLost', ({ shard, reason }) => shardEvents.push({ kind: 'lost', host: 'host-client', shard, reason, at: Date.now() }));
    const ids = Array.from({ length: SESSIONS }, (_, i) => `${fleet}-${i}`);
    const counts = { sent: 0, acknowledged: 0, refused: 0, kills: 0, pauses: 0, natsRestarts: 0 };
    let phase = 'spawn';
    const progress = setInterval(() => process.stderr.write(`[checker ${fleet}] ${phase} ${JSON.stringify(counts)}\n`), 5_000);
    try {
      for (const id of ids) {
        for (let attempt = 0; ; attempt++) {
          const spawned = await client.spawn('recorder', { id }).then(
            () => true,
            (error: Error) => (error.name === 'DuplicateSessionError' ? true : attempt > 50 ? Promise.reject(error) : false),
          );
          if (spawned) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }

      // Every live session owns its subprocess (the check at the end is not vacuous).
      let subprocessesAtStart = subprocessesOf(mark).length;
      for (let waited = 0; subprocessesAtStart === 0 && waited < 5_000; waited += 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        subprocessesAtStart = subprocessesOf(mark).length;
      }

      phase = 'load';
      const acknowledged = new Map<string, number[]>(ids.map((id) => [id, []]));
      const deadline = performance.now() + SECONDS * 1_000;
      let running = true;
      // Each session has one sender, sending its numbers in order, one at a time.
      const senders = ids.map(async (id) => {
        let seq = 0;
        while (running) {
          seq++;
          counts.sent++;
          await client!.send(id, { type: 'RECORD', seq }).then(
            () => {
              counts.acknowledged++;
              acknowledged.get(id)!.push(seq);
            },
            (error: Error) => {
              counts.refused++;
              refusals[error.name] = (refusals[error.name] ?? 0) + 1;
            },
          );
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
        }
      });
      const nemesis = (async () => {
        // One of each kind first (in a random order), so even a short run has them all; then at random.
        const first = [0.2, 0.6, 0.9].sort(() => Math.random() - 0.5);
        while (first.length > 0 || performance.now() < deadline - 4_000) {
          await new Promise((resolve) => setTimeout(resolve, 1_500 + Math.random() * 1_500));
          const victim = HOSTS[Math.floor(Math.random() * HOSTS.length)]!;
          const roll = first.shift() ?? Math.random();
          if (roll < 0.45) {
            hosts.get(victim)!.kill('SIGKILL');
            kills.push({ host: victim, at: Date.now() });
            counts.kills++;
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            await startHost(victim, fleet);
          } else if (roll < 0.8) {
            hosts.get(victim)!.kill('SIGSTOP');
            counts.pauses++;
            await new Promise((resolve) => setTimeout(resolve, 2_500));
            hosts.get(victim)!.kill('SIGCONT');
          } else {
            await topology!.restartNats();
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
      let hostChanges = 0;
      for (const id of ids) {
        const { seen, hosts: by } = (await client.getSnapshot(id)).context as { seen: number[]; hosts: string[] };
        const seenSet = new Set(seen);
        duplicated += seen.length - seenSet.size;
        for (let i = 1; i < seen.length; i++) if (seen[i]! <= seen[i - 1]!) outOfOrder++;
        for (const seq of acknowledged.get(id)!) {
          if (seenSet.has(seq)) found++;
          else if (++lost <= 5) {
            const at = seen.indexOf(seq - 1);
            process.stderr.write(`[checker ${fleet}] lost ${id} #${seq}: around ${JSON.stringify(seen.slice(Math.max(0, at - 2), at + 3))} by ${JSON.stringify(by.slice(Math.max(0, at - 2), at + 3))}\n`);
          }
        }
        const acked = new Set(acknowledged.get(id));
        unacknowledgedKept += seen.filter((seq) => !acked.has(seq)).length;
        for (let i = 1; i < by.length; i++) if (by[i] !== by[i - 1]) hostChanges++;
      }

      // Every host shuts down (the client last): then nothing of theirs may be left running.
      phase = 'shutdown';
      for (const child of hosts.values()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await client.shutdown();
      // A killed host's subprocesses are killed by its reaper, which notices within a moment.
      let leftRunning = subprocessesOf(mark);
      for (let waited = 0; leftRunning.length > 0 && waited < 10_000; waited += 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        leftRunning = subprocessesOf(mark);
      }

      // Per shard: an owner that took it after another's ownership ended (lost, handed off, or its
      // process killed) holds a greater epoch. (Ownerships are what each host reported.)
      let epochsBackwards = 0;
      const acquisitions = shardEvents.filter((event) => event.kind === 'acquired');
      const ownerships = acquisitions.map((acquired) => {
        const ended = shardEvents.find((event) => event.kind === 'lost' && event.host === acquired.host && event.shard === acquired.shard && event.at >= acquired.at);
        const killed = kills.find((kill) => kill.host === acquired.host && kill.at >= acquired.at);
        return { ...acquired, endedAt: Math.min(ended?.at ?? Infinity, killed?.at ?? Infinity) };
      });
      for (const later of ownerships) {
        for (const earlier of ownerships) if (earlier.shard === later.shard && earlier.endedAt < later.at && later.epoch <= earlier.epoch) epochsBackwards++;
      }
      const losses = shardEvents.filter((event): event is Extract<ShardEvent, { kind: 'lost' }> => event.kind === 'lost');
      const takeovers = acquisitions.length;
      const fencings = losses.filter((event) => event.reason !== 'handedOff').length;

      const report = { fleet, replicas, sessions: SESSIONS, seconds: SECONDS, ...counts, found, lost, duplicated, outOfOrder, unacknowledgedKept, hostChanges, takeovers, fencings, epochsBackwards, refusals, subprocessesAtStart, subprocessesLeft: leftRunning.length };
      process.stdout.write(`fleet checker: ${JSON.stringify(report)}\n`);
      expect(counts.acknowledged).toBeGreaterThan(SESSIONS);
      expect(subprocessesAtStart).toBeGreaterThan(0);
      expect(counts.kills * counts.pauses * counts.natsRestarts).toBeGreaterThan(0);
      expect(lost).toBe(0);
      expect(duplicated).toBe(0);
      expect(outOfOrder).toBe(0);
      expect(takeovers).toBeGreaterThan(0);
      expect(epochsBackwards).toBe(0);
      expect(leftRunning).toEqual([]);
    } finally {
      clearInterval(progress);
    }
  }

  it(`one nats-server: every acknowledged event kept exactly once, in order, through ${SECONDS} s of kill -9, SIGSTOP past the lease and NATS restarts; no subprocess left`, { timeout: (SECONDS + 150) * 1_000 }, async () => {
    const nats = await startNats();
    topology = { servers: [nats.url], replicas: 1, restartNats: () => nats.restart(), stop: () => nats.stop() };
    await check('single');
  });

  it(`a three-node cluster, replicas 3: the same through ${SECONDS} s, one node at a time killed and restarted`, { timeout: (SECONDS + 150) * 1_000 }, async () => {
    const cluster = await startNatsCluster();
    topology = { servers: cluster.servers, replicas: 3, restartNats: () => cluster.restart(Math.floor(Math.random() * 3)), stop: () => cluster.stop() };
    await check('replicated');
  });
});
