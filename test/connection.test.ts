import { statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SimulatedClock, createActor, type Actor } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthError,
  PROTOCOL_VERSION,
  backoffDelay,
  captureLogger,
  connectionMachine,
  createIpcServer,
  createRuntime,
  eventually,
  fixture,
  manualClock,
  probeConnection,
  silentLogger,
  sleep,
  type ConnectionInput,
  type ConnectionOutputEvent,
  type IpcAddress,
  type IpcServer,
  type Runtime,
} from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof createIpcServer>[0] = {}): Promise<IpcServer> {
  const ipc = await createIpcServer({ logger: silentLogger, methods: { echo: (params) => params }, ...options });
  cleanups.push(() => ipc.close());
  return ipc;
}

type ConnectionActor = Actor<typeof connectionMachine>;

/** A connection actor in this process, with everything it tells recorded and every state it visits. */
function client(input: ConnectionInput, clock?: SimulatedClock) {
  const actor: ConnectionActor = createActor(connectionMachine, { input, ...(clock ? { clock } : {}) });
  const told: ConnectionOutputEvent[] = [];
  const visited: string[] = [];
  actor.on('*', (event) => told.push(event as ConnectionOutputEvent));
  actor.subscribe((snapshot) => {
    const state = JSON.stringify(snapshot.value);
    if (visited.at(-1) !== state) visited.push(state);
  });
  actor.start();
  cleanups.push(() => {
    actor.stop();
  });
  const isIn = (state: string) => actor.getSnapshot().matches(state as never);
  return { actor, told, visited, isIn };
}

/** A raw TCP relay in front of `target`: lets a test cut connections and count them. */
async function relay(target: IpcAddress): Promise<{ address: IpcAddress; connections: () => number; cut(): void }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const proxy: Server = createServer((inbound) => {
    count++;
    const outbound = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const drop = () => [inbound, outbound].forEach((socket) => socket.destroy());
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  return {
    address: { host: '127.0.0.1', port: (proxy.address() as { port: number }).port },
    connections: () => count,
    cut: () => sockets.forEach((socket) => socket.destroy()),
  };
}

/** A raw server that speaks the protocol however the test says. */
async function rawServer(onLine: (socket: Socket, message: { id?: number; method?: string }) => void): Promise<IpcAddress> {
  const sockets = new Set<Socket>();
  const raw = createServer((socket) => {
    sockets.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line) onLine(socket, JSON.parse(line) as { id?: number; method?: string });
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => raw.close(() => resolve()));
  });
  return { host: '127.0.0.1', port: (raw.address() as { port: number }).port };
}

