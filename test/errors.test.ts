import { describe, expect, it } from 'vitest';
import {
  ActorhostError,
  DuplicateSessionError,
  InvalidEventError,
  InvalidOptionError,
  MachineModuleError,
  MailboxFullError,
  RuntimeClosedError,
  SessionCrashedError,
  UnknownMachineError,
  UnknownSessionError,
  WaitForTimeoutError,
  createRuntime,
  fixture,
  silentLogger,
  type Runtime,
  type RuntimeOptions,
  useRuntime,
  captureLogger,
  eventually,
} from './helpers.js';

const start = useRuntime({
  machines: { counter: fixture('counter'), faulty: fixture('faulty') },
});

/** A neighbour session that must be untouched by someone else's bad input. */
async function neighbourStillWorks(rt: Runtime, id: string, expected: number): Promise<void> {
  await rt.send(id, { type: 'INC' });
  expect((await rt.getSnapshot(id)).context.count).toBe(expected + 1);
}

describe('options', () => {
  const base = { machines: { counter: fixture('counter') }, logger: silentLogger, store: 'memory' as const };
  it.each([
    [{ workers: 0 }, 'options.workers must be a positive integer (got 0)'],
    [{ workers: 1.5 }, 'options.workers must be a positive integer (got 1.5)'],
    [{ pools: { conversation: { capacity: -1 } } }, 'options.pools.conversation.capacity must be a positive integer (got -1)'],
    [{ pools: { chat: { recencyFloorMs: -5 } } }, 'options.pools.chat.recencyFloorMs must be a non-negative integer (got -5)'],
    [{ mailbox: { capacity: 'big' } }, 'options.mailbox.capacity must be a positive integer (got "big")'],
    [{ shutdownTimeoutMs: -1 }, 'options.shutdownTimeoutMs must be a non-negative integer (got -1)'],
    [{ maxEventBytes: 0 }, 'options.maxEventBytes must be a positive integer (got 0)'],
    [{ durability: 'disk' }, "options.durability must be one of 'journal', 'snapshot', 'none' (got \"disk\")"],
    [{ resume: 'later' }, "options.resume must be one of 'lazy', 'eager' (got \"later\")"],
    [{ store: { path: '' } }, "options.store must be 'memory' or { path: 'a directory' }"],
    [{ restart: { intensity: -1 } }, 'options.restart.intensity must be a non-negative integer (got -1)'],
    [{ watchdog: { heartbeatMs: 500, hangTimeoutMs: 400 } }, 'options.watchdog.hangTimeoutMs must be greater than heartbeatMs (got 400 ≤ 500)'],
    [{ snapshotEvery: 0 }, 'options.snapshotEvery must be a positive integer (got 0)'],
    [{ standbyWorker: 'yes' }, 'options.standbyWorker must be true or false (got "yes")'],
    [{ noRollback: 1 }, 'options.noRollback must be true or false (got 1)'],
    [{ subprocessGraceMs: -1 }, 'options.subprocessGraceMs must be a non-negative integer (got -1)'],
    [{ groups: { agents: { untargeted: 'all' } } }, "options.groups.agents.untargeted must be one of 'primary', 'broadcast', 'drop' (got \"all\")"],
    [{ groups: { agents: { maxHeld: 0 } } }, 'options.groups.agents.maxHeld must be a positive integer (got 0)'],
    [{ groups: { agents: { ttl: 5 } } }, 'options.groups.agents.ttl is not a group option; known: untargeted, maxHeld, heldTtlMs'],
    [{ groups: { 'a b': {} } }, 'options.groups: "a b" is not a group name'],
    [{ ipcServer: { revoke() {} } }, 'options.ipcServer must be the server createIpcServer() returned'],
    [{ now: 5 }, 'options.now must be a function returning milliseconds (got 5)'],
    [{ ipcServer: {} }, 'options.ipcServer must be the server createIpcServer() returned'],
    [{ inspect: { observer: () => {}, maxEventsPerSecond: 0 } }, 'options.inspect.maxEventsPerSecond must be a positive integer (got 0)'],
    [{ inspect: { observer: () => {}, types: ['@xstate.everything'] } }, 'options.inspect.types: "@xstate.everything" is not one of'],
    [{ wokers: 2 }, 'options.wokers is not an option of createRuntime'],
    [{ machines: {} }, 'options.machines must map at least one kind to a module URL'],
    [{ machines: { agent: './agent.machine.js' } }, 'options.machines.agent must be an absolute module URL'],
  ])('rejects %j with a message naming the option and the rule', async (bad, message) => {
    const error = await createRuntime({ ...base, ...bad } as RuntimeOptions).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('ERR_INVALID_OPTION');
    expect((error as Error).message).toContain(message);
  });
});

