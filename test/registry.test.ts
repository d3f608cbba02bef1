import { describe, expect, it } from 'vitest';
import { Pool, chooseEvictions } from '../dist/src/internal.js';
import {
  DuplicateSessionError,
  PoolFullError,
  UnknownSessionError,
  captureLogger,
  eventually,
  fixture,
  manualClock,
  poolMember as member,
  type TestMember as Member,
  sleep,
  type Runtime,
  useRuntime,
} from './helpers.js';

describe('Pool and chooseEvictions (pure)', () => {
  it('keeps least-recently-used order; a touch moves a member to the recent end', () => {
    const pool = new Pool<Member>('p', 3, 0);
    const [a, b, c] = [member('a'), member('b'), member('c')];
    pool.add(a, 1);
    pool.add(b, 2);
    pool.add(c, 3);
    pool.touch(a, 4);
    expect([...pool.leastRecent()].map((m) => m.name)).toEqual(['b', 'c', 'a']);
    pool.remove(c);
    expect([...pool.leastRecent()].map((m) => m.name)).toEqual(['b', 'a']);
    expect(pool.size).toBe(2);
  });

  it('skips pinned, busy and non-active members, and stops at the recency floor', () => {
    const pool = new Pool<Member>('p', 1, 100);
    const [pinned, busy, starting, idle, recent] = ['pinned', 'busy', 'starting', 'idle', 'recent'].map((name) => member(name));
    pinned!.pins = 1;
    busy!.inFlight = 2;
    starting!.status = 'starting';
    pool.add(pinned!, 0);
    pool.add(busy!, 0);
    pool.add(starting!, 0);
    pool.add(idle!, 0);
    pool.add(recent!, 950);
    expect(chooseEvictions(pool, 4, 1_000).map((m) => m.name)).toEqual(['idle']);
    // Once the floor has passed for everyone, the recent one is a candidate too.
    expect(chooseEvictions(pool, 4, 2_000).map((m) => m.name)).toEqual(['idle', 'recent']);
  });
});

const start = useRuntime({
  machines: { counter: fixture('counter'), cleanup: fixture('cleanup') },
  workers: 2,
});

