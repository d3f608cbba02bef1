// One conformance suite, run against every store: what the runtime relies on a store to do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { LmdbStore, MemoryStore, type SessionStore } from '../dist/src/internal.js';
import { JetStreamStore } from '../dist/src/runtime/store/jetstream-store.js';
import { startNats, type NatsServer } from './nats-server.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The fleet's store runs on a nats-server of this file's own, started on first use.
let nats: Promise<NatsServer> | undefined;
let fleets = 0;
afterAll(async () => {
  await (await nats)?.stop();
}, 120_000);

const stores: Array<[string, () => Promise<SessionStore>, boolean]> = [
  ['MemoryStore', async () => new MemoryStore(), false],
  [
    'JetStreamStore',
    async () => {
      const server = await (nats ??= startNats());
      const store = await JetStreamStore.open({ servers: server.url, name: `conformance${++fleets}`, shards: 4, host: 'test-host' });
      await store.acquireAll(1);
      return store;
    },
    true,
  ],
  [
    'LmdbStore',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'actorhost-conformance-'));
      dirs.push(dir);
      return LmdbStore.open(dir);
    },
    true,
  ],
];

const meta = { kind: 'counter', pool: 'default', input: { start: 1 } };
// Events reach a store encoded (encode once: the bytes the worker is sent), and come back decoded.
const packr = new Packr({ useRecords: false, moreTypes: false });
const encode = (event: unknown) => packr.pack(event).slice();
const bytes = (...values: number[]) => new Uint8Array(values);

