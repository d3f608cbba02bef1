// The fleet over NATS JetStream (Debian's nats-server, started here on a free port):
// - a send through a host that does not own the session vs through its owner (latency, throughput);
// - kill -9 of a host → its sessions answering again from the survivors (ms, every session of every kill);
// - acknowledged sends/s of three host processes beside one (for information: they share 2 cores).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/index.js';
import { startNats } from '../../test/nats-server.js';
import { percentile, until } from '../measure.js';

const COUNTER = new URL('../machines/counter.machine.js', import.meta.url);
const HOST = new URL('../fleet-host.js', import.meta.url).pathname;
const INC = { type: 'INC' } as const;

export interface RoutingResult {
  ownerP50Us: number;
  ownerP99Us: number;
  routedP50Us: number;
  routedP99Us: number;
  ownerSendsPerSec: number;
  routedSendsPerSec: number;
}

export interface TakeoverResult {
  leaseTtlMs: number;
  kills: number;
  /** Per session of a killed host: ms from the kill until a send to it was acknowledged. */
  answeredMs: number[];
}

export interface FleetResult {
  routing: RoutingResult;
  takeover: TakeoverResult;
  /** Acknowledged sends/s of the fleet: one host process, then three (each driving its share). */
  oneHost: number;
  threeHosts: number;
}

const fleetOptions = (servers: string, name: string, host: string, leaseTtlMs: number) => ({ servers, name, host, shards: 8, leaseTtlMs });

export async function fleetScenario(samples: number, sends: number, kills: number, loadEvents: number): Promise<FleetResult> {
  const nats = await startNats();
  try {
    const routing = await routingCost(nats.url, samples, sends);
    const takeover = await takeoverTime(nats.url, kills);
    const oneHost = await fleetThroughput(nats.url, 'bench-one', 1, loadEvents);
    const threeHosts = await fleetThroughput(nats.url, 'bench-three', 3, loadEvents);
    return { routing, takeover, oneHost, threeHosts };
  } finally {
    await nats.stop();
  }
}

/** Two hosts in this process; sessions of host A, sent to through A (its owner) and through B (routed over NATS). */
async function routingCost(servers: string, samples: number, sends: number): Promise<RoutingResult> {
  const start = (host: string) =>
    createRuntime({ machines: { counter: COUNTER }, workers: 1, logger: pino({ level: 'silent' }), fleet: fleetOptions(servers, 'bench-route', host, 5_000) });
  const a = await start('a');
  const b = await start('b');
  try {
    const acquired = new Set<number>();
    b.on('shardAcquired', ({ shard }) => acquired.add(shard));
    await until(() => acquired.size === 4, 60_000);
    const all = Array.from({ length: 400 }, (_, i) => `r${i}`);
    for (const id of all) await a.spawn('counter', { id });
    const ids = all.filter((id) => a.peek(id)?.host === 'a' && a.peek(id)?.status !== 'remote').slice(0, 100);
    const latency = async (through: Runtime) => {
      const times: number[] = [];
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        await through.send(ids[i % ids.length]!, INC);
        times.push((performance.now() - started) * 1000);
      }
      return times.sort((x, y) => x - y);
    };
    const rate = async (through: Runtime) => {
      let next = 0;
      const started = performance.now();
      await Promise.all(
        ids.map(async () => {
          for (let i = next++; i < sends; i = next++) await through.send(ids[i % ids.length]!, INC);
        }),
      );
      return sends / ((performance.now() - started) / 1000);
    };
    await latency(a); // warm-up, both ways
    await latency(b);
    const owner = await latency(a);
    const routed = await latency(b);
    const ownerSendsPerSec = await rate(a);
    const routedSendsPerSec = await rate(b);
    return {
      ownerP50Us: percentile(owner, 50),
      ownerP99Us: percentile(owner, 99),
      routedP50Us: percentile(routed, 50),
      routedP99Us: percentile(routed, 99),
      ownerSendsPerSec,
      routedSendsPerSec,
    };
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
}

