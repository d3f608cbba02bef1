// Supervision scenarios: crash recovery time, eviction churn, LRU bookkeeping cost, journal cost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolFullError, type Durability, type Runtime, type RuntimeOptions } from '../../src/index.js';
import { Pool, type PoolMember } from '../../src/internal.js';
import { benchRuntime, drive, incEventsPerSec, until } from '../measure.js';

const COUNTER = new URL('../machines/counter.machine.js', import.meta.url);
const KILLER = new URL('../machines/killer.machine.js', import.meta.url);
const TIMER = new URL('../machines/timer.machine.js', import.meta.url);
const INC = { type: 'INC' } as const;

function runtimeWith(options: Partial<RuntimeOptions>): Promise<Runtime> {
  return benchRuntime({ machines: { counter: COUNTER, killer: KILLER, timer: TIMER }, ...options });
}

/**
 * Recovery: a shard of `sessions` sessions (each with state: some events, a snapshot, a journal
 * tail) loses its worker; measured from the worker's death to every session accepting events
 * again (restored and active). Measured in the steady state of a running host: after the standby
 * worker is up (it boots a second after start); a crash before that boots a worker on demand.
 */
export async function recoveryTime(sessions: number): Promise<{ sessions: number; ms: number; msPer1000: number }> {
  const runtime = await runtimeWith({ workers: 1, snapshotEvery: 5 });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('counter', { id })));
    await drive(sessions * 7, 2_000, (i) => void runtime.send(ids[i % sessions]!, INC));
    await until(() => runtime.stats().mailboxed === 0);
    await runtime.spawn('killer', { id: 'killer' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    let diedAt = 0;
    runtime.on('workerExit', () => (diedAt = performance.now()));
    void runtime.send('killer', { type: 'EXIT' });
    await until(() => diedAt > 0);
    await until(() => runtime.list({ status: 'restarting' }).length === 0, 120_000);
    const ms = performance.now() - diedAt;
    return { sessions, ms, msPer1000: ms / (sessions / 1_000) };
  } finally {
    await runtime.shutdown();
  }
}

/** Zipf(s) over `keys` keys: a sampler returning a key index, hot keys first. */
function zipf(keys: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(keys);
  let sum = 0;
  for (let k = 0; k < keys; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s);
  for (let k = 0; k < keys; k++) cdf[k]! /= sum;
  return () => {
    const u = random();
    let low = 0;
    let high = keys - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cdf[mid]! < u) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

/**
 * Eviction churn: zipfian access (s = 1) over 10× the pool's capacity. An access is a `send`; a
 * first access spawns; an access to an evicted session reactivates it (a miss).
 */
export async function evictionChurn(capacity: number, accesses: number): Promise<{
  capacity: number;
  keys: number;
  accesses: number;
  hitRatio: number;
  evictionsPerSec: number;
  refused: number;
}> {
  const keys = capacity * 10;
  const runtime = await runtimeWith({ workers: 2, pools: { churn: { capacity, recencyFloorMs: 0 } } });
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const sample = zipf(keys, 1, random);
  let hits = 0;
  let refused = 0;
  try {
    const started = performance.now();
    for (let done = 0; done < accesses; done += 200) {
      const batch: Array<Promise<unknown>> = [];
      for (let i = 0; i < 200; i++) {
        const id = `k${sample()}`;
        const state = runtime.peek(id)?.status;
        if (state === undefined) {
          batch.push(runtime.spawn('counter', { id, pool: 'churn' }).catch(() => refused++));
          continue;
        }
        if (state === 'active') hits++;
        batch.push(runtime.send(id, INC).catch((error: unknown) => {
          if (error instanceof PoolFullError) refused++;
          else throw error;
        }));
      }
      await Promise.all(batch);
    }
    const seconds = (performance.now() - started) / 1000;
    return { capacity, keys, accesses, hitRatio: hits / accesses, evictionsPerSec: runtime.stats().evictions / seconds, refused };
  } finally {
    await runtime.shutdown();
  }
}

type Node = PoolMember;

/**
 * LRU bookkeeping per event at `members` sessions: actorhost's intrusive list (`Pool.touch`)
 * beside the usual JavaScript LRU, a Map re-inserted on every touch (delete + set).
 */
export function lruTouchCost(members: number, touches: number): { listNs: number; mapNs: number } {
  const nodes: Node[] = Array.from({ length: members }, () => ({
    lruPrev: undefined,
    lruNext: undefined,
    lastActiveAt: 0,
    pins: 0,
    inFlight: 0,
    busy: false,
    status: 'active',
  }));
  const order = Array.from({ length: touches }, (_, i) => (i * 2_654_435_761) % members);
  const pool = new Pool<Node>('bench', Infinity, 0);
  for (const node of nodes) pool.add(node, 0);
  const map = new Map<number, Node>(nodes.map((node, i) => [i, node]));
  const time = (fn: () => void) => {
    fn(); // warm
    const started = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - started) / touches;
  };
  const listNs = time(() => {
    for (let i = 0; i < touches; i++) pool.touch(nodes[order[i]!]!, i);
  });
  const mapNs = time(() => {
    for (let i = 0; i < touches; i++) {
      const key = order[i]!;
      const node = map.get(key)!;
      map.delete(key);
      map.set(key, node);
    }
  });
  return { listNs, mapNs };
}

/** Events/s on the LMDB store with `durability` (every `send` awaited as a group, as acceptance). */
export async function journalCost(durability: Durability, sessions: number, events: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'actorhost-bench-'));
  const runtime = await runtimeWith({ workers: 2, store: { path: dir }, durability });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('counter', { id })));
    const started = performance.now();
    const accepted: Array<Promise<void>> = [];
    await drive(events, 2_000, (i) => accepted.push(runtime.send(ids[i % sessions]!, INC)));
    await Promise.all(accepted);
    await until(() => runtime.stats().mailboxed === 0);
    return events / ((performance.now() - started) / 1000);
  } finally {
    await runtime.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The cost of "no rollback": events/s on the memory store with `noRollback` on and off, for the
 * core counter (no timer: nothing to persist beyond `snapshotEvery`) and for a machine whose every
 * event arms a timer (a snapshot after every event when on).
 */
export async function noRollbackCost(kind: 'counter' | 'timer', noRollback: boolean, sessions: number, events: number): Promise<number> {
  const runtime = await runtimeWith({ workers: 2, noRollback });
  try {
    return await incEventsPerSec(runtime, kind, sessions, events);
  } finally {
    await runtime.shutdown();
  }
}
