// Measuring helpers shared by the scenarios: percentiles, event-loop delay, the driving loop.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { pino } from 'pino';
import { createRuntime, type Runtime, type RuntimeOptions } from '../src/index.js';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return sorted[index]!;
}

/** Records the main thread's event-loop delay while `body` runs; returns p99 in ms. */
export async function withLoopDelay<T>(body: () => Promise<T>): Promise<{ result: T; loopDelayP99Ms: number }> {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  try {
    const result = await body();
    return { result, loopDelayP99Ms: histogram.percentile(99) / 1e6 };
  } finally {
    histogram.disable();
  }
}

/**
 * Calls `sendOne(i)` for i in [0, total), `chunk` calls per turn of the event loop, as a host
 * serving many clients would: the loop gets a turn between chunks.
 */
export async function drive(total: number, chunk: number, sendOne: (index: number) => void): Promise<void> {
  for (let start = 0; start < total; start += chunk) {
    const end = Math.min(total, start + chunk);
    for (let index = start; index < end; index++) sendOne(index);
    await yieldToLoop();
  }
}

/** Sends at a steady `ratePerSec` for `durationMs`, in 1 ms ticks. */
export async function driveAtRate(ratePerSec: number, durationMs: number, sendOne: (index: number) => void): Promise<void> {
  const started = performance.now();
  let sent = 0;
  let index = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * ratePerSec);
    while (sent < due) {
      sendOne(index++);
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Waits for `condition`, checking every millisecond. A timer, not `setImmediate`: spinning the
 * main thread would take a core from the workers being measured (on 2 cores, half the machine).
 */
export async function until(condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`benchmark condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A runtime as the scenarios measure it: silent, the memory store, no durability, unless told otherwise. */
export function benchRuntime(options: Partial<RuntimeOptions> & Pick<RuntimeOptions, 'machines'>): Promise<Runtime> {
  return createRuntime({ logger: pino({ level: 'silent' }), store: 'memory', durability: 'none', ...options });
}

/**
 * Throughput of `runtime` on trivial events: spawns `sessions` sessions of `kind`, sends `events`
 * `{ type: 'INC' }` round robin (2,000 per turn of the event loop) and waits until all are processed.
 */
export async function incEventsPerSec(runtime: Runtime, kind: string, sessions: number, events: number): Promise<number> {
  const ids = Array.from({ length: sessions }, (_, i) => `s${i}`);
  await Promise.all(ids.map((id) => runtime.spawn(kind, { id })));
  const started = performance.now();
  await drive(events, 2_000, (i) => void runtime.send(ids[i % sessions]!, { type: 'INC' }));
  await until(() => runtime.stats().mailboxed === 0);
  return events / ((performance.now() - started) / 1000);
}
