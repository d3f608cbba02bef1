/**
 * Metrics and hooks for the host application's observability, at no cost when no one listens.
 *
 * - OpenTelemetry (`@opentelemetry/api`, an optional peer): with `options.meterProvider`, or the
 *   global one registered before `createRuntime`, the runtime reports through a meter named
 *   `actorhost`. Everything but turn latency is an observable instrument, read only when the
 *   application's reader collects: sessions per pool and status, mailbox depth, events accepted
 *   and processed, restarts, evictions and passivations (by reason), dead letters, crashes, each
 *   worker's heap, the host's event-loop delay p99. Turn latency (a state tagged busy, entered to
 *   left) is a histogram recorded once per turn. Without the package, or with no provider, nothing
 *   is registered and nothing runs.
 * - `diagnostics_channel`: `actorhost:send` ({ id, type }), `actorhost:turn` ({ id, busy,
 *   durationMs }), `actorhost:restore` ({ id, cause: restart, worker or reactivation }), `actorhost:evict` ({ id, reason }) — each
 *   published only while it has subscribers.
 */
import { channel } from 'node:diagnostics_channel';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { RuntimeCore } from './core.js';

/** The part of an OpenTelemetry MeterProvider the runtime uses. */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): MeterLike;
}

interface ObservableResult {
  observe(value: number, attributes?: Record<string, string | number>): void;
}
interface Observable {
  addCallback(callback: (result: ObservableResult) => void): void;
}
interface MeterLike {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): Observable;
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): Observable;
  createHistogram(name: string, options?: { description?: string; unit?: string }): { record(value: number, attributes?: Record<string, string>): void };
}

export const channels = {
  send: channel('actorhost:send'),
  turn: channel('actorhost:turn'),
  restore: channel('actorhost:restore'),
  evict: channel('actorhost:evict'),
};

export class RuntimeMetrics {
  #turn: { record(value: number, attributes?: Record<string, string>): void } | undefined;
  #loopDelay: IntervalHistogram | undefined;

  /** Registers the instruments on the provider (the given one, or the global one if the API is installed). */
  async start(core: RuntimeCore, given: MeterProviderLike | undefined): Promise<void> {
    const provider = given ?? (await globalProvider());
    if (!provider) return;
    const meter = provider.getMeter('actorhost');
    this.#turn = meter.createHistogram('actorhost.turn.duration', { description: 'A turn: a state tagged busy, from entered to left', unit: 'ms' });
    const gauge = (name: string, description: string, unit: string, read: (result: ObservableResult) => void) =>
      meter.createObservableGauge(name, { description, unit }).addCallback(read);
    const counter = (name: string, description: string, read: () => number) =>
      meter.createObservableCounter(name, { description }).addCallback((result) => result.observe(read()));
    gauge('actorhost.sessions', 'Sessions per pool and status', '{session}', (result) => {
      // Counted from the directory's own maps: no row objects (thousands of sessions per read).
      const counts = new Map<string, Map<string, number>>();
      const count = (pool: string, status: string) => {
        let byStatus = counts.get(pool);
        if (!byStatus) counts.set(pool, (byStatus = new Map()));
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      };
      const { directory } = core;
      for (const record of directory.byId.values()) count(record.pool, record.status);
      for (const { record } of directory.leaving.values()) count(record.pool, record.status);
      for (const { pool } of directory.passive.values()) count(pool, 'evicted');
      for (const { pool } of directory.quarantined.values()) count(pool, 'quarantined');
      for (const [pool, byStatus] of counts) for (const [status, n] of byStatus) result.observe(n, { pool, status });
    });
    gauge('actorhost.mailbox.depth', 'Events accepted and not yet processed', '{event}', (result) => result.observe(core.totals.mailboxed));
    gauge('actorhost.worker.heap', "Each worker's heap in use, at its latest heartbeat", 'By', (result) => {
      for (const shard of core.fleet.shards) if (shard) result.observe(shard.lastStats.heapUsed, { shard: shard.index });
    });
    gauge('actorhost.eventloop.delay.p99', "The host's event-loop delay, p99 since the last collection", 'ms', (result) => {
      // Started by the first collection: nothing runs for a provider no one reads.
      if (!this.#loopDelay) {
        this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
        this.#loopDelay.enable();
        return;
      }
      result.observe(this.#loopDelay.percentile(99) / 1e6);
      this.#loopDelay.reset();
    });
    counter('actorhost.events.accepted', 'Events accepted (send, ask, deliver)', () => core.counters.eventsAccepted);
    counter('actorhost.events.processed', 'Events processed by their sessions', () => core.totals.processed);
    counter('actorhost.restarts', 'Session restarts', () => core.counters.restarts);
    counter('actorhost.crashes', 'Sessions that failed for good', () => core.counters.crashed);
    counter('actorhost.dead_letters', 'Events no session processed', () => core.events.deadLetters);
    meter.createObservableCounter('actorhost.passivations', { description: 'Sessions passivated, by reason' }).addCallback((result) => {
      for (const [reason, count] of Object.entries(core.counters.passivations)) result.observe(count, { reason });
    });
  }

  /** A turn ended (the session left a state tagged busy). */
  turnEnded(id: string, pool: string, durationMs: number): void {
    this.#turn?.record(durationMs, { pool });
    if (channels.turn.hasSubscribers) channels.turn.publish({ id, busy: false, durationMs });
  }

  stop(): void {
    this.#loopDelay?.disable();
    this.#loopDelay = undefined;
  }
}

async function globalProvider(): Promise<MeterProviderLike | undefined> {
  try {
    const api = (await import('@opentelemetry/api')) as { metrics: { getMeterProvider(): MeterProviderLike } };
    return api.metrics.getMeterProvider();
  } catch {
    return undefined;
  }
}
