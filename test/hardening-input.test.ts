// Bad input of every kind gets a typed error that says what to do — never a synchronous throw,
// never a hang, never an event altered on its way — and the neighbours lose nothing.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  InvalidEventError,
  InvalidOptionError,
  MachineModuleError,
  StoreLockedError,
  UnknownMachineError,
  createIpcServer,
  createRuntime,
  fixture,
  silentLogger,
  type Runtime,
  type RuntimeOptions,
  useRuntime,
} from './helpers.js';

const start = useRuntime({ machines: { counter: fixture('counter'), keeper: fixture('keeper') } });
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'actorhost-hardening-'));
  dirs.push(dir);
  return dir;
}

async function neighbourStillWorks(rt: Runtime): Promise<void> {
  if (!rt.peek('neighbour')) await rt.spawn('counter', { id: 'neighbour' });
  const before = (await rt.getSnapshot('neighbour')).context.count as number;
  await rt.send('neighbour', { type: 'INC' });
  expect((await rt.getSnapshot('neighbour')).context.count).toBe(before + 1);
}

/** Calls `fn` and reports a synchronous throw as a failure of the contract. */
function neverThrows<T>(fn: () => Promise<T>): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = fn();
  } catch (error) {
    throw new Error(`threw synchronously instead of rejecting: ${String(error)}`);
  }
  return promise;
}

