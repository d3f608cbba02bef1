// A session that fails the same way again is logged once with its stack, then briefly.
import { describe, expect, it } from 'vitest';
import { captureLogger, createRuntime, eventually, fixture } from './helpers.js';

describe('restart logging', () => {
  it('the same failure again: its stack once, then one short line each', async () => {
    const { logger, records } = captureLogger('warn');
    const rt = await createRuntime({ machines: { killer: fixture('killer') }, workers: 1, store: 'memory', logger, restart: { intensity: 5, periodMs: 60_000 } });
    try {
      await rt.spawn('killer', { id: 'k' });
      let restarts = 0;
      rt.on('restarted', () => restarts++);
      for (let i = 1; i <= 3; i++) {
        await rt.send('k', { type: 'BOOM' });
        await eventually(() => restarts === i);
      }
      const full = records.filter((r) => r.msg === 'session failed; restarting it from its snapshot and journal');
      const short = records.filter((r) => r.msg === 'session failed the same way again; restarting it');
      expect(full).toHaveLength(1);
      expect((full[0]!.err as { stack?: string }).stack).toContain('boom from an action');
      expect(short).toHaveLength(2);
      expect(short[0]).toMatchObject({ reason: 'boom from an action', sessionId: 'k' });
      expect(short[0]!.err).toBeUndefined();
    } finally {
      await rt.shutdown();
    }
  });
});
