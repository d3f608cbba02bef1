// With the journal on (LMDB, 'journal'), events are encoded once into the batch buffer; a batch
// that outgrows its first buffer (64 KiB) must keep every event it already held.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, fixture, silentLogger } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'actorhost-journal-batches-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('journaled batches', () => {
  it('a batch of 3,000 events of 100 bytes (~330 KiB, one tick) reaches its session whole', async () => {
    const rt = await createRuntime({ machines: { counter: fixture('counter') }, workers: 1, logger: silentLogger, store: { path: join(root, 'big') }, mailbox: { capacity: 10_000 } });
    try {
      const exits: unknown[] = [];
      rt.on('workerExit', (event) => exits.push(event));
      await rt.spawn('counter', { id: 'c' });
      const padding = 'x'.repeat(100);
      // Sent in one synchronous burst: one batch, grown several times.
      const accepted = Array.from({ length: 3_000 }, () => rt.send('c', { type: 'INC', padding }));
      await Promise.all(accepted);
      expect((await rt.getSnapshot('c')).context).toMatchObject({ count: 3_000 });
      expect(exits).toEqual([]);
      expect(rt.stats().restarts).toBe(0);
    } finally {
      await rt.shutdown();
    }
  });
});
