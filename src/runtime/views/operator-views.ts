/**
 * Operators' views: `stats()`, `measureMemory()` and the inspector's read-only access. Nothing
 * here counts as activity (no LRU touch), and nothing is computed per event.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { WATCH_EVENTS_OFF, WATCH_EVENTS_ON, createPackr, type WireSnapshot } from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import type { InspectorApi } from '../inspector/inspector-api.js';
import type { SessionStatus } from '../sessions/session-record.js';
import type { ChartNode, MemoryReport, RuntimeStats, SessionInfo } from '../types.js';

interface StateNodeLike {
  key: string;
  type: string;
  states: Record<string, StateNodeLike>;
  transitions?: Map<string, Array<{ target?: Array<{ path: string[] }> }>>;
}

export function stats(core: RuntimeCore): RuntimeStats {
  const { directory, pools, fleet, counters, events, totals } = core;
  const evictedByPool = new Map<string, number>();
  for (const { pool } of directory.passive.values()) evictedByPool.set(pool, (evictedByPool.get(pool) ?? 0) + 1);
  const byPool: RuntimeStats['pools'] = {};
  for (const [name, pool] of pools) {
    byPool[name] = { sessions: pool.size, capacity: pool.capacity, evicted: evictedByPool.get(name) ?? 0 };
  }
  return {
    sessions: directory.byId.size,
    evicted: directory.passive.size,
    quarantined: directory.quarantined.size,
    eventsAccepted: counters.eventsAccepted,
    mailboxed: totals.mailboxed,
    deadLetters: events.deadLetters,
    crashed: counters.crashed,
    restarts: counters.restarts,
    evictions: counters.evictions,
    pools: byPool,
    shards: fleet.shards.map((shard) => ({
      shard: shard.index,
      alive: shard.alive,
      sessions: shard.sessions,
      eventsAccepted: shard.eventsAccepted,
      actors: shard.lastStats.sessions,
      eventsProcessed: shard.lastStats.eventsProcessed,
      heapUsed: shard.lastStats.heapUsed,
    })),
    ...(core.route ? { fleet: core.route.stats() } : {}),
  };
}

/** Heap in use on the host and in each worker, in bytes (after a collection, when asked and possible). */
export async function measureMemory(core: RuntimeCore, collectGarbage: boolean): Promise<MemoryReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collectGarbage && gc) gc();
  const host = process.memoryUsage().heapUsed;
  const shards = await Promise.all(
    core.fleet.shards.map((shard) => (shard.alive ? shard.call((api) => api.stats(collectGarbage)).then((figures) => figures.heapUsed) : 0)),
  );
  return { host, shards, total: shards.reduce((sum, heap) => sum + heap, host) };
}

/** The inspector server's view; `subscribe` is the runtime's own (a watch is a subscription). */
export function inspectorApi(
  core: RuntimeCore,
  subscribe: (id: string, listener: (snapshot: AnyMachineSnapshot) => void) => () => void,
  calls: { stop(id: string): Promise<void>; send(id: string, event: never): Promise<void>; pin(id: string): () => void },
): InspectorApi {
  const packr = createPackr();
  const { directory } = core;
  return {
    stats: () => stats(core),
    page: ({ offset, limit, pool, status, search }) => {
      // One pass, no allocation for rows off the page: the inspector asks twice a second,
      // and at 100,000 sessions building every row would stall the host.
      const rows: SessionInfo[] = [];
      let total = 0;
      const wanted = (id: string, rowPool: string, rowStatus: SessionStatus) =>
        (!pool || rowPool === pool) && (!status || rowStatus === status) && (!search || id.includes(search) || (core.labels.of(id)?.label.includes(search) ?? false));
      for (const row of directory.select(wanted)) if (total++ >= offset && rows.length < limit) rows.push(row());
      return { rows, total };
    },
    peekSnapshot: async (id) => {
      const record = directory.byId.get(id);
      if (!record || record.status !== 'active') return undefined;
      const answer = await record.shard.call<Uint8Array | 'failed' | undefined>((api) => api.snapshot(record.key)).catch(() => undefined);
      if (!(answer instanceof Uint8Array)) return undefined;
      const wire = packr.unpack(answer) as WireSnapshot;
      return { value: wire.value, context: wire.context, status: wire.status };
    },
    chart: (kind) => {
      const machine = core.machines.get(kind);
      return machine && chartOf(machine.root as unknown as StateNodeLike, machine.root.key);
    },
    watch: (id, listener) => (directory.byId.has(id) ? subscribe(id, listener) : undefined),
    tapEvents: (id, listener) => {
      const taps = (core.eventTaps ??= new Map());
      let forId = taps.get(id);
      if (!forId) taps.set(id, (forId = new Set()));
      forId.add(listener);
      // The first tap asks the session's worker for its internal events too; the last one stops it.
      const record = directory.byId.get(id);
      if (forId.size === 1 && record) core.lifecycle.enqueueMarker(record, WATCH_EVENTS_ON);
      return () => {
        forId.delete(listener);
        if (forId.size > 0) return;
        taps.delete(id);
        if (taps.size === 0) core.eventTaps = undefined;
        const live = directory.byId.get(id);
        if (live) core.lifecycle.enqueueMarker(live, WATCH_EVENTS_OFF);
      };
    },
    recentFailures: () => [...core.events.failures],
    act: async (action, id, event) => {
      if (action === 'stop') {
        await calls.stop(id);
        return `stopped ${id}`;
      }
      if (action === 'send') {
        await calls.send(id, event as never);
        return `sent ${(event as { type?: unknown } | undefined)?.type as string} to ${id}`;
      }
      const record = directory.byId.get(id);
      if (!record || record.status !== 'active') return `${id} is not active; nothing to evict`;
      if (record.pins > 0) return `${id} is pinned; unpin it first`;
      if (record.busy || record.inFlight > 0) return `${id} is mid-turn; it is not evicted`;
      await core.lifecycle.evict(record);
      return `evicted ${id}`;
    },
    pin: (id) => calls.pin(id),
  };
}

function chartOf(node: StateNodeLike, key: string): ChartNode {
  // Its transitions: the event (a delayed one as `after <delay>`) and the state paths it goes to.
  const transitions = [...(node.transitions ?? [])].map(([event, candidates]) => {
    const delay = /^xstate\.after\.([^.]+)\./.exec(event)?.[1];
    return { event: delay ? `after ${delay}` : event, targets: candidates.flatMap((candidate) => (candidate.target ?? []).map((target) => target.path.join('.'))) };
  });
  return { key, type: node.type, transitions, states: Object.entries(node.states ?? {}).map(([child, state]) => chartOf(state, child)) };
}
