// A shard's log in JetStream (src/runtime/fleet/shard-log.ts) on a real nats-server: fenced
// writes — a previous owner cannot write after the new owner's epoch marker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { FencedError, ShardLog } from '../dist/src/runtime/fleet/shard-log.js';
import { startNats, type NatsServer } from './nats-server.js';

const text = (value: string) => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('a shard log on a real nats-server (2.9.10)', () => {
  let nats: NatsServer;
  let a: NatsConnection;
  let b: NatsConnection;
  let jsA: JetStreamClient;
  let jsB: JetStreamClient;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    nats = await startNats();
    a = await connect({ servers: nats.url });
    b = await connect({ servers: nats.url });
    jsA = jetstream(a);
    jsB = jetstream(b);
    jsm = await jetstreamManager(a);
    await jsm.streams.add({ name: 'shards', subjects: ['fleet.shard.>'] });
  });
  afterAll(async () => {
    try {
      await a?.close();
      await b?.close();
    } finally {
      await nats?.stop();
    }
  }, 120_000);

  /** A takeover as the store does it: replay, then the marker conditional on what was replayed. */
  async function takeOver(js: JetStreamClient, subject: string, epoch: number) {
    const { entries, last } = await ShardLog.read({ js, jsm, stream: 'shards', subject });
    return { log: await ShardLog.open({ js, jsm, stream: 'shards', subject, epoch, marker: text(`epoch ${epoch}`), after: last }), replayed: entries.map((entry) => decode(entry.data)) };
  }

  it("the new owner's epoch marker fences the old owner: its next write is refused, and nothing of it lands after", async () => {
    const subject = 'fleet.shard.7';
    const { log: old } = await takeOver(jsA, subject, 1);
    await Promise.all([old.append(text('a1')), old.append(text('a2')), old.append(text('a3'))]);
    // Host A is paused past its lease; host B takes the shard over.
    const { log: next, replayed } = await takeOver(jsB, subject, 2);
    expect(replayed).toEqual(['epoch 1', 'a1', 'a2', 'a3']);
    await expect(old.append(text('a4'))).rejects.toBeInstanceOf(FencedError);
    await expect(old.append(text('a5'))).rejects.toBeInstanceOf(FencedError);
    await next.append(text('b1'));
    const { entries: read } = await ShardLog.read({ js: jsB, jsm, stream: 'shards', subject });
    expect(read.map((entry) => decode(entry.data))).toEqual(['epoch 1', 'a1', 'a2', 'a3', 'epoch 2', 'b1']);
    expect(read.map((entry) => entry.seq)).toEqual([...read.map((entry) => entry.seq)].sort((x, y) => x - y));
  });

  it('a takeover that races another writer fails instead of writing under two owners', async () => {
    const subject = 'fleet.shard.8';
    const { log: first } = await takeOver(jsA, subject, 1);
    // Both read the same last sequence; only one marker can follow it.
    const results = await Promise.allSettled([takeOver(jsA, subject, 2), takeOver(jsB, subject, 3)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.any(FencedError)]);
    await expect(first.append(text('late'))).rejects.toBeInstanceOf(FencedError);
  });

  it("a previous owner's write that lands after the new owner's replay read the log fails the takeover, and the next replay has it", async () => {
    const subject = 'fleet.shard.10';
    const { log: old } = await takeOver(jsA, subject, 1);
    await old.append(text('a1'));
    // Host B replays the log; host A's write (retried through a NATS restart, say) lands just after.
    const { entries, last } = await ShardLog.read({ js: jsB, jsm, stream: 'shards', subject });
    expect(entries.map((entry) => decode(entry.data))).toEqual(['epoch 1', 'a1']);
    await old.append(text('a2 (acknowledged to its sender)'));
    await expect(ShardLog.open({ js: jsB, jsm, stream: 'shards', subject, epoch: 2, marker: text('epoch 2'), after: last })).rejects.toBeInstanceOf(FencedError);
    const again = await takeOver(jsB, subject, 2);
    expect(again.replayed).toEqual(['epoch 1', 'a1', 'a2 (acknowledged to its sender)']);
    await expect(old.append(text('a3'))).rejects.toBeInstanceOf(FencedError);
  });

  it('reads nothing from a shard never written', async () => {
    expect(await ShardLog.read({ js: jsA, jsm, stream: 'shards', subject: 'fleet.shard.9' })).toEqual({ entries: [], last: 0 });
  });
});