class HostProcess {
  readonly child: ChildProcess;
  readonly #lines: string[] = [];
  #waiting: ((line: string) => void) | undefined;

  constructor(servers: string, fleet: string, host: string, leaseTtlMs: number) {
    this.child = spawn(process.execPath, [HOST, servers, fleet, host, '8', String(leaseTtlMs)], { stdio: ['pipe', 'pipe', 'ignore'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (this.#waiting) {
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting(line);
      } else this.#lines.push(line);
    });
  }

  line(): Promise<string> {
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.child.once('exit', () => reject(new Error('fleet host process exited')));
    });
  }

  async command(line: string): Promise<string> {
    this.child.stdin!.write(`${line}\n`);
    return this.line();
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await exited;
  }
}

async function startHost(servers: string, fleet: string, host: string, leaseTtlMs: number): Promise<HostProcess> {
  const child = new HostProcess(servers, fleet, host, leaseTtlMs);
  if ((await child.line()) !== 'ready') throw new Error(`fleet host ${host} did not start`);
  return child;
}

/** Three host processes and this one; kill -9 a host owning sessions, time each of its sessions' first acknowledged send after. */
async function takeoverTime(servers: string, kills: number): Promise<TakeoverResult> {
  const leaseTtlMs = 3_000;
  const fleet = 'bench-kill';
  const names = ['h1', 'h2', 'h3'];
  const hosts = new Map<string, HostProcess>();
  for (const name of names) hosts.set(name, await startHost(servers, fleet, name, leaseTtlMs));
  const client = await createRuntime({ machines: { counter: COUNTER }, workers: 1, logger: pino({ level: 'silent' }), fleet: fleetOptions(servers, fleet, 'client', leaseTtlMs) });
  const answeredMs: number[] = [];
  try {
    const ids = Array.from({ length: 64 }, (_, i) => `k${i}`);
    for (const id of ids) await client.spawn('counter', { id });
    for (let kill = 0; kill < kills; kill++) {
      // Settled: every host holds its share again (after the previous kill's restart).
      await until(() => names.every((name) => ids.some((id) => client.peek(id)?.host === name)), 60_000);
      const victim = names[kill % names.length]!;
      const victims = ids.filter((id) => client.peek(id)?.host === victim);
      for (const id of victims) await client.send(id, INC);
      const killed = performance.now();
      await hosts.get(victim)!.kill('SIGKILL');
      await Promise.all(
        victims.map(async (id) => {
          for (;;) {
            try {
              await client.send(id, INC);
              answeredMs.push(performance.now() - killed);
              return;
            } catch {
              // ShardUnavailableError past the router's bound: try again.
            }
          }
        }),
      );
      hosts.set(victim, await startHost(servers, fleet, victim, leaseTtlMs));
    }
  } finally {
    await client.shutdown();
    for (const host of hosts.values()) await host.kill('SIGKILL');
  }
  return { leaseTtlMs, kills, answeredMs: answeredMs.sort((x, y) => x - y) };
}

/** `count` host processes; each spawns 200 sessions (wherever their shards are) and sends `events / count` to them, 200 in flight. */
async function fleetThroughput(servers: string, fleet: string, count: number, events: number): Promise<number> {
  const hosts: HostProcess[] = [];
  try {
    for (let i = 0; i < count; i++) hosts.push(await startHost(servers, fleet, `t${i}`, 5_000));
    // Every host holds its share before the load starts (a round is a third of the lease).
    await new Promise((resolve) => setTimeout(resolve, count > 1 ? 6_000 : 500));
    await Promise.all(hosts.map((host, i) => host.command(`spawn 200 p${i}`)));
    const started = performance.now();
    await Promise.all(hosts.map((host, i) => host.command(`load 200 p${i} ${Math.round(events / count)} 200`)));
    return events / ((performance.now() - started) / 1000);
  } finally {
    for (const host of hosts) await host.kill('SIGTERM');
  }
}