const answerInitialize = (socket: Socket, id: number) =>
  socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, result: { version: PROTOCOL_VERSION, serverInfo: { name: 'raw' } } })}\n`);

describe('connectionMachine', () => {
  it('connects, authenticates, answers requests, and relays server notifications', async () => {
    const ipc = await server();
    const token = ipc.issueToken('conv-1');
    const { actor, told, isIn } = client({ address: ipc.address, token });
    await eventually(() => isIn('online.authed'));
    actor.send({ type: 'connection.request', id: 1, method: 'echo', params: { hello: 'world' } });
    await eventually(() => told.some((e) => e.type === 'connection.response'));
    expect(told.find((e) => e.type === 'connection.response')).toEqual({ type: 'connection.response', id: 1, result: { hello: 'world' } });
    expect(ipc.notify('conv-1', 'log', { level: 'info', msg: 'from the host' })).toBe(1);
    await eventually(() => told.some((e) => e.type === 'connection.notification'));
    expect(told.find((e) => e.type === 'connection.notification')).toEqual({
      type: 'connection.notification',
      method: 'log',
      params: { level: 'info', msg: 'from the host' },
    });
  });

  it('queues requests made before it is authed and sends them, in order, once it is', async () => {
    const ipc = await server();
    const { actor, told } = client({ address: ipc.address, token: ipc.issueToken('q') });
    for (let i = 0; i < 3; i++) actor.send({ type: 'connection.request', id: i, method: 'echo', params: i });
    await eventually(() => told.filter((e) => e.type === 'connection.response').length === 3);
    expect(told.filter((e) => e.type === 'connection.response').map((e) => (e as { result: unknown }).result)).toEqual([0, 1, 2]);
  });

  it('refuses requests past maxQueued while not connected, with a clear error', async () => {
    const { actor, told } = client({
      address: { path: join(tmpdir(), 'no-such-actorhost.sock') },
      token: 'x',
      maxQueued: 2,
      backoff: { initialMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) actor.send({ type: 'connection.request', id: i, method: 'echo' });
    const refused = told.filter((e) => e.type === 'connection.response');
    expect(refused).toEqual([
      { type: 'connection.response', id: 2, error: { name: 'QueueFullError', message: expect.stringContaining('2 requests already wait (maxQueued)') } },
    ]);
  });

  it('reconnects after the connection drops', async () => {
    const ipc = await server();
    const link = await relay(ipc.address);
    const { visited, isIn } = client({ address: link.address, token: ipc.issueToken('d'), backoff: { initialMs: 20 } });
    await eventually(() => isIn('online.authed'));
    link.cut();
    await eventually(() => visited.includes('"lost"'));
    await eventually(() => isIn('online.authed'));
    expect(link.connections()).toBe(2);
  });

  it('treats a server bye as a loss, and reconnects', async () => {
    const ipc = await server();
    const { visited, isIn } = client({ address: ipc.address, token: ipc.issueToken('b'), backoff: { initialMs: 20 } });
    await eventually(() => isIn('online.authed'));
    ipc.bye('b');
    await eventually(() => visited.includes('"lost"'));
    await eventually(() => isIn('online.authed'));
  });

  it('fails cleanly on a refused token: AuthError, no retries', async () => {
    const ipc = await server();
    ipc.issueToken('real');
    const link = await relay(ipc.address);
    const { actor, isIn } = client({ address: link.address, token: 'f'.repeat(64), backoff: { initialMs: 10 } });
    await eventually(() => isIn('failed'));
    expect(actor.getSnapshot().output?.error).toMatchObject({ name: 'AuthError', message: expect.stringContaining('issue a new one') });
    await sleep(200);
    expect(link.connections()).toBe(1);
  });

  it('a bye in the same read as the initialize answer leaves it lost, never authed', async () => {
    const address = await rawServer((socket, message) => {
      if (message.method !== 'initialize') return;
      // Both frames in one write: they arrive in one read.
      socket.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { version: PROTOCOL_VERSION } })}\n` +
          `${JSON.stringify({ jsonrpc: '2.0', method: 'bye' })}\n`,
      );
    });
    const { visited, isIn } = client({ address, token: 't', backoff: { initialMs: 60_000 } });
    await eventually(() => isIn('lost'));
    // `idle` is left at once (it is transient): connecting, then lost — authed never appears.
    expect(visited).toEqual(['{"online":"connecting"}', '"lost"']);
  });

  it('goes lost after missing pongs', async () => {
    const address = await rawServer((socket, message) => {
      if (message.method === 'initialize') answerInitialize(socket, message.id!);
      // Pings are never answered.
    });
    const { actor, isIn } = client({ address, token: 't', pingIntervalMs: 50, missedPongs: 2, backoff: { initialMs: 60_000 } });
    await eventually(() => isIn('online.authed'));
    await eventually(() => isIn('lost'), 5_000);
    expect(actor.getSnapshot().context.error?.message).toBe('2 pongs missed');
  });

  it('survives persistence: restored from a snapshot (functions dropped), it reconnects', async () => {
    const ipc = await server();
    const token = ipc.issueToken('persisted');
    const first = client({ address: ipc.address, token, backoff: { initialMs: 20 } });
    await eventually(() => first.isIn('online.authed'));
    // What a restart, a reactivation or a resumed host restores from: plain data only.
    const persisted = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as object;
    first.actor.stop();
    const restored = createActor(connectionMachine, { snapshot: persisted as never, input: { address: ipc.address, token } });
    const errors: unknown[] = [];
    restored.subscribe({ error: (error) => errors.push(error) });
    restored.start();
    cleanups.push(() => {
      restored.stop();
    });
    ipc.bye('persisted');
    await eventually(() => restored.getSnapshot().matches({ online: 'authed' }) && ipc.connections('persisted') === 1);
    expect(errors).toEqual([]);
  });

  it('reports a protocol version mismatch with both versions, and stays connected', async () => {
    const { logger, records } = captureLogger();
    const ipc = await server({ logger });
    const { told, isIn } = client({ address: ipc.address, token: ipc.issueToken('v'), version: '0.9' });
    await eventually(() => isIn('online.authed'));
    expect(told).toContainEqual({ type: 'connection.versionMismatch', clientVersion: '0.9', serverVersion: PROTOCOL_VERSION });
    expect(records.find((r) => r.msg === 'IPC protocol version mismatch')).toMatchObject({ clientVersion: '0.9', serverVersion: PROTOCOL_VERSION, level: 40 });
  });
});