describe('machine modules', () => {
  it('fails createRuntime with the URL and the cause when a module throws on import', async () => {
    const url = fixture('throws-on-import');
    const error = await createRuntime({ machines: { bad: url }, workers: 1, logger: silentLogger, store: 'memory' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineModuleError);
    expect((error as Error).message).toContain(url.href);
    expect((error as Error).message).toContain('this module cannot load');
  });

  it('fails createRuntime when the default export is not a machine', async () => {
    const url = fixture('no-machine');
    const error = await createRuntime({ machines: { bad: url }, workers: 1, logger: silentLogger, store: 'memory' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineModuleError);
    expect((error as Error).message).toMatch(/has no XState machine as its default export/);
  });

  it.each([
    ['bad-version', /exports version 1.5; it must be a positive integer/],
    ['bad-migrate', /exports a migrate that is not a function/],
  ])('fails createRuntime when %s exports a bad version or migrate', async (name, message) => {
    const error = await createRuntime({ machines: { bad: fixture(name) }, workers: 1, logger: silentLogger, store: 'memory' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineModuleError);
    expect((error as Error).message).toMatch(message);
  });

  it('fails createRuntime when a module does not exist', async () => {
    const url = new URL('./missing.machine.js', fixture('counter'));
    const error = await createRuntime({ machines: { gone: url }, workers: 1, logger: silentLogger, store: 'memory' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MachineModuleError);
    expect((error as Error).message).toContain('missing.machine.js');
  });
});

describe('spawn', () => {
  it('rejects an unknown machine kind and names the known ones', async () => {
    const rt = await start();
    const error = await rt.spawn('agnet', { id: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownMachineError);
    expect((error as Error).message).toBe(
      'Unknown machine "agnet"; known: counter, faulty. Register it in createRuntime({ machines: { name: new URL(...) } }).',
    );
    expect(rt.stats().sessions).toBe(0);
  });

  it('rejects a duplicate id and leaves the live session as it was', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'dup', input: { start: 5 } });
    const error = await rt.spawn('counter', { id: 'dup' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateSessionError);
    expect((error as Error).message).toContain('stop it first or spawn with { replace: true }');
    await neighbourStillWorks(rt, 'dup', 5);
  });

  it('replaces a live session when asked to', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'again', input: { start: 5 } });
    await rt.spawn('counter', { id: 'again', input: { start: 100 }, replace: true });
    expect((await rt.getSnapshot('again')).context.count).toBe(100);
    expect(rt.stats().sessions).toBe(1);
  });

  it('rejects bad spawn options clearly', async () => {
    const rt = await start();
    await expect(rt.spawn('counter', { id: '' })).rejects.toThrow('spawn options.id must be a non-empty string (got "")');
    await expect(rt.spawn('counter', { id: 'a\u0000b' })).rejects.toThrow('spawn options.id must not contain the NUL character');
    await expect(rt.spawn('counter', { id: 'p', pool: 'nope' })).rejects.toThrow(
      'spawn options.pool "nope" is not a pool; known: default',
    );
    await expect(rt.spawn('counter', { id: 'f', input: { callback: () => 1 } })).rejects.toThrow(
      'spawn options.input.callback is a function; events must be plain data',
    );
    expect(rt.stats().sessions).toBe(0);
  });

  it('rejects with SessionCrashedError when the machine fails while starting', async () => {
    const rt = await start();
    const error = await rt.spawn('faulty', { id: 'dies', input: { failOnStart: true } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionCrashedError);
    expect((error as Error).message).toContain('boom from an action');
    expect(rt.peek('dies')).toBeUndefined();
    // The id is free again.
    await rt.spawn('faulty', { id: 'dies' });
  });
});

describe('send', () => {
  it('rejects an unknown id', async () => {
    const rt = await start();
    const error = await rt.send('ghost', { type: 'INC' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownSessionError);
    expect((error as Error).message).toBe(
      'Unknown session "ghost": it was never spawned, or it has stopped. Spawn it first.',
    );
    await expect(rt.getSnapshot('ghost')).rejects.toBeInstanceOf(UnknownSessionError);
    await expect(rt.stop('ghost')).rejects.toBeInstanceOf(UnknownSessionError);
    expect(() => rt.subscribe('ghost', () => {})).toThrow(UnknownSessionError);
    expect(() => rt.pin('ghost')).toThrow(UnknownSessionError);
  });

  it.each([
    ['a string', 'INC', 'expected an object with a string "type"'],
    ['null', null, 'expected an object with a string "type"'],
    ['no type', { kind: 'INC' }, 'whose "type" is undefined'],
    ['a function inside', { type: 'INC', reply: () => 1 }, 'event.reply is a function; events must be plain data'],
    ['a Map inside', { type: 'INC', data: new Map() }, 'event.data is a Map; only plain objects'],
    ['a class instance', { type: 'INC', at: new (class Point {})() }, 'event.at is a Point'],
    ['a symbol', { type: 'INC', tag: Symbol('x') }, 'event.tag is a symbol'],
  ])('rejects an event that is %s, and the session loses nothing', async (_name, event, message) => {
    const rt = await start();
    await rt.spawn('counter', { id: 'target' });
    await rt.send('target', { type: 'INC' });
    const error = await rt.send('target', event as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).code).toBe('ERR_INVALID_EVENT');
    expect((error as Error).message).toContain(message);
    await neighbourStillWorks(rt, 'target', 1);
  });

  it('rejects a circular event', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'target' });
    const event: Record<string, unknown> = { type: 'INC' };
    event.self = event;
    await expect(rt.send('target', event as never)).rejects.toThrow(/nested more than 64 levels deep \(or is circular\)/);
    await neighbourStillWorks(rt, 'target', 0);
  });

  it('rejects an event larger than maxEventBytes and names the option', async () => {
    const rt = await start({ maxEventBytes: 1_000 });
    await rt.spawn('counter', { id: 'target' });
    const error = await rt.send('target', { type: 'INC', blob: 'x'.repeat(2_000) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toMatch(/"INC" is (more than )?\d+ bytes encoded; the limit is options.maxEventBytes = 1000/);
    await neighbourStillWorks(rt, 'target', 0);
  });

  it('rejects with MailboxFullError past mailbox.capacity and keeps every accepted event', async () => {
    const rt = await start({ mailbox: { capacity: 4 } });
    await rt.spawn('counter', { id: 'busy' });
    await rt.spawn('counter', { id: 'calm' });
    // Synchronous sends: nothing can be processed before the batch is flushed.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => rt.send('busy', { type: 'INC' })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(6);
    expect(rejected[0]!.reason).toBeInstanceOf(MailboxFullError);
    expect(String(rejected[0]!.reason.message)).toContain('raise options.mailbox.capacity');
    expect((await rt.getSnapshot('busy')).context.count).toBe(4);
    // Once drained, the mailbox accepts again; the other session never noticed.
    await rt.send('busy', { type: 'INC' });
    expect((await rt.getSnapshot('busy')).context.count).toBe(5);
    await neighbourStillWorks(rt, 'calm', 0);
  });
});