describe.each(stores)('%s', (_name, open, durable) => {
  async function withStore(body: (store: SessionStore) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  }

  it('says whether it survives a host restart', () =>
    withStore(async (store) => {
      expect(store.durable).toBe(durable);
    }));

  it('keeps a begun session with its journal, in seq order', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      for (const seq of [1, 2, 3]) await store.append('s', seq, encode({ type: 'INC', seq }));
      const loaded = store.load('s')!;
      expect(loaded).toMatchObject({ ...meta, passive: false, snapshotSeq: 0, seq: 3 });
      expect(loaded.snapshot).toBeUndefined();
      expect(loaded.journal).toEqual([1, { type: 'INC', seq: 1 }, 2, { type: 'INC', seq: 2 }, 3, { type: 'INC', seq: 3 }]);
      expect(store.list()).toEqual([{ id: 's', kind: 'counter', pool: 'default', passive: false, wakeAt: 0, quarantined: undefined, linked: false }]);
    }));

  it('compacts: a snapshot replaces the journal it covers, and an older one never replaces a newer', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      for (const seq of [1, 2, 3, 4]) await store.append('s', seq, encode({ type: 'INC', seq }));
      store.compact('s', 3, bytes(3));
      store.compact('s', 2, bytes(2));
      await store.append('s', 5, encode({ type: 'INC', seq: 5 }));
      const loaded = store.load('s')!;
      expect(loaded.snapshotSeq).toBe(3);
      expect([...loaded.snapshot!]).toEqual([3]);
      expect(loaded.journal).toEqual([4, { type: 'INC', seq: 4 }, 5, { type: 'INC', seq: 5 }]);
      expect(loaded.seq).toBe(5);
    }));

  it('drops a poison event from the journal, leaving a gap', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      for (const seq of [1, 2, 3]) await store.append('s', seq, encode({ type: 'INC', seq }));
      store.drop('s', 2);
      await store.append('s', 4, encode({ type: 'INC', seq: 4 }));
      expect(store.load('s')!.journal).toEqual([1, { type: 'INC', seq: 1 }, 3, { type: 'INC', seq: 3 }, 4, { type: 'INC', seq: 4 }]);
    }));

  it('saves a whole state at once (passive or not), replacing the journal', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      await store.append('s', 1, encode({ type: 'OLD' }));
      await store.save('s', meta, { snapshot: bytes(7), snapshotSeq: 5, journal: [6, { type: 'A' }, 7, { type: 'B' }], wakeAt: 1234 }, true);
      const loaded = store.load('s')!;
      expect(loaded).toMatchObject({ ...meta, passive: true, snapshotSeq: 5, seq: 7, wakeAt: 1234 });
      expect([...loaded.snapshot!]).toEqual([7]);
      expect(loaded.journal).toEqual([6, { type: 'A' }, 7, { type: 'B' }]);
      expect(store.list()).toEqual([{ id: 's', kind: 'counter', pool: 'default', passive: true, wakeAt: 1234, quarantined: undefined, linked: false }]);
    }));

  it('keeps the earliest timer with each snapshot; a snapshot at the same seq replaces the last (a timer fired)', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      await store.append('s', 1, encode({ type: 'ARM' }));
      store.compact('s', 1, bytes(1), 5_000);
      store.compact('s', 1, bytes(2), 0);
      await store.append('s', 2, encode({ type: 'X' }));
      const loaded = store.load('s')!;
      expect([...loaded.snapshot!]).toEqual([2]);
      expect(loaded).toMatchObject({ snapshotSeq: 1, wakeAt: 0, journal: [2, { type: 'X' }] });
      store.compact('s', 2, bytes(3), 7_000);
      await store.append('s', 3, encode({ type: 'Y' }));
      expect(store.list()[0]).toMatchObject({ id: 's', wakeAt: 7_000 });
    }));

  it('quarantines a session without changing what it keeps, and lifts the mark', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      await store.append('s', 1, encode({ type: 'A' }));
      store.compact('s', 1, bytes(9), 42);
      await store.append('s', 2, encode({ type: 'B' }));
      const cause = { name: 'SessionRestoreError', message: 'no longer fits', at: 1 };
      await store.quarantine('s', cause);
      await store.quarantine('ghost', cause);
      const kept = store.load('s')!;
      expect(kept).toMatchObject({ snapshotSeq: 1, seq: 2, wakeAt: 42, quarantined: cause, journal: [2, { type: 'B' }] });
      expect([...kept.snapshot!]).toEqual([9]);
      expect(store.list()).toEqual([{ id: 's', kind: 'counter', pool: 'default', passive: false, wakeAt: 42, quarantined: cause, linked: false }]);
      expect(store.load('ghost')).toBeUndefined();
      await store.quarantine('s', undefined);
      expect(store.load('s')!.quarantined).toBeUndefined();
      expect(store.load('s')!.journal).toEqual([2, { type: 'B' }]);
    }));

  it('begins a reused id afresh: nothing of the old session is left', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      await store.append('s', 1, encode({ type: 'OLD' }));
      store.compact('s', 1, bytes(1));
      await store.append('s', 2, encode({ type: 'OLD' }));
      store.begin('s', { ...meta, input: { start: 9 } });
      // Writes for one id apply in call order; an append resolves once it (and what came before) is kept.
      await store.append('s', 1, encode({ type: 'NEW' }));
      const loaded = store.load('s')!;
      expect(loaded).toMatchObject({ input: { start: 9 }, snapshotSeq: 0, journal: [1, { type: 'NEW' }], seq: 1 });
      expect(loaded.snapshot).toBeUndefined();
    }));

  it('deletes a session and only that session; an unknown id loads as undefined', () =>
    withStore(async (store) => {
      store.begin('a', meta);
      store.begin('ab', meta);
      await store.append('a', 1, encode({ type: 'A' }));
      await store.append('ab', 1, encode({ type: 'AB' }));
      await store.delete('a');
      expect(store.load('a')).toBeUndefined();
      expect(store.load('ab')!.journal).toEqual([1, { type: 'AB' }]);
      expect(store.list().map((row) => row.id)).toEqual(['ab']);
      expect(store.load('ghost')).toBeUndefined();
    }));

  it('keeps events as they were given: nested data, byte arrays, dates', () =>
    withStore(async (store) => {
      store.begin('s', meta);
      const event = { type: 'KEEP', value: { list: [1, 'two', null, true], bytes: bytes(1, 2, 3), at: new Date(1_000), big: 5n } };
      await store.append('s', 1, encode(event));
      const [, loaded] = store.load('s')!.journal as [number, typeof event];
      expect(loaded.value.list).toEqual([1, 'two', null, true]);
      expect([...loaded.value.bytes]).toEqual([1, 2, 3]);
      expect(new Date(loaded.value.at).getTime()).toBe(1_000);
      expect(loaded.value.big).toBe(5n);
    }));
});