describe('eviction', () => {
  it('evicts the least recently used session of a full pool, reported before its shutdown begins', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 2, recencyFloorMs: 1_000 } }, now: clock.now });
    await rt.spawn('counter', { id: 'a', pool: 'chat' });
    clock.advance(10);
    await rt.spawn('counter', { id: 'b', pool: 'chat' });
    clock.advance(10);
    await rt.send('a', { type: 'INC' }); // a is now the most recent: b is the LRU
    clock.advance(5_000);
    const reports: Array<{ id: string; statusAtReport: string | undefined; done: Promise<void> }> = [];
    rt.on('evicted', ({ id, done }) => reports.push({ id, statusAtReport: rt.peek(id)?.status, done }));
    await rt.spawn('counter', { id: 'c', pool: 'chat' });
    expect(reports.map((r) => r.id)).toEqual(['b']);
    expect(reports[0]!.statusAtReport).toBe('stopping');
    await reports[0]!.done;
    expect(rt.peek('b')?.status).toBe('evicted');
    expect(rt.list({ pool: 'chat', status: 'active' }).map((s) => s.id).sort()).toEqual(['a', 'c']);
    expect(rt.stats().pools.chat).toEqual({ sessions: 2, capacity: 2, evicted: 1 });
  });

  it('never evicts a pinned session or one inside the recency floor: the pool goes over capacity, with one warning', async () => {
    const clock = manualClock();
    const { logger, records } = captureLogger();
    const rt = await start({ pools: { chat: { capacity: 1, recencyFloorMs: 1_000 } }, now: clock.now, logger });
    await rt.spawn('counter', { id: 'pinned', pool: 'chat' });
    const release = rt.pin('pinned');
    clock.advance(5_000);
    await rt.spawn('counter', { id: 'recent', pool: 'chat' });
    await rt.spawn('counter', { id: 'also-recent', pool: 'chat' });
    expect(rt.stats().pools.chat!.sessions).toBe(3);
    const warnings = records.filter((r) => r.msg.startsWith('pool over capacity'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ pool: 'chat', size: 2, capacity: 1, level: 40 });
    expect(rt.stats().evictions).toBe(0);
    // Unpinned and past its floor, it goes as soon as the pin is released: no spawn or resize needed.
    const evicted: string[] = [];
    rt.on('evicted', ({ id }) => evicted.push(id));
    release();
    expect(evicted).toEqual(['pinned']);
    // The other two are inside their floor: the pool stays over capacity until they leave it.
    clock.advance(5_000);
    rt.setPoolCapacity('chat', 2);
    expect(evicted).toEqual(['pinned']);
    expect(rt.stats().pools.chat!.sessions).toBe(2);
  });

  /** A full pool of two: 'old', then 'new', 10 ms apart on a manual clock; no recency floor. */
  async function oldAndNew(): Promise<Runtime> {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 2, recencyFloorMs: 0 } }, now: clock.now });
    await rt.spawn('counter', { id: 'old', pool: 'chat' });
    clock.advance(10);
    await rt.spawn('counter', { id: 'new', pool: 'chat' });
    clock.advance(10);
    return rt;
  }

  it('peek, list and stats do not count as activity', async () => {
    const rt = await oldAndNew();
    // Were these activity, 'old' would now be the most recent, and 'new' the one evicted.
    rt.peek('old');
    rt.list();
    rt.list({ pool: 'chat' });
    rt.stats();
    const evicted: string[] = [];
    rt.on('evicted', ({ id }) => evicted.push(id));
    await rt.spawn('counter', { id: 'third', pool: 'chat' });
    expect(evicted).toEqual(['old']);
  });

  it.each([['send'], ['getSnapshot']])('%s counts as activity', async (call) => {
    const rt = await oldAndNew();
    if (call === 'send') await rt.send('old', { type: 'INC' });
    else await rt.getSnapshot('old');
    await rt.getSnapshot('old');
    const evicted: string[] = [];
    rt.on('evicted', ({ id }) => evicted.push(id));
    await rt.spawn('counter', { id: 'third', pool: 'chat' });
    expect(evicted).toEqual(['new']);
  });

  it('shrinking a pool with setPoolCapacity evicts down to the new size', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 10 } }, now: clock.now });
    for (let i = 0; i < 6; i++) {
      await rt.spawn('counter', { id: `s${i}`, pool: 'chat' });
      clock.advance(10);
    }
    const evicted: string[] = [];
    rt.on('evicted', ({ id }) => evicted.push(id));
    rt.setPoolCapacity('chat', 2);
    expect(evicted).toEqual(['s0', 's1', 's2', 's3']);
    expect(rt.stats().pools.chat!.sessions).toBe(2);
    expect(() => rt.setPoolCapacity('chat', 0)).toThrow('setPoolCapacity: capacity must be a positive integer (got 0)');
    expect(() => rt.setPoolCapacity('nope', 3)).toThrow('setPoolCapacity: "nope" is not a pool; known: chat, default');
  });

  it('pinning an unknown session is an error; a pin is refcounted', async () => {
    const rt = await start();
    expect(() => rt.pin('ghost')).toThrow(UnknownSessionError);
    await rt.spawn('counter', { id: 'p' });
    const first = rt.pin('p');
    const second = rt.pin('p');
    first();
    expect(rt.peek('p')!.pinned).toBe(true);
    second();
    expect(rt.peek('p')!.pinned).toBe(false);
  });
});

