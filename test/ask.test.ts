// ask: request/response with a session, ordered with sends, answered once.
import { describe, expect, it } from 'vitest';
import {
  AskTimeoutError,
  InvalidOptionError,
  NoReplyError,
  SessionCrashedError,
  UnknownSessionError,
  eventually,
  fixture,
  useRuntime,
} from './helpers.js';

const start = useRuntime({ machines: { asker: fixture('asker') } });

describe('ask', () => {
  it('resolves with the value the reply action gives', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    await rt.send('a', { type: 'INC' });
    expect(await rt.ask('a', { type: 'GET_COUNT' })).toBe(1);
  });

  it('a later reply: the machine kept replyTo and answered after an invoke', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    await rt.send('a', { type: 'INC' });
    expect(await rt.ask('a', { type: 'LATER' }, { timeoutMs: 5_000 })).toBe('later:1');
  });

  it('handled without a reply: NoReplyError at once, naming the state', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    const started = Date.now();
    const error = await rt.ask('a', { type: 'SILENT' }, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoReplyError);
    expect((error as Error).message).toMatch(/handled "SILENT" in state "idle" without replying/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('kept and never answered: AskTimeoutError after timeoutMs', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    const error = await rt.ask('a', { type: 'NEVER' }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AskTimeoutError);
    expect((error as Error).message).toMatch(/did not answer "NEVER" within 300 ms/);
  });

  it('is ordered with sends: an ask after 50 unawaited sends sees all 50', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    const sends = Array.from({ length: 50 }, () => rt.send('a', { type: 'INC' }));
    const answer = rt.ask('a', { type: 'GET_COUNT' });
    const later = Array.from({ length: 10 }, () => rt.send('a', { type: 'INC' }));
    expect(await answer).toBe(50);
    await Promise.all([...sends, ...later]);
  });

  it('to an evicted session: reactivates it and answers', async () => {
    const rt = await start({ pools: { p: { capacity: 1, recencyFloorMs: 0 } } });
    const reactivated: string[] = [];
    rt.on('reactivated', ({ id }) => reactivated.push(id));
    await rt.spawn('asker', { id: 'a', pool: 'p' });
    await rt.send('a', { type: 'INC' });
    await rt.spawn('asker', { id: 'b', pool: 'p' });
    await eventually(() => rt.peek('a')?.status === 'evicted');
    expect(await rt.ask('a', { type: 'GET_COUNT' })).toBe(1);
    expect(reactivated).toEqual(['a']);
  });

  it('across a worker crash: an ask accepted before the crash is answered once', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    await rt.send('a', { type: 'INC' });
    const crash = rt.send('a', { type: 'EXIT' });
    // Queued behind the event that kills the worker: replayed into the restored session.
    const answer = rt.ask('a', { type: 'GET_COUNT' }, { timeoutMs: 10_000 });
    await crash;
    expect(await answer).toBe(1);
  });

  it('the asked event crashes the session: rejected with SessionCrashedError, never hangs', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    const error = await rt.ask('a', { type: 'CRASH' }, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionCrashedError);
    expect((error as Error).message).toContain('boom while asked');
    // The session goes on (restarted without the poison event).
    expect(await rt.ask('a', { type: 'GET_COUNT' })).toBe(0);
  });

  it('bad input: an unknown session, a bad timeout, a bad event — typed rejections', async () => {
    const rt = await start();
    await rt.spawn('asker', { id: 'a' });
    await expect(rt.ask('ghost', { type: 'GET_COUNT' })).rejects.toBeInstanceOf(UnknownSessionError);
    await expect(rt.ask('a', { type: 'GET_COUNT' }, { timeoutMs: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(rt.ask('a', { type: 'GET_COUNT', fn: () => 1 } as never)).rejects.toThrow(/plain data|function/);
    // Nothing lost for the session.
    expect(await rt.ask('a', { type: 'GET_COUNT' })).toBe(0);
  });
});
