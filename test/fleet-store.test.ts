// The fleet's store (src/runtime/store/jetstream-store.ts) beyond the conformance suite: a
// takeover replays what the previous owner wrote; the previous owner's writes are refused after
// it; acknowledged writes survive a nats-server killed with SIGKILL and started again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { JetStreamStore } from '../dist/src/runtime/store/jetstream-store.js';
import { FencedError } from '../dist/src/runtime/fleet/shard-log.js';
import { startNats } from './nats-server.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const encode = (event: unknown) => packr.pack(event).slice();
const meta = { kind: 'counter', pool: 'default', input: null };

describe('the fleet store on a real nats-server (2.9.10)', () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  }, 120_000);
  const open = async (name: string, host: string, epoch: number) => {
    const store = await JetStreamStore.open({ servers: nats.url, name, shards: 2, host });
    await store.acquireAll(epoch);
    return store;
  };

  it('a takeover replays the previous owner’s writes; the previous owner is fenced from then on', async () => {
    const a = await open('takeover', 'host-a', 1);
    a.begin('s1', meta);
    a.begin('s2', meta);
    for (const seq of [1, 2, 3]) await a.append('s1', seq, encode({ type: 'INC', seq }));
    a.compact('s1', 2, new Uint8Array([2]));
    await a.append('s2', 1, encode({ type: 'PING' }));
    // Host A stalls; host B takes both shards over.
    const b = await open('takeover', 'host-b', 2);
    expect(b.load('s1')).toMatchObject({ snapshotSeq: 2, journal: [3, { type: 'INC', seq: 3 }], seq: 3 });
    expect([...b.load('s1')!.snapshot!]).toEqual([2]);
    expect(b.load('s2')!.journal).toEqual([1, { type: 'PING' }]);
    await expect(a.append('s1', 4, encode({ type: 'LATE' }))).rejects.toBeInstanceOf(FencedError);
    await b.append('s1', 4, encode({ type: 'FROM_B' }));
    const c = await open('takeover', 'host-c', 3);
    expect(c.load('s1')!.journal).toEqual([3, { type: 'INC', seq: 3 }, 4, { type: 'FROM_B' }]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('loses no acknowledged write when nats-server is killed (SIGKILL) and started again', { timeout: 30_000 }, async () => {
    const a = await open('restart', 'host-a', 1);
    a.begin('s', meta);
    const acknowledged = [];
    for (let seq = 1; seq <= 50; seq++) {
      await a.append('s', seq, encode({ type: 'INC', seq }));
      acknowledged.push(seq);
    }
    await a.holdMail('agents', 1, { to: 'agent:2', event: { type: 'HELLO' }, expiresAt: 1 });
    await nats.restart();
    await a.close().catch(() => {});
    // The host's next run (held mail is each host's own).
    const b = await open('restart', 'host-a', 2);
    const journal = b.load('s')!.journal;
    expect(journal.filter((_, index) => index % 2 === 0)).toEqual(acknowledged);
    expect(b.heldMail()).toEqual([{ group: 'agents', seq: 1, mail: { to: 'agent:2', event: { type: 'HELLO' }, expiresAt: 1 } }]);
    await b.close();
  });

  it("keeps a routed call's id with its event: the next owner of the shard knows the call was accepted", async () => {
    const a = await open('calls', 'host-a', 1);
    a.begin('s', meta);
    a.callId = 'host-x:7';
    const appended = a.append('s', 1, encode({ type: 'INC' }));
    a.callId = undefined;
    await appended;
    await a.append('s', 2, encode({ type: 'INC' }));
    const b = await open('calls', 'host-b', 2);
    expect(b.accepted('host-x:7')).toBe(true);
    expect(b.accepted('host-x:8')).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });
});