describe('LmdbStore and stores written before encode-once', () => {
  it('reads a journal kept as objects (the old layout) and clears it with the session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'actorhost-legacy-'));
    dirs.push(dir);
    const { open } = await import('lmdb');
    const root = open({ path: dir });
    await root.openDB({ name: 'sessions' }).put('old', { kind: 'counter', pool: 'default', input: null, passive: true, snapshotSeq: 0 });
    const legacy = root.openDB({ name: 'journal' });
    await legacy.put('old\u000000000000001', { type: 'INC' });
    await legacy.put('old\u000000000000002', { type: 'INC', by: 2 });
    await root.close();
    const store = await LmdbStore.open(dir);
    try {
      await store.append('old', 3, encode({ type: 'NEW' }));
      expect(store.load('old')!.journal).toEqual([1, { type: 'INC' }, 2, { type: 'INC', by: 2 }, 3, { type: 'NEW' }]);
      await store.delete('old');
      store.begin('old', meta);
      await store.append('old', 1, encode({ type: 'FRESH' }));
      expect(store.load('old')!.journal).toEqual([1, { type: 'FRESH' }]);
    } finally {
      await store.close();
    }
  });
});

describe('LmdbStore: the journal in segments (one write per tick)', () => {
  async function segmentKeys(dir: string): Promise<number[]> {
    const { open } = await import('lmdb');
    const root = open({ path: dir });
    const keys = [...root.openDB<Uint8Array, number>({ name: 'segments', encoding: 'binary' }).getKeys()];
    await root.close();
    return keys;
  }

  it('after a reopen: the events no snapshot covers come back, covered and poison-dropped ones do not; a covered segment is removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'actorhost-segments-'));
    dirs.push(dir);
    let store = await LmdbStore.open(dir);
    store.begin('a', meta);
    store.begin('b', meta);
    // One tick: both sessions' events in one segment; then a second tick, a second segment.
    await Promise.all([1, 2, 3].flatMap((seq) => [store.append('a', seq, encode({ type: 'A', seq })), store.append('b', seq, encode({ type: 'B', seq }))]));
    await Promise.all([store.append('a', 4, encode({ type: 'A', seq: 4 })), store.append('b', 4, encode({ type: 'B', seq: 4 }))]);
    store.compact('a', 2, bytes(2));
    store.compact('b', 2, bytes(2));
    store.drop('b', 3);
    await store.close();
    expect(await segmentKeys(dir)).toHaveLength(2);

    store = await LmdbStore.open(dir);
    expect(store.load('a')).toMatchObject({ snapshotSeq: 2, journal: [3, { type: 'A', seq: 3 }, 4, { type: 'A', seq: 4 }], seq: 4 });
    // b's third event was dropped as poison: its segment is still there (a needs it), the mark too.
    expect(store.load('b')).toMatchObject({ snapshotSeq: 2, journal: [4, { type: 'B', seq: 4 }], seq: 4 });
    // Everything is covered: both segments hold nothing needed, and go.
    store.compact('a', 4, bytes(4));
    store.compact('b', 4, bytes(5));
    await store.append('a', 5, encode({ type: 'A', seq: 5 }));
    await store.close();
    const left = await segmentKeys(dir);
    expect(left).toHaveLength(1);

    store = await LmdbStore.open(dir);
    try {
      expect(store.load('b')).toMatchObject({ snapshotSeq: 4, journal: [] });
      expect(store.load('a')!.journal).toEqual([5, { type: 'A', seq: 5 }]);
      // A new segment never reuses a removed one's key.
      await store.append('b', 5, encode({ type: 'B', seq: 5 }));
    } finally {
      await store.close();
    }
    expect(Math.min(...(await segmentKeys(dir)))).toBe(left[0]);
  });
});
