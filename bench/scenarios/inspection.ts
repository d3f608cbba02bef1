// Inspection scenario: event throughput with inspection off and on, and the inspector's page
// request at a large session count.
import type { InspectOption } from '../../src/index.js';
import { INSPECTOR_API } from '../../src/internal.js';
import { benchRuntime, drive, until } from '../measure.js';

const COUNTER = new URL('../machines/counter.machine.js', import.meta.url);
const INC = { type: 'INC' } as const;

async function eventsPerSec(inspect: InspectOption | undefined, sessions: number, events: number): Promise<number> {
  const runtime = await benchRuntime({ machines: { counter: COUNTER }, workers: 2, ...(inspect ? { inspect } : {}) });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('counter', { id })));
    await drive(events / 4, 2_000, (i) => void runtime.send(ids[i % sessions]!, INC)); // warm-up
    await until(() => runtime.stats().mailboxed === 0);
    const started = performance.now();
    await drive(events, 2_000, (i) => void runtime.send(ids[i % sessions]!, INC));
    await until(() => runtime.stats().mailboxed === 0);
    return events / ((performance.now() - started) / 1000);
  } finally {
    await runtime.shutdown();
  }
}

export async function inspectionCost(sessions: number, events: number): Promise<{ offA: number; offB: number; on: number; observed: number }> {
  // Off twice, so the run's own noise is visible beside the off-vs-on difference.
  const offA = await eventsPerSec(undefined, sessions, events);
  let observed = 0;
  const on = await eventsPerSec({ observer: () => observed++, maxEventsPerSecond: 1_000_000 }, sessions, events);
  const offB = await eventsPerSec(undefined, sessions, events);
  return { offA, offB, on, observed };
}

/** One inspector page request (50 rows, deep in the table) with `sessions` sessions. */
export async function inspectorPageCost(sessions: number): Promise<{ sessions: number; pageMs: number }> {
  const runtime = await benchRuntime({ machines: { counter: COUNTER }, workers: 2 });
  try {
    for (let done = 0; done < sessions; done += 5_000) {
      await Promise.all(Array.from({ length: Math.min(5_000, sessions - done) }, (_, i) => runtime.spawn('counter', { id: `s${done + i}` })));
    }
    const api = runtime[INSPECTOR_API]();
    const offset = Math.floor(sessions / 2);
    api.page({ offset, limit: 50 }); // warm
    const rounds = 20;
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      const { rows } = api.page({ offset, limit: 50 });
      await Promise.all(rows.map((row) => api.peekSnapshot(row.id)));
    }
    return { sessions, pageMs: (performance.now() - started) / rounds };
  } finally {
    await runtime.shutdown();
  }
}
