// A worker busy with a flood of events still answers its heartbeat: the watchdog never takes it
// for hung, and no accepted event is lost or dead-lettered.
import { describe, expect, it } from 'vitest';
import { fixture, useRuntime } from './helpers.js';

const start = useRuntime({ machines: { counter: fixture('counter') } });

describe('a worker busy with a flood', () => {
  it('200,000 events in one burst: all processed, no worker taken for hung, nothing dead-lettered', async () => {
    const rt = await start({ workers: 1, mailbox: { capacity: 10_000 }, watchdog: { heartbeatMs: 50, hangTimeoutMs: 700 } });
    const exits: unknown[] = [];
    rt.on('workerExit', (event) => exits.push(event));
    const ids = Array.from({ length: 100 }, (_, i) => `c${i}`);
    for (const id of ids) await rt.spawn('counter', { id });
    const accepted: Array<Promise<void>> = [];
    for (let i = 0; i < 200_000; i++) accepted.push(rt.send(ids[i % ids.length]!, { type: 'INC' }));
    await Promise.all(accepted);
    const counts = await Promise.all(ids.map(async (id) => ((await rt.getSnapshot(id)).context as { count: number }).count));
    expect(exits).toEqual([]);
    expect(counts.filter((count) => count !== 2_000)).toEqual([]);
    expect(rt.stats().deadLetters).toBe(0);
  }, 60_000);
});
