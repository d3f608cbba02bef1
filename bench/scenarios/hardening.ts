// Hardening costs and bounds: the host's heap after a long spawn/stop churn, and the send path's
// walker (check, copy, size) beside the one it replaced, on the same events in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlainCopier } from '../../src/internal.js';
import { benchRuntime, collectGarbage } from '../measure.js';
import { LegacyCopier } from './legacy-copier.js';

const counter = new URL('../machines/counter.machine.js', import.meta.url);

function hostBytes(): number {
  collectGarbage();
  collectGarbage();
  // Buffers live outside the JS heap: both count.
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** Spawns and stops `sessions` sessions in rounds of 500; the host's heap before and after. */
export async function churnHeap(sessions: number): Promise<{ sessions: number; beforeBytes: number; afterBytes: number; perSec: number }> {
  const runtime = await benchRuntime({ machines: { counter }, workers: 1, standbyWorker: false });
  const round = async (name: string) => {
    const ids = Array.from({ length: 500 }, (_, i) => `${name}-${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('counter', { id })));
    await Promise.all(ids.map((id) => runtime.stop(id)));
  };
  try {
    for (let r = 0; r < 4; r++) await round(`warm-${r}`);
    const beforeBytes = hostBytes();
    const started = performance.now();
    for (let r = 0; r < Math.ceil(sessions / 500); r++) await round(`churn-${r}`);
    const perSec = (sessions / (performance.now() - started)) * 1000;
    return { sessions, beforeBytes, afterBytes: hostBytes(), perSec };
  } finally {
    await runtime.shutdown();
  }
}

/** Nanoseconds per event for the current walker and the legacy one, on a typical agent event. */
export function walkerCost(events: number): { currentNs: number; legacyNs: number } {
  const event = { type: 'USER_MESSAGE', text: 'Summarise the last three messages, please.', turn: 12, meta: { source: 'web', tags: ['a', 'b'] } };
  const current = new PlainCopier();
  const legacy = new LegacyCopier();
  const time = (copy: () => unknown) => {
    for (let i = 0; i < 100_000; i++) copy(); // warm-up
    const started = process.hrtime.bigint();
    for (let i = 0; i < events; i++) copy();
    return Number(process.hrtime.bigint() - started) / events;
  };
  // Alternated, twice each, so neither gets the JIT's or the GC's good moment alone.
  const legacyA = time(() => legacy.copy(event));
  const currentA = time(() => current.copy(event, 'event', 1024 * 1024));
  const legacyB = time(() => legacy.copy(event));
  const currentB = time(() => current.copy(event, 'event', 1024 * 1024));
  return { currentNs: Math.min(currentA, currentB), legacyNs: Math.min(legacyA, legacyB) };
}

/**
 * Host-side nanoseconds per `runtime.send` (validate, copy, journal, enqueue), 1,000 sessions:
 * the synchronous part of each call, on the memory store or on LMDB with `durability: 'journal'`.
 */
export async function sendCost(events: number, journal = false): Promise<number> {
  const dir = journal ? mkdtempSync(join(tmpdir(), 'actorhost-bench-send-')) : undefined;
  const runtime = await benchRuntime({
    machines: { counter },
    workers: 1,
    standbyWorker: false,
    mailbox: { capacity: 1_000_000 },
    ...(dir ? { store: { path: dir }, durability: 'journal' as const } : {}),
  });
  try {
    const ids = Array.from({ length: 1_000 }, (_, i) => `s-${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('counter', { id })));
    const event = { type: 'INC' };
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const started = process.hrtime.bigint();
      const sent: Array<Promise<void>> = [];
      for (let i = 0; i < events; i++) sent.push(runtime.send(ids[i % ids.length]!, event));
      best = Math.min(best, Number(process.hrtime.bigint() - started) / events);
      await Promise.all(sent);
      await Promise.all(ids.map((id) => runtime.getSnapshot(id)));
    }
    return best;
  } finally {
    await runtime.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