describe('passivation', () => {
  it('a session with events waiting is mid-turn: never evicted', async () => {
    const clock = manualClock();
    const rt = await start({ workers: 1, pools: { chat: { capacity: 1 } }, now: clock.now });
    await rt.spawn('counter', { id: 'busy', pool: 'chat' });
    clock.advance(10);
    for (let i = 0; i < 50; i++) void rt.send('busy', { type: 'INC' });
    // What each evicted session still had waiting when its eviction was decided.
    const waitingAtEviction: Array<[string, number]> = [];
    rt.on('evicted', ({ id }) => waitingAtEviction.push([id, rt.peek(id)!.mailbox]));
    await rt.spawn('counter', { id: 'next', pool: 'chat' });
    // The pool comes back to capacity as soon as the mailbox is empty, not before.
    await eventually(() => waitingAtEviction.length > 0);
    expect(waitingAtEviction).toEqual([['busy', 0]]);
    expect((await rt.getSnapshot('busy')).context.count).toBe(50);
  });

  it('a send to an evicted session reactivates it from its snapshot, state intact', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1 } }, now: clock.now });
    await rt.spawn('counter', { id: 'sleepy', pool: 'chat' });
    for (let i = 0; i < 5; i++) await rt.send('sleepy', { type: 'INC' });
    // Processed (a session with events waiting is mid-turn and never evicted).
    await rt.getSnapshot('sleepy');
    clock.advance(10);
    const evicted = new Promise<Promise<void>>((resolve) => rt.on('evicted', ({ done }) => resolve(done)));
    await rt.spawn('counter', { id: 'other', pool: 'chat' });
    await (await evicted);
    expect(rt.peek('sleepy')!.status).toBe('evicted');
    clock.advance(10);
    // Reactivating it needs room: 'other' is evicted in turn.
    await rt.send('sleepy', { type: 'INC' });
    expect((await rt.getSnapshot('sleepy')).context.count).toBe(6);
    expect(rt.peek('sleepy')!.status).toBe('active');
    await eventuallyStatus(rt, 'other', 'evicted');
  });

  it('a send to an evicted session whose pool has no room is a dead letter and rejects clearly', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1 } }, now: clock.now });
    await rt.spawn('counter', { id: 'gone', pool: 'chat' });
    clock.advance(10);
    const evicted = new Promise<Promise<void>>((resolve) => rt.on('evicted', ({ done }) => resolve(done)));
    await rt.spawn('counter', { id: 'holder', pool: 'chat' });
    await (await evicted);
    rt.pin('holder');
    const deadLetters: unknown[] = [];
    rt.on('deadLetter', ({ id, event }) => deadLetters.push({ id, event }));
    const error = await rt.send('gone', { type: 'INC' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolFullError);
    expect((error as Error).message).toContain('pool "chat" has no room to reactivate it (1/1');
    expect(deadLetters).toEqual([{ id: 'gone', event: { type: 'INC' } }]);
    // Nothing else changed: the holder still answers, the evicted one is still stored.
    await rt.send('holder', { type: 'INC' });
    expect(rt.peek('gone')!.status).toBe('evicted');
  });

  it.each([['subscribe'], ['waitFor'], ['pin']])('%s on an evicted session reactivates it, state intact', async (call) => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 2 } }, now: clock.now });
    await rt.spawn('counter', { id: 'sleeper', pool: 'chat', input: { start: 41 } });
    clock.advance(10);
    await rt.spawn('counter', { id: 'other', pool: 'chat' });
    clock.advance(10);
    rt.setPoolCapacity('chat', 1);
    await eventually(() => rt.peek('sleeper')?.status === 'evicted');
    await rt.stop('other');
    const seen: number[] = [];
    if (call === 'subscribe') rt.subscribe('sleeper', (snapshot) => seen.push(snapshot.context.count as number));
    if (call === 'waitFor') expect((await rt.waitFor('sleeper', (s) => s.context.count === 41)).context.count).toBe(41);
    if (call === 'pin') rt.pin('sleeper');
    expect(rt.peek('sleeper')!.status).not.toBe('evicted');
    await rt.send('sleeper', { type: 'INC' });
    expect((await rt.getSnapshot('sleeper')).context.count).toBe(42);
    if (call === 'subscribe') await eventually(() => seen.at(-1) === 42);
    if (call === 'pin') expect(rt.peek('sleeper')!.pinned).toBe(true);
  });

  it('stop() of a session being evicted stops it for good: not left passivated', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 2 } }, now: clock.now });
    await rt.spawn('counter', { id: 'leaving', pool: 'chat' });
    clock.advance(10);
    await rt.spawn('counter', { id: 'staying', pool: 'chat' });
    clock.advance(10);
    const stopped = new Promise<void>((resolve) =>
      rt.on('evicted', ({ id }) => {
        // Stopped while its eviction is under way.
        if (id === 'leaving') void rt.stop('leaving').then(resolve);
      }),
    );
    rt.setPoolCapacity('chat', 1);
    await stopped;
    expect(rt.peek('leaving')).toBeUndefined();
    expect(rt.stats().evicted).toBe(0);
    await expect(rt.send('leaving', { type: 'INC' })).rejects.toBeInstanceOf(UnknownSessionError);
  });

  it('stop() forgets an evicted session; a send to it is then an unknown session', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1 } }, now: clock.now });
    await rt.spawn('counter', { id: 'old', pool: 'chat' });
    clock.advance(10);
    const evicted = new Promise<Promise<void>>((resolve) => rt.on('evicted', ({ done }) => resolve(done)));
    await rt.spawn('counter', { id: 'new', pool: 'chat' });
    await (await evicted);
    await rt.stop('old');
    expect(rt.peek('old')).toBeUndefined();
    await expect(rt.send('old', { type: 'INC' })).rejects.toBeInstanceOf(UnknownSessionError);
    expect(rt.stats().evicted).toBe(0);
  });

  it('spawning an evicted id needs replace; replacing is not reported as an eviction', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1 } }, now: clock.now });
    await rt.spawn('counter', { id: 'x', pool: 'chat', input: { start: 7 } });
    clock.advance(10);
    const evicted: string[] = [];
    const done = new Promise<Promise<void>>((resolve) => rt.on('evicted', (e) => (evicted.push(e.id), resolve(e.done))));
    await rt.spawn('counter', { id: 'y', pool: 'chat' });
    await (await done);
    await expect(rt.spawn('counter', { id: 'x', pool: 'chat' })).rejects.toBeInstanceOf(DuplicateSessionError);
    await rt.spawn('counter', { id: 'y', pool: 'chat', input: { start: 1 }, replace: true });
    expect(evicted).toEqual(['x']);
    expect((await rt.getSnapshot('y')).context.count).toBe(1);
  });
});