describe('crashes', () => {
  it('reports a session whose action throws as crashed when it may not restart; its neighbour keeps answering', async () => {
    const rt = await start({ restart: { intensity: 0 } });
    await rt.spawn('faulty', { id: 'bad' });
    await rt.spawn('counter', { id: 'good' });
    const crashed = new Promise<{ id: string; error: Error }>((resolve) => rt.on('crashed', resolve));
    await rt.send('bad', { type: 'BOOM' });
    const report = await crashed;
    expect(report.id).toBe('bad');
    expect(report.error).toBeInstanceOf(SessionCrashedError);
    expect(report.error.message).toContain('boom from an action');
    expect(rt.peek('bad')).toBeUndefined();
    await expect(rt.send('bad', { type: 'PING' })).rejects.toBeInstanceOf(UnknownSessionError);
    await neighbourStillWorks(rt, 'good', 0);
    expect(rt.stats().crashed).toBe(1);
  });

  it('a listener that throws is logged and does not break the runtime', async () => {
    const { logger, records } = captureLogger('warn');
    const rt = await start({ logger });
    await rt.spawn('counter', { id: 'watched' });
    const seen: number[] = [];
    rt.subscribe('watched', () => {
      throw new Error('listener bug');
    });
    rt.subscribe('watched', (snapshot) => seen.push(snapshot.context.count as number));
    await rt.send('watched', { type: 'INC' });
    await neighbourStillWorks(rt, 'watched', 1);
    await eventually(() => seen.length === 2);
    const logged = records.filter((record) => record.msg === 'a subscriber threw; ignored');
    expect(logged.length).toBe(2);
    expect((logged[0]!.err as { message: string }).message).toBe('listener bug');
    expect(logged[0]!.sessionId).toBe('watched');
    // The other subscriber heard every snapshot.
    expect(seen).toEqual([1, 2]);
  });
});

describe('waitFor', () => {
  it('rejects with WaitForTimeoutError when nothing matches in time', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'slow' });
    const error = await rt.waitFor('slow', (s) => s.context.count === 99, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitForTimeoutError);
    expect((error as Error).message).toContain('raise timeoutMs or check the predicate');
    await neighbourStillWorks(rt, 'slow', 0);
  });

  it('rejects when the session stops before the predicate matches', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'leaving' });
    const waiting = rt.waitFor('leaving', (s) => s.context.count === 99, { timeoutMs: 5_000 });
    await rt.stop('leaving');
    await expect(waiting).rejects.toThrow(/it stopped before the predicate matched/);
  });
});

describe('after shutdown', () => {
  it('every call rejects with RuntimeClosedError', async () => {
    const rt = await start();
    await rt.spawn('counter', { id: 'last' });
    await rt.shutdown();
    for (const attempt of [
      () => rt.spawn('counter', { id: 'next' }),
      () => rt.send('last', { type: 'INC' }),
      () => rt.getSnapshot('last'),
      () => rt.stop('last'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RuntimeClosedError);
      expect(error).toBeInstanceOf(ActorhostError);
      expect((error as Error).message).toMatch(/the runtime has been shut down. Create a new runtime/);
    }
    expect(() => rt.subscribe('last', () => {})).toThrow(RuntimeClosedError);
    await rt.shutdown(); // idempotent
  });
});
