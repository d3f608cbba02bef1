// IPC links survive a restore: a reactivated session (after an eviction, or on another host
// process) is handed a fresh token by the runtime and its connection machine reconnects with it;
// `replace` never revokes the token of the session that now holds the id.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createIpcServer, createRuntime, eventually, fixture, silentLogger, type IpcServer, type Runtime, type RuntimeOptions } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'actorhost-ipc-restore-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function server(): Promise<IpcServer> {
  const ipc = await createIpcServer({ logger: silentLogger, methods: { echo: (params) => params } });
  cleanups.push(() => ipc.close());
  return ipc;
}

async function runtime(ipc: IpcServer, options: Partial<RuntimeOptions> = {}): Promise<Runtime> {
  const rt = await createRuntime({
    machines: { linked: fixture('ipc-session'), counter: fixture('counter') },
    workers: 1,
    logger: silentLogger,
    store: 'memory',
    ipcServer: ipc,
    ...options,
  });
  cleanups.push(() => rt.shutdown());
  return rt;
}

/** Asks the session to call the host's `echo` over its link, and waits for the answer. */
async function asksOverItsLink(rt: Runtime, id: string, text: string): Promise<void> {
  const before = ((await rt.getSnapshot(id)).context as { answers: unknown[] }).answers.length;
  await rt.send(id, { type: 'ASK', text });
  const snapshot = await rt.waitFor(id, (s) => (s.context as { answers: unknown[] }).answers.length > before, { timeoutMs: 8_000 });
  // A refused link answers with an error instead.
  expect((snapshot.context as { answers: unknown[] }).answers.at(-1)).toEqual({ text });
}

describe('IPC links across a restore', () => {
  it('an evicted session that used its link is reactivated with a fresh token and its link answers', async () => {
    const ipc = await server();
    const rt = await runtime(ipc, { pools: { p: { capacity: 1, recencyFloorMs: 0 } } });
    const reactivated: string[] = [];
    rt.on('reactivated', ({ id }) => reactivated.push(id));
    const token = ipc.issueToken('agent');
    await rt.spawn('linked', { id: 'agent', pool: 'p', input: { address: ipc.address, token } });
    await asksOverItsLink(rt, 'agent', 'before');
    await rt.spawn('counter', { id: 'other', pool: 'p' });
    await eventually(() => rt.peek('agent')?.status === 'evicted');
    // Its token was revoked with it.
    expect(ipc.hasToken('agent')).toBe(false);
    await asksOverItsLink(rt, 'agent', 'after');
    expect(reactivated).toEqual(['agent']);
    expect(ipc.connections('agent')).toBe(1);
  });

  it('replace keeps the token the application issued for the new session', async () => {
    const ipc = await server();
    const rt = await runtime(ipc);
    await rt.spawn('linked', { id: 'agent', input: { address: ipc.address, token: ipc.issueToken('agent') } });
    await eventually(() => ipc.connections('agent') === 1);
    const token = ipc.issueToken('agent');
    await rt.spawn('linked', { id: 'agent', replace: true, input: { address: ipc.address, token } });
    expect(ipc.hasToken('agent')).toBe(true);
    await asksOverItsLink(rt, 'agent', 'new session');
  });

  it('a session restored by another host process (its store) gets that host’s address and a fresh token', async () => {
    const path = join(root, 'restart');
    const firstIpc = await server();
    const first = await runtime(firstIpc, { store: { path } });
    await first.spawn('linked', { id: 'agent', input: { address: firstIpc.address, token: firstIpc.issueToken('agent') } });
    await asksOverItsLink(first, 'agent', 'first host');
    await first.shutdown();
    await firstIpc.close();

    const secondIpc = await server();
    const second = await runtime(secondIpc, { store: { path } });
    await asksOverItsLink(second, 'agent', 'second host');
    expect(secondIpc.connections('agent')).toBe(1);
  });
});

describe('a connection restored while lost', () => {
  it('reconnects after its worker died: its backoff timer is re-armed by the restore', async () => {
    const ipc = await server();
    const rt = await runtime(ipc);
    await rt.spawn('linked', { id: 'agent', input: { address: ipc.address, token: ipc.issueToken('agent'), backoffMs: 1_500 } });
    await eventually(() => ipc.connections('agent') === 1);
    // The server says bye: the link is `lost`, waiting out its backoff.
    ipc.bye('agent');
    await eventually(() => ipc.connections('agent') === 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const restarted = new Promise<void>((resolve) => rt.on('restarted', () => resolve()));
    await rt.send('agent', { type: 'EXIT' });
    await restarted;
    // Restored in `lost`: without its timer it would wait forever.
    await eventually(() => ipc.connections('agent') === 1, 8_000);
    await asksOverItsLink(rt, 'agent', 'after the crash');
  });
});
