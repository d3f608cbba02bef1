// The supervisor's policies: the busy flag's cost, eviction churn with busy sessions, and how long
// a SIGKILLed host's subprocesses outlive it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolFullError, type Runtime, type RuntimeOptions } from '../../src/index.js';
import { benchRuntime, incEventsPerSec, until } from '../measure.js';

const COUNTER = new URL('../machines/counter.machine.js', import.meta.url);
const TURN = new URL('../machines/turn.machine.js', import.meta.url);
const TIMED_TURN = new URL('../machines/timed-turn.machine.js', import.meta.url);
const INC = { type: 'INC' } as const;

function runtimeWith(options: Partial<RuntimeOptions>): Promise<Runtime> {
  return benchRuntime({ machines: { counter: COUNTER, turn: TURN, 'timed-turn': TIMED_TURN }, ...options });
}

/** Events/s on the memory store: `kind` 'counter' (no tag) or 'turn' (a busy change per event). */
export async function busyFlagCost(kind: 'counter' | 'turn', sessions: number, events: number): Promise<number> {
  const runtime = await runtimeWith({ workers: 2 });
  try {
    return await incEventsPerSec(runtime, kind, sessions, events);
  } finally {
    await runtime.shutdown();
  }
}

/**
 * Eviction churn, uniform access over 10× the pool's capacity, with `kind` sessions: with
 * 'timed-turn', every access starts a 20 ms turn (busy: not evictable until it ends).
 */
export async function churnWithBusy(kind: 'counter' | 'timed-turn', capacity: number, accesses: number): Promise<{ evictionsPerSec: number; refused: number; overCapacityPeak: number }> {
  const keys = capacity * 10;
  const runtime = await runtimeWith({ workers: 2, pools: { churn: { capacity, recencyFloorMs: 0 } } });
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  let refused = 0;
  let overCapacityPeak = 0;
  try {
    const started = performance.now();
    for (let done = 0; done < accesses; done += 200) {
      const batch: Array<Promise<unknown>> = [];
      for (let i = 0; i < 200; i++) {
        const id = `k${Math.floor(random() * keys)}`;
        if (runtime.peek(id) === undefined) batch.push(runtime.spawn(kind, { id, pool: 'churn' }).catch(() => refused++));
        else batch.push(runtime.send(id, INC).catch((error: unknown) => (error instanceof PoolFullError ? refused++ : Promise.reject(error))));
      }
      await Promise.all(batch);
      overCapacityPeak = Math.max(overCapacityPeak, runtime.stats().pools.churn!.sessions - capacity);
    }
    const seconds = (performance.now() - started) / 1000;
    return { evictionsPerSec: runtime.stats().evictions / seconds, refused, overCapacityPeak };
  } finally {
    await runtime.shutdown();
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A host with `sessions` subprocess-owning sessions is SIGKILLed: ms until its last subprocess is gone. */
export async function orphanTime(sessions: number): Promise<{ sessions: number; processes: number; ms: number }> {
  const store = mkdtempSync(join(tmpdir(), 'actorhost-bench-orphans-'));
  const host = spawn(process.execPath, [new URL('../orphan-host.js', import.meta.url).pathname, store, String(sessions)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let output = '';
    host.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes('\n'), 60_000);
    const { pids } = JSON.parse(output.split('\n')[0]!) as { pids: number[] };
    const killedAt = performance.now();
    host.kill('SIGKILL');
    await until(() => !pids.some(alive), 30_000);
    return { sessions, processes: pids.length, ms: performance.now() - killedAt };
  } finally {
    host.kill('SIGKILL');
    rmSync(store, { recursive: true, force: true });
  }
}

/**
 * The metrics' cost: events/s on the core counter with no MeterProvider, and with one whose reader
 * collects every 100 ms (far more often than a Prometheus scrape).
 */
export async function metricsCost(withProvider: boolean, sessions: number, events: number): Promise<number> {
  const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
  class Reader extends MetricReader {
    protected override onShutdown(): Promise<void> {
      return Promise.resolve();
    }
    protected override onForceFlush(): Promise<void> {
      return Promise.resolve();
    }
  }
  const reader = new Reader();
  const provider = withProvider ? new MeterProvider({ readers: [reader] }) : undefined;
  const runtime = await runtimeWith({ workers: 2, ...(provider ? { meterProvider: provider } : {}) });
  const collecting = provider ? setInterval(() => void reader.collect(), 100) : undefined;
  try {
    return await incEventsPerSec(runtime, 'counter', sessions, events);
  } finally {
    clearInterval(collecting);
    await runtime.shutdown();
    await provider?.shutdown();
  }
}
