// Metrics through OpenTelemetry (a real MeterProvider and reader from @opentelemetry/sdk-metrics),
// and diagnostics_channel hooks.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, createRuntime, eventually, fixture, silentLogger } from './helpers.js';

class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Every data point of the metric `name` in one collection. */
async function points(reader: TestReader, name: string): Promise<Array<DataPoint<number | Histogram>>> {
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) if (metric.descriptor.name === name) return metric.dataPoints as Array<DataPoint<number | Histogram>>;
  return [];
}

describe('metrics', () => {
  it('reports sessions, events, passivations, turns and heaps to the MeterProvider it is given', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const rt = await createRuntime({
      machines: { turn: fixture('turn') },
      workers: 1,
      store: 'memory',
      logger: silentLogger,
      pools: { p: { capacity: 2, recencyFloorMs: 0 } },
      watchdog: { heartbeatMs: 100, hangTimeoutMs: 5_000 },
      meterProvider,
    });
    try {
      for (const id of ['a', 'b']) await rt.spawn('turn', { id, pool: 'p' });
      for (let i = 0; i < 5; i++) await rt.send('a', { type: 'PING' });
      await rt.send('b', { type: 'START', ms: 50 });
      await rt.waitFor('b', (s) => s.context.turns === 1);
      await rt.spawn('turn', { id: 'c', pool: 'p' });
      await eventually(() => rt.stats().evictions === 1);
      await eventually(() => rt.stats().shards[0]!.heapUsed > 0);

      const accepted = await points(reader, 'actorhost.events.accepted');
      expect(accepted[0]!.value).toBe(6);
      const processed = await points(reader, 'actorhost.events.processed');
      expect(processed[0]!.value).toBe(6);
      const sessions = await points(reader, 'actorhost.sessions');
      const byStatus = Object.fromEntries(sessions.map((p) => [`${p.attributes.pool}/${p.attributes.status}`, p.value]));
      expect(byStatus).toMatchObject({ 'p/active': 2 });
      const passivations = await points(reader, 'actorhost.passivations');
      expect(passivations.find((p) => p.attributes.reason === 'capacity')!.value).toBe(1);
      const turns = await points(reader, 'actorhost.turn.duration');
      expect((turns[0]!.value as Histogram).count).toBe(1);
      // A 50 ms turn, timed on the host from the notes of its start and end (each arrives with a
      // batch, so a late start note shortens it: 38 ms once on a loaded machine), in ms.
      expect((turns[0]!.value as Histogram).sum).toBeGreaterThanOrEqual(20);
      expect((turns[0]!.value as Histogram).sum).toBeLessThan(5_000);
      const heaps = await points(reader, 'actorhost.worker.heap');
      expect(heaps[0]!.value).toBeGreaterThan(1_000_000);
    } finally {
      await rt.shutdown();
      await meterProvider.shutdown();
    }
  });

  it('a meterProvider option that is not one is refused', async () => {
    const error = await createRuntime({ machines: { turn: fixture('turn') }, store: 'memory', logger: silentLogger, meterProvider: {} as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/options.meterProvider must be an OpenTelemetry MeterProvider/);
  });
});

describe('diagnostics_channel', () => {
  it('publishes sends, turns, evictions and restores while someone subscribes', async () => {
    const seen: Array<[string, unknown]> = [];
    const listeners = Object.fromEntries(
      ['actorhost:send', 'actorhost:turn', 'actorhost:evict', 'actorhost:restore'].map((name) => [name, (message: unknown) => seen.push([name, message])]),
    );
    for (const [name, listener] of Object.entries(listeners)) subscribe(name, listener);
    const rt = await createRuntime({ machines: { turn: fixture('turn') }, workers: 1, store: 'memory', logger: silentLogger, pools: { p: { capacity: 1, recencyFloorMs: 0 } } });
    try {
      await rt.spawn('turn', { id: 'a', pool: 'p' });
      await rt.send('a', { type: 'START', ms: 20 });
      await rt.waitFor('a', (s) => s.context.turns === 1);
      await rt.spawn('turn', { id: 'b', pool: 'p' });
      await eventually(() => rt.peek('a')?.status === 'evicted');
      await rt.send('a', { type: 'PING' });
      await eventually(() => seen.some(([name]) => name === 'actorhost:restore'));
    } finally {
      await rt.shutdown();
      for (const [name, listener] of Object.entries(listeners)) unsubscribe(name, listener);
    }
    expect(seen).toContainEqual(['actorhost:send', { id: 'a', type: 'START' }]);
    expect(seen).toContainEqual(['actorhost:turn', { id: 'a', busy: true }]);
    expect(seen).toContainEqual(['actorhost:turn', expect.objectContaining({ id: 'a', busy: false })]);
    expect(seen).toContainEqual(['actorhost:evict', { id: 'a', reason: 'capacity' }]);
    expect(seen).toContainEqual(['actorhost:restore', { id: 'a', cause: 'reactivation' }]);
  });
});
