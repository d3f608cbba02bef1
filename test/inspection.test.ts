import { createWebSocketInspector } from '@statelyai/inspect';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, eventually, fixture, silentLogger, type Runtime } from './helpers.js';

let runtime: Runtime | undefined;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  await runtime?.shutdown();
  runtime = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface StatelyMessage {
  type: string;
  sessionId: string;
  rootId?: string;
  parentId?: string;
  name?: string;
  event?: { type: string };
  snapshot?: { value?: unknown; context?: Record<string, unknown> };
}

/** A real WebSocket receiver, as the Stately inspector would be: collects what it is sent. */
async function receiver(): Promise<{ url: string; messages: StatelyMessage[] }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const messages: StatelyMessage[] = [];
  server.on('connection', (socket) => socket.on('message', (data) => messages.push(JSON.parse(String(data)) as StatelyMessage)));
  cleanups.push(() => {
    for (const client of server.clients) client.terminate();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, messages };
}

describe('inspection (Stately protocol)', () => {
  it('reports every session actor of every worker to @statelyai/inspect, with unique session ids', async () => {
    const { url, messages } = await receiver();
    const inspector = createWebSocketInspector({ url });
    cleanups.push(() => inspector.stop());
    runtime = await createRuntime({
      machines: { counter: fixture('counter'), cleanup: fixture('cleanup') },
      workers: 2,
      logger: silentLogger,
      store: 'memory',
      inspect: inspector.inspect,
    });
    await runtime.spawn('counter', { id: 'a' });
    await runtime.spawn('counter', { id: 'b' });
    expect(new Set([runtime.peek('a')!.shard, runtime.peek('b')!.shard])).toEqual(new Set([0, 1]));
    await runtime.send('a', { type: 'INC' });
    await runtime.send('b', { type: 'INC' });
    // A session with a child actor (an invoked promise) during its shutdown.
    await runtime.spawn('cleanup', { id: 'c', input: { cleanupMs: 20 } });
    await runtime.stop('c');

    await eventually(() => messages.filter((m) => m.type === '@xstate.snapshot' && m.event?.type === 'INC').length === 2);
    const actors = messages.filter((m) => m.type === '@xstate.actor');
    // The Stately inspector names a root actor by its id: the session's id.
    const roots = actors.filter((m) => m.name === 'a' || m.name === 'b');
    expect(roots).toHaveLength(2);
    // Each worker's XState numbers its actors from scratch: actorhost keeps them apart.
    expect(new Set(roots.map((m) => m.sessionId)).size).toBe(2);
    for (const root of roots) expect(root.rootId).toBe(root.sessionId);
    const incs = messages.filter((m) => m.type === '@xstate.event' && m.event?.type === 'INC');
    expect(new Set(incs.map((m) => m.sessionId))).toEqual(new Set(roots.map((m) => m.sessionId)));
    const snapshots = messages.filter((m) => m.type === '@xstate.snapshot' && m.event?.type === 'INC');
    expect(snapshots.map((m) => m.snapshot?.context?.count)).toEqual([1, 1]);
    // The child the cleanup session invoked is its own actor, parented and rooted in the session.
    // (Inspection events travel on their own, after the snapshots waited for above.)
    const childOf = (root: string) => messages.find((m) => m.type === '@xstate.actor' && m.parentId === root);
    await eventually(() => messages.some((m) => m.type === '@xstate.actor' && m.name === 'c'));
    const cleanupRoot = messages.find((m) => m.type === '@xstate.actor' && m.name === 'c')!;
    await eventually(() => childOf(cleanupRoot.sessionId!) !== undefined);
    const child = childOf(cleanupRoot.sessionId!);
    expect(child?.rootId).toBe(cleanupRoot.sessionId);
    expect(messages.some((m) => m.type === '@xstate.event' && m.event?.type === 'actorhost.shutdown')).toBe(true);
  });

  it('caps a chatty session and filters by type; off by default', async () => {
    const seen: string[] = [];
    runtime = await createRuntime({
      machines: { counter: fixture('counter') },
      workers: 1,
      logger: silentLogger,
      store: 'memory',
      inspect: { observer: (event) => seen.push(event.type), types: ['@xstate.actor', '@xstate.event'], maxEventsPerSecond: 10 },
    });
    await runtime.spawn('counter', { id: 'chatty' });
    const started = performance.now();
    for (let i = 0; i < 200; i++) void runtime.send('chatty', { type: 'INC' });
    await runtime.getSnapshot('chatty');
    await eventually(() => seen.filter((type) => type === '@xstate.event').length >= 10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).not.toContain('@xstate.snapshot');
    // At most 10 a second for the seconds it took (a loaded machine may take more than one):
    // without the cap, all 200 would get through.
    const windows = Math.ceil((performance.now() - started) / 1_000) + 1;
    expect(seen.filter((type) => type === '@xstate.event').length).toBeLessThanOrEqual(Math.min(10 * windows, 100));
  });

  it('rejects an inspect option that is not an observer', async () => {
    await expect(
      createRuntime({ machines: { counter: fixture('counter') }, logger: silentLogger, store: 'memory', inspect: 42 as never }),
    ).rejects.toThrow(/options.inspect must be an inspection observer/);
  });
});