describe('backoff', () => {
  const options = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5, maxAttempts: 5 };

  it('grows exponentially, is capped at maxMs, and jitter only ever shortens it', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options, () => 0))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const delay = backoffDelay(attempt, options, () => r);
        const capped = Math.min(1_000, 100 * 2 ** (attempt - 1));
        return delay <= 1_000 && delay >= Math.floor(capped * 0.5);
      }),
    );
  });

  it('waits each delay on the machine’s clock, then fails after maxAttempts (injected clock)', async () => {
    const clock = new SimulatedClock();
    const { actor, isIn } = client(
      {
        address: { path: join(tmpdir(), 'no-such-actorhost.sock') },
        token: 'x',
        random: () => 0,
        backoff: { initialMs: 100, factor: 2, maxMs: 300, jitter: 0.5, maxAttempts: 3 },
      },
      clock,
    );
    for (const delay of [100, 200, 300]) {
      await eventually(() => isIn('lost'));
      clock.increment(delay - 1);
      expect(isIn('lost')).toBe(true);
      clock.increment(1);
      expect(isIn('online.connecting')).toBe(true);
    }
    await eventually(() => isIn('failed'));
    expect(actor.getSnapshot().context.attempt).toBe(4);
    expect(actor.getSnapshot().output?.error?.name).toBe('ConnectionLostError');
  });
});

