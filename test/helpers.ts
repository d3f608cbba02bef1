// Shared test helpers. Tests drive the built package (dist/), exactly what a user imports,
// because workers can only load compiled JavaScript on Node 20.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

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

export const silentLogger: Logger = pino({ level: 'silent' });

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
