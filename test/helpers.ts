// Shared test helpers. Tests drive the built package (dist/), exactly what a user imports,
// because workers can only load compiled JavaScript on Node 20.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach } from 'vitest';
import { createRuntime, type Runtime, type RuntimeOptions } from '../dist/src/index.js';
import type { PoolMember } from '../dist/src/internal.js';

export * from '../dist/src/index.js';

/** URL of a compiled fixture machine module: `fixture('counter')` → dist/test/fixtures/counter.machine.js. */
export function fixture(name: string): URL {
  return new URL(`../dist/test/fixtures/${name}.machine.js`, import.meta.url);
}

export interface CapturedLog {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose records are kept in memory, so tests can read what was logged. */
export function captureLogger(level = 'info'): { logger: Logger; records: CapturedLog[] } {
  const records: CapturedLog[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) records.push(JSON.parse(line) as CapturedLog);
      callback();
    },
  });
  return { logger: pino({ level }, stream), records };
}

/** Silent unless ACTORHOST_TEST_LOG names a level (e.g. `ACTORHOST_TEST_LOG=debug npx vitest run`). */
export const silentLogger: Logger = pino({ level: process.env.ACTORHOST_TEST_LOG ?? 'silent' }, pino.destination(2));

/** A pool member the test sets up by hand, for the pure pool functions. */
export type TestMember = { -readonly [K in keyof PoolMember]: PoolMember[K] } & { name: string };

export function poolMember(name: string, fields: Partial<TestMember> = {}): TestMember {
  return { name, lruPrev: undefined, lruNext: undefined, lastActiveAt: 0, pins: 0, inFlight: 0, busy: false, status: 'active', ...fields };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A clock the test moves by hand: recency floors and restart windows without sleeping. */
export function manualClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

/** Whether a process with this pid exists (a zombie counts: it has not been reaped). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `condition` holds, or fails the test after `timeoutMs`. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * A runtime per test, shut down after it: `const start = useRuntime({ machines })` in a describe
 * (or file), then `const rt = await start({ ...overrides })` in a test. Defaults: 1 worker, the
 * memory store, the test logger.
 */
export function useRuntime(defaults: Partial<RuntimeOptions> & Pick<RuntimeOptions, 'machines'>): (options?: Partial<RuntimeOptions>) => Promise<Runtime> {
  let current: Runtime | undefined;
  afterEach(async () => {
    await current?.shutdown();
    current = undefined;
  });
  return async (options = {}) => {
    current = await createRuntime({ workers: 1, logger: silentLogger, store: 'memory', ...defaults, ...options });
    return current;
  };
}