describe('probeConnection', () => {
  it('resolves with the server version for a good token', async () => {
    const ipc = await server();
    const result = await probeConnection(ipc.address, { token: ipc.issueToken('p'), timeoutMs: 2_000 });
    expect(result.version).toBe(PROTOCOL_VERSION);
  });

  it('rejects, in time, on a wrong token, a missing socket, and a server that never answers', async () => {
    const ipc = await server();
    await expect(probeConnection(ipc.address, { token: 'nope', timeoutMs: 2_000 })).rejects.toBeInstanceOf(AuthError);
    await expect(probeConnection({ path: join(tmpdir(), 'missing-actorhost.sock') }, { token: 'x', timeoutMs: 2_000 })).rejects.toThrow(
      /ENOENT/,
    );
    const silent = await rawServer(() => {});
    const started = Date.now();
    await expect(probeConnection(silent, { token: 'x', timeoutMs: 300 })).rejects.toThrow(/initialize got no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('createIpcServer', () => {
  /** A line-oriented raw client. */
  async function rawClient(address: IpcAddress): Promise<{ socket: Socket; next(): Promise<Record<string, unknown>>; closed: Promise<void> }> {
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.setEncoding('utf8');
    const lines: string[] = [];
    const waiters: Array<(line: string) => void> = [];
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) (waiters.shift() ?? ((l: string) => lines.push(l)))(line);
    });
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return {
      socket,
      closed,
      next: () =>
        new Promise((resolve) => {
          const line = lines.shift();
          if (line !== undefined) resolve(JSON.parse(line));
          else waiters.push((l) => resolve(JSON.parse(l)));
        }),
    };
  }

  async function authed(ipc: IpcServer, sessionId: string) {
    const raw = await rawClient(ipc.address);
    raw.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { token: ipc.issueToken(sessionId), version: PROTOCOL_VERSION } })}\n`);
    expect(await raw.next()).toMatchObject({ id: 0, result: { version: PROTOCOL_VERSION } });
    return raw;
  }

  it('refuses to be given both a socket path and TCP', async () => {
    await expect(createIpcServer({ path: join(tmpdir(), 'x.sock'), tcp: { port: 0 }, logger: silentLogger })).rejects.toThrow(
      'createIpcServer: give options.path (a Unix socket) or options.tcp, not both',
    );
  });

  it('listens on TCP 127.0.0.1 when asked', async () => {
    const ipc = await server({ tcp: { port: 0 } });
    expect(ipc.address).toMatchObject({ host: '127.0.0.1' });
    expect((await probeConnection(ipc.address, { token: ipc.issueToken('t') })).version).toBe(PROTOCOL_VERSION);
  });

  it('creates its socket file with mode 0600', async () => {
    const ipc = await server();
    expect(statSync((ipc.address as { path: string }).path).mode & 0o777).toBe(0o600);
  });

  it('answers bad input with JSON-RPC errors and keeps the connection', async () => {
    const ipc = await server({ methods: { boom: () => { throw new Error('handler bug'); }, echo: (p) => p } });
    const raw = await authed(ipc, 's');
    raw.socket.write('this is not json\n');
    expect(await raw.next()).toMatchObject({ id: null, error: { code: -32700 } });
    raw.socket.write('[1,2]\n');
    expect(await raw.next()).toMatchObject({ id: null, error: { code: -32600 } });
    raw.socket.write('42\n');
    expect(await raw.next()).toMatchObject({ error: { code: -32600 } });
    raw.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'nope' })}\n`);
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32601, message: 'unknown method "nope"' } });
    raw.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'boom' })}\n`);
    expect(await raw.next()).toMatchObject({ id: 2, error: { code: -32603, message: 'boom failed: handler bug' } });
    raw.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'echo', params: 'still here' })}\n`);
    expect(await raw.next()).toMatchObject({ id: 3, result: 'still here' });
  });

  it('lets an unauthenticated connection call nothing but initialize, and closes it after the auth timeout', async () => {
    const ipc = await server({ authTimeoutMs: 200 });
    const raw = await rawClient(ipc.address);
    raw.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: 1 })}\n`);
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32001, message: expect.stringContaining('call initialize') } });
    await raw.closed;
  });

  it('closes a connection whose line exceeds 1 MiB; everyone else is served', async () => {
    const ipc = await server();
    const good = await authed(ipc, 'good');
    const bad = await authed(ipc, 'bad');
    bad.socket.write('x'.repeat(1024 * 1024 + 10));
    await bad.closed;
    good.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'echo', params: 'ok' })}\n`);
    expect(await good.next()).toMatchObject({ id: 7, result: 'ok' });
  });

  it('close() says bye to every client, and the socket file is gone', async () => {
    const ipc = await createIpcServer({ logger: silentLogger });
    const raw = await authed(ipc, 'z');
    const path = (ipc.address as { path: string }).path;
    await ipc.close();
    expect(await raw.next()).toMatchObject({ method: 'bye' });
    await raw.closed;
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('keeps answering a well-behaved client while malformed frames are thrown at it (fuzz)', async () => {
    const ipc = await server();
    const good = await authed(ipc, 'steady');
    let asked = 0;
    const frames = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)), method: fc.string(), params: fc.jsonValue() }).map((r) =>
        JSON.stringify(r),
      ),
      fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 5 }), async (batch) => {
        const attacker = 'path' in ipc.address ? connect(ipc.address.path) : connect(ipc.address.port);
        attacker.on('error', () => {});
        await new Promise((resolve) => attacker.once('connect', resolve));
        attacker.write(batch.map((frame) => `${frame}\n`).join(''));
        attacker.destroy();
        const id = ++asked;
        good.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'echo', params: id })}\n`);
        const answer = await good.next();
        return answer.id === id && answer.result === id;
      }),
      { numRuns: 150 },
    );
  });
});

describe('with the runtime', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
  });

  it('revokes a session’s token when the session is stopped, and when it is evicted', async () => {
    const ipc = await server();
    const clock = manualClock();
    runtime = await createRuntime({
      machines: { counter: fixture('counter') },
      workers: 1,
      logger: silentLogger,
      store: 'memory',
      pools: { chat: { capacity: 1 } },
      now: clock.now,
      ipcServer: ipc,
    });
    const stopped = ipc.issueToken('stopped');
    await runtime.spawn('counter', { id: 'stopped', pool: 'chat' });
    await probeConnection(ipc.address, { token: stopped });
    await runtime.stop('stopped');
    await expect(probeConnection(ipc.address, { token: stopped })).rejects.toBeInstanceOf(AuthError);

    const evicted = ipc.issueToken('evicted');
    await runtime.spawn('counter', { id: 'evicted', pool: 'chat' });
    clock.advance(10);
    const done = new Promise<Promise<void>>((resolve) => runtime!.on('evicted', (e) => resolve(e.done)));
    await runtime.spawn('counter', { id: 'newcomer', pool: 'chat' });
    await (await done);
    await expect(probeConnection(ipc.address, { token: evicted })).rejects.toBeInstanceOf(AuthError);
  });

  it('runs inside a session in a worker: requests out, notifications in', async () => {
    const ipc = await server();
    runtime = await createRuntime({ machines: { linked: fixture('ipc-session') }, workers: 1, logger: silentLogger, store: 'memory', ipcServer: ipc });
    await runtime.spawn('linked', { id: 'agent', input: { address: ipc.address, token: ipc.issueToken('agent') } });
    await eventually(() => ipc.connections('agent') === 1);
    await runtime.send('agent', { type: 'ASK', text: 'hello host' });
    await runtime.waitFor('agent', (s) => s.context.answers.length === 1, { timeoutMs: 5_000 });
    ipc.notify('agent', 'log', 'hi session');
    const snapshot = await runtime.waitFor('agent', (s) => s.context.notifications.length === 1, { timeoutMs: 5_000 });
    expect(snapshot.context).toMatchObject({ answers: [{ text: 'hello host' }], notifications: ['hi session'] });
    await runtime.stop('agent');
    expect(ipc.connections('agent')).toBe(0);
  });
});