describe('send never throws, and refuses what would not arrive as sent', () => {
  const throwingGetter = { type: 'KEEP', get value(): unknown { throw new Error('getter says no'); } };
  const throwingProxy = new Proxy({ type: 'KEEP' }, { ownKeys: () => { throw new Error('trap says no'); } });
  it.each([
    ['a throwing getter', throwingGetter, 'getter says no'],
    ['a throwing Proxy trap', throwingProxy, 'trap says no'],
    ['a BigInt of 2^64', { type: 'KEEP', value: 2n ** 64n }, 'event.value is a BigInt outside the 64-bit range'],
    ['a __proto__ key', JSON.parse('{"type":"KEEP","value":{"__proto__":{"admin":true}}}'), 'event.value has a "__proto__" key'],
    ['a symbol key', { type: 'KEEP', value: { [Symbol('s')]: 1 } }, 'event.value has symbol keys'],
    ['a lone surrogate', { type: 'KEEP', value: 'a\uD800b' }, 'event.value is a string with a lone surrogate'],
  ])('rejects an event with %s with InvalidEventError', async (_name, event, message) => {
    const rt = await start();
    await rt.spawn('keeper', { id: 'k' });
    const error = await neverThrows(() => rt.send('k', event as never)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain(message);
    expect((await rt.getSnapshot('k')).context.kept).toBeNull();
    await neighbourStillWorks(rt);
  });

  it.each([
    ['a symbol id', Symbol('id')],
    ['an id whose toString throws', { toString: () => { throw new Error('no'); } }],
    ['a number id', 7],
  ])('rejects %s with InvalidOptionError', async (_name, id) => {
    const rt = await start();
    const error = await neverThrows(() => rt.send(id as never, { type: 'INC' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('send: the session id must be a string');
    await expect(rt.getSnapshot(id as never)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(rt.stop(id as never)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(() => rt.pin(id as never)).toThrow(InvalidOptionError);
    expect(() => rt.peek(id as never)).toThrow(InvalidOptionError);
    await neighbourStillWorks(rt);
  });

  it('copies a Buffer: changing it after send does not change what the session got', async () => {
    const rt = await start();
    await rt.spawn('keeper', { id: 'k' });
    const bytes = Buffer.from([1, 2, 3, 4]);
    const sent = rt.send('k', { type: 'KEEP', value: bytes });
    bytes.fill(9);
    await sent;
    expect([...((await rt.getSnapshot('k')).context.kept as Uint8Array)]).toEqual([1, 2, 3, 4]);
  });

  it('bounds the work on a graph of shared references by the size limit', async () => {
    const rt = await start({ maxEventBytes: 64 * 1024 });
    await rt.spawn('keeper', { id: 'k' });
    // 40 levels, each referring twice to the one below: 2^40 paths, a few hundred objects.
    let node: Record<string, unknown> = { leaf: 'x' };
    for (let level = 0; level < 40; level++) node = { a: node, b: node };
    const started = performance.now();
    const error = await rt.send('k', { type: 'KEEP', value: node }).catch((e: unknown) => e);
    const tookMs = performance.now() - started;
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain('is more than 65536 bytes encoded; the limit is options.maxEventBytes');
    // Walked to the limit, not to 2^40 paths: far under a second even on a slow machine.
    expect(tookMs).toBeLessThan(5_000);
    await neighbourStillWorks(rt);
  });
});

describe('spawn refuses bad input with a typed error and leaves nothing behind', () => {
  it.each([
    ['an id over the store key limit', { id: 'x'.repeat(3_000) }, 'spawn options.id is 3000 bytes (UTF-8); the limit is 512'],
    ['a symbol id', { id: Symbol('id') }, 'spawn options.id must be a non-empty string (got a symbol)'],
    ['a BigInt id', { id: 10n }, 'spawn options.id must be a non-empty string (got 10n)'],
    ['a BigInt of 2^64 in input', { id: 'b', input: { n: 2n ** 64n } }, 'spawn options.input.n is a BigInt outside the 64-bit range'],
    ['a throwing getter in input', { id: 'g', input: { get n(): number { throw new Error('getter says no'); } } }, 'getter says no'],
    ['an unknown option', { id: 'u', poool: 'x' }, 'spawn options.poool is not a spawn option; known: id, pool, input, replace'],
  ])('%s', async (_name, options, message) => {
    const rt = await start({ store: { path: tempDir() } });
    const error = await neverThrows(() => rt.spawn('counter', options as never)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain(message);
    expect(rt.list()).toEqual([]);
    await neighbourStillWorks(rt);
    await rt.stop('neighbour');
    expect(rt.list()).toEqual([]);
  });

  it('an unknown kind that is not a string', async () => {
    const rt = await start();
    await expect(neverThrows(() => rt.spawn(Symbol('k') as never, { id: 'x' }))).rejects.toBeInstanceOf(UnknownMachineError);
  });
});

describe('timeouts and listeners', () => {
  it('refuses timeouts that Node timers cannot wait for, and a timeout that is not a number', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'c' });
    const never = () => false;
    for (const timeoutMs of [2 ** 31, '5', -1, NaN]) {
      const error = await neverThrows(() => rt.waitFor('c', never, { timeoutMs: timeoutMs as number })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toContain('waitFor: timeoutMs must be a number of milliseconds from 0 to 2147483647');
    }
    expect(() => rt.subscribe('c', null as never)).toThrow('subscribe: the listener must be a function or an observer');
    const opts = { machines: { counter: fixture('counter') }, logger: silentLogger, store: 'memory' as const };
    const error = await createRuntime({ ...opts, shutdownTimeoutMs: 2 ** 31 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('options.shutdownTimeoutMs must be at most');
    await neighbourStillWorks(rt);
  });
});

describe('createRuntime refuses what cannot work, and never hangs', () => {
  const base = { machines: { counter: fixture('counter') }, logger: silentLogger, store: 'memory' as const };
  it.each([
    [{ logger: {} }, 'options.logger must be a pino-compatible logger with info, warn, error, debug, child methods'],
    [{ resourceLimits: { maxOldGenerationSizeMb: 'x' } }, 'options.resourceLimits.maxOldGenerationSizeMb must be a positive number of megabytes (got "x")'],
    [{ resourceLimits: { maxHeap: 5 } }, 'options.resourceLimits.maxHeap is not a worker resource limit'],
    [{ store: { path: '/proc/self/actorhost' } }, 'is on a kernel file system (/proc, /sys, /dev)'],
  ])('rejects %j', async (bad, message) => {
    const error = await createRuntime({ ...base, ...bad } as RuntimeOptions).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain(message);
  });

  it('rejects a store path that is a file', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const error = await createRuntime({ ...base, store: { path: file } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('is a file, not a directory');
  });

  it.each([['hangs-on-import'], ['hangs-in-worker']])('rejects a machine module whose top-level await never settles (%s)', async (name) => {
    const url = fixture(name);
    const error = await createRuntime({ ...base, machines: { stuck: url }, startTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineModuleError);
    expect((error as Error).message).toContain(url.href);
    expect((error as Error).message).toContain('did not finish loading within 300 ms');
  });

  it('refuses a second runtime of this process on the same store, and the first keeps it', async () => {
    const path = tempDir();
    const first = await createRuntime({ ...base, store: { path } });
    try {
      await first.spawn('counter', { id: 'mine' });
      const error = await createRuntime({ ...base, store: { path } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreLockedError);
      expect((error as Error).message).toContain('is open in another runtime of this process');
      await first.send('mine', { type: 'INC' });
      expect((await first.getSnapshot('mine')).context.count).toBe(1);
    } finally {
      await first.shutdown();
    }
    // Once the first is shut down, the store is free again.
    const second = await createRuntime({ ...base, store: { path } });
    await second.shutdown();
  });

  it('keeps the store readable by its owner only (it holds contexts and IPC tokens)', async () => {
    const path = join(tempDir(), 'store');
    const rt = await createRuntime({ ...base, store: { path } });
    await rt.shutdown();
    expect(statSync(path).mode & 0o777).toBe(0o700);
    expect(statSync(join(path, 'data.mdb')).mode & 0o777).toBe(0o600);
  });
});

describe('the IPC server', () => {
  it('dispatches only its own methods, never Object.prototype names', async () => {
    const ipc = await createIpcServer({ logger: silentLogger, methods: { echo: (params) => params } });
    try {
      const token = ipc.issueToken('s-1');
      const socket = connect(ipc.address as never);
      const lines: Array<Record<string, unknown>> = [];
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
          lines.push(JSON.parse(buffer.slice(0, end)) as Record<string, unknown>);
          buffer = buffer.slice(end + 1);
        }
      });
      const call = async (id: number, method: string, params?: unknown) => {
        socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
        for (let waited = 0; waited < 200 && !lines.some((line) => line.id === id); waited++) await new Promise((r) => setTimeout(r, 20));
        return lines.find((line) => line.id === id)!;
      };
      expect((await call(1, 'initialize', { token, sessionId: 's-1' })).error).toBeUndefined();
      for (const [index, name] of ['constructor', 'toString', '__proto__', 'hasOwnProperty'].entries()) {
        const answer = await call(10 + index, name);
        expect((answer.error as { message: string }).message).toContain(`unknown method "${name}"`);
      }
      expect((await call(20, 'echo', { a: 1 })).result).toEqual({ a: 1 });
      socket.destroy();
    } finally {
      await ipc.close();
    }
  });
});
