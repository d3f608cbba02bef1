// stats() counts what happened, whatever happened to the workers; the error catalog is whole.
import { describe, expect, it } from 'vitest';
import {
  ActorhostError,
  ConnectionClosedError,
  ConnectionLostError,
  LineTooLongError,
  QueueFullError,
  RequestTimeoutError,
  RpcError,
  eventually,
  fixture,
  useRuntime,
} from './helpers.js';

const start = useRuntime({ machines: { killer: fixture('killer'), counter: fixture('counter') } });

describe('stats().eventsAccepted', () => {
  it('is a running total: it never goes back when a worker is replaced, and counts no subscription', async () => {
    const rt = await start({ workers: 1 });
    await rt.spawn('counter', { id: 'watched' });
    await rt.spawn('killer', { id: 'culprit' });
    const off = rt.subscribe('watched', () => {});
    for (let i = 0; i < 10; i++) await rt.send('watched', { type: 'INC' });
    off();
    rt.subscribe('watched', () => {});
    expect(rt.stats().eventsAccepted).toBe(10);
    await rt.send('culprit', { type: 'EXIT' });
    await eventually(() => rt.stats().restarts === 1 && rt.peek('culprit')?.status === 'active');
    expect(rt.stats().eventsAccepted).toBe(11);
    for (let i = 0; i < 5; i++) await rt.send('watched', { type: 'INC' });
    expect(rt.stats().eventsAccepted).toBe(16);
    expect((await rt.getSnapshot('watched')).context.count).toBe(15);
  });
});

describe('the error catalog', () => {
  it.each([
    [new RpcError('echo', { code: -32601, message: 'no such method' }), 'ERR_RPC'],
    [new RequestTimeoutError('echo', 100), 'ERR_REQUEST_TIMEOUT'],
    [new ConnectionClosedError('echo', 'bye'), 'ERR_CONNECTION_CLOSED'],
    [new LineTooLongError(1024), 'ERR_LINE_TOO_LONG'],
    [new ConnectionLostError('2 pongs missed'), 'ERR_CONNECTION_LOST'],
    [new QueueFullError(64), 'ERR_QUEUE_FULL'],
  ])('%s is an ActorhostError with its own class and code', (error, code) => {
    expect(error).toBeInstanceOf(ActorhostError);
    expect(error.code).toBe(code);
    expect(error.name).toBe(error.constructor.name);
  });
});
