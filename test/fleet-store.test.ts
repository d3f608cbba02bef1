// The fleet's store (src/runtime/store/jetstream-store.ts) beyond the conformance suite: a
// takeover replays what the previous owner wrote; the previous owner's writes are refused after
// it; acknowledged writes survive a nats-server killed with SIGKILL and started again; a shard's
// log is checkpointed and what came before purged, and a checkpoint cut short is ignored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { JetStreamStore } from '../dist/src/runtime/store/jetstream-store.js';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { FencedError, ShardLog } from '../dist/src/runtime/fleet/shard-log.js';
import { createPackr } from '../dist/src/protocol/wire.js';
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
  const open = async (name: string, host: string, epoch: number, checkpointEvery?: number) => {
    const store = await JetStreamStore.open({ servers: nats.url, name, shards: 2, host, ...(checkpointEvery ? { checkpointEvery } : {}) });
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

  /** The messages of a shard's log now, decoded. */
  async function logOf(name: string, shard: number): Promise<unknown[][]> {
    const nc = await connect({ servers: nats.url });
    try {
      const { entries } = await ShardLog.read({ js: jetstream(nc), jsm: await jetstreamManager(nc), stream: `${name}_shards`, subject: `${name}.shard.${shard}` });
      return entries.map((entry) => createPackr().unpack(entry.data) as unknown[]);
    } finally {
      await nc.close();
    }
  }

  it("checkpoints a shard's log: the whole state written, what came before purged; the next owner restores the same state", { timeout: 30_000 }, async () => {
    const a = await open('checkpoints', 'host-a', 1, 25);
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6'];
    for (const id of ids) a.begin(id, meta);
    a.callId = 'host-x:1';
    const routed = a.append('s1', 1, encode({ type: 'INC', n: 0 }));
    a.callId = undefined;
    await routed;
    for (let n = 1; n < 120; n++) {
      const id = ids[n % ids.length]!;
      await a.append(id, a.load(id)!.seq + 1, encode({ type: 'INC', n }));
      if (n % 17 === 0) a.compact(id, a.load(id)!.seq, new Uint8Array([n]), 1_700_000_000_000 + n);
    }
    await a.quarantine('s5', { name: 'MachineVersionError', message: 'too new', at: 1 });
    await a.save('s6', meta, { snapshot: new Uint8Array([6]), snapshotSeq: a.load('s6')!.seq, journal: [], wakeAt: 0 }, true);
    await a.delete('s4');
    for (let n = 0; n < 30; n++) await a.append('s1', a.load('s1')!.seq + 1, encode({ type: 'TAIL', n }));

    // Each shard's log starts with a checkpoint now: far fewer messages than were written.
    let messages = 0;
    for (let wait = 0; wait < 100; wait++) {
      const logs = [await logOf('checkpoints', 0), await logOf('checkpoints', 1)];
      messages = logs[0]!.length + logs[1]!.length;
      if (logs.every((log) => JSON.stringify(log[0]?.[0]) === '["checkpoint","begin"]')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(messages).toBeLessThan(60);
    const b = await open('checkpoints', 'host-b', 2);
    // (Bytes come back from the log as Buffers: compared as byte lists.)
    const plain = (stored: ReturnType<JetStreamStore['load']>) => stored && { ...stored, snapshot: stored.snapshot && [...stored.snapshot] };
    for (const id of ids) expect(plain(b.load(id))).toEqual(plain(a.load(id)));
    expect(b.load('s4')).toBeUndefined();
    expect(b.load('s5')?.quarantined).toMatchObject({ message: 'too new' });
    expect(b.list().map((row) => row.id).sort()).toEqual(['s1', 's2', 's3', 's5', 's6']);
    expect(b.accepted('host-x:1')).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('ignores a checkpoint cut short (its owner fenced mid-way): what came before it stands', async () => {
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const setup = await JetStreamStore.open({ servers: nats.url, name: 'cut', shards: 1, host: 'setup' });
    await setup.close();
    const wire = createPackr();
    const subject = 'cut.shard.0';
    const old = await ShardLog.open({ js, jsm: await jetstreamManager(nc), stream: 'cut_shards', subject, epoch: 1, marker: wire.pack([['epoch', 1]]).slice(), after: 0 });
    await old.append(wire.pack([['begin', 's', meta], ['append', 's', 1, encode({ type: 'KEPT' })]]).slice());
    // A checkpoint's first part (it would have said the session has no journal), then the owner was fenced.
    await old.append(wire.pack([['checkpoint', 'begin'], ['calls', []], ['save', 's', meta, { snapshot: undefined, snapshotSeq: 0, journal: [] }, false]]).slice());
    const next = await JetStreamStore.open({ servers: nats.url, name: 'cut', shards: 1, host: 'host-b' });
    await next.acquireAll(2);
    expect(next.load('s')!.journal).toEqual([1, { type: 'KEPT' }]);
    await expect(old.append(wire.pack([['checkpoint', 'end']]).slice())).rejects.toBeInstanceOf(FencedError);
    await next.close();
    await nc.close();
  });
});