describe('an id reused while the old incarnation is still shutting down', () => {
  it("a stop still running never touches the bookkeeping of a new session that took the id", async () => {
    const rt = await start({ pools: { chat: { capacity: 10 } } });
    await rt.spawn('cleanup', { id: 'conv', pool: 'chat', input: { cleanupMs: 300 } });
    // The old session's shutdown takes 300 ms; the id is free at once.
    const stopping = rt.stop('conv');
    await sleep(20);
    expect(rt.peek('conv')?.status).toBe('stopping');
    await rt.spawn('counter', { id: 'conv', pool: 'chat', input: { start: 41 } });
    const release = rt.pin('conv');
    await stopping;
    // The new session is untouched: registered, counted, pinned, and answering.
    expect(rt.peek('conv')).toMatchObject({ kind: 'counter', status: 'active', pinned: true });
    expect(rt.stats().pools.chat!.sessions).toBe(1);
    await rt.send('conv', { type: 'INC' });
    expect((await rt.getSnapshot('conv')).context.count).toBe(42);
    release();
  });

  it('an eviction still running never passivates over a session that replaced it', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1 } }, now: clock.now });
    await rt.spawn('cleanup', { id: 'conv', pool: 'chat', input: { cleanupMs: 300 } });
    clock.advance(10);
    const evictionDone = new Promise<Promise<void>>((resolve) => rt.on('evicted', ({ done }) => resolve(done)));
    await rt.spawn('counter', { id: 'other', pool: 'chat' });
    const done = await evictionDone;
    // The eviction of the old 'conv' is under way (its shutdown takes 300 ms): replace it now.
    await rt.spawn('counter', { id: 'conv', pool: 'chat', input: { start: 5 }, replace: true });
    await done;
    expect(rt.peek('conv')).toMatchObject({ kind: 'counter', status: 'active' });
    expect(rt.stats().evicted).toBe(rt.peek('other')?.status === 'evicted' ? 1 : 0);
    expect((await rt.getSnapshot('conv')).context.count).toBe(5);
  });
});

async function eventuallyStatus(rt: Runtime, id: string, status: string): Promise<void> {
  for (let i = 0; i < 100 && rt.peek(id)?.status !== status; i++) await sleep(20);
  expect(rt.peek(id)?.status).toBe(status);
}
