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

  it("the new owner's epoch marker fences the old owner: its next write is refused, and nothing of it lands after", async () => {
    const subject = 'fleet.shard.7';
    const old = await ShardLog.open({ js: jsA, jsm, stream: 'shards', subject, epoch: 1, marker: text('epoch 1') });
    await Promise.all([old.append(text('a1')), old.append(text('a2')), old.append(text('a3'))]);
    // Host A is paused past its lease; host B takes the shard over.
    const next = await ShardLog.open({ js: jsB, jsm, stream: 'shards', subject, epoch: 2, marker: text('epoch 2') });
    await expect(old.append(text('a4'))).rejects.toBeInstanceOf(FencedError);
    await expect(old.append(text('a5'))).rejects.toBeInstanceOf(FencedError);
    await next.append(text('b1'));
    const read = await ShardLog.read({ js: jsB, jsm, stream: 'shards', subject });
    expect(read.map((entry) => decode(entry.data))).toEqual(['epoch 1', 'a1', 'a2', 'a3', 'epoch 2', 'b1']);
    expect(read.map((entry) => entry.seq)).toEqual([...read.map((entry) => entry.seq)].sort((x, y) => x - y));
  });

  it('a takeover that races another writer fails instead of writing under two owners', async () => {
    const subject = 'fleet.shard.8';
    const first = await ShardLog.open({ js: jsA, jsm, stream: 'shards', subject, epoch: 1, marker: text('epoch 1') });
    // Both read the same last sequence; only one marker can follow it.
    const results = await Promise.allSettled([
      ShardLog.open({ js: jsA, jsm, stream: 'shards', subject, epoch: 2, marker: text('epoch 2') }),
      ShardLog.open({ js: jsB, jsm, stream: 'shards', subject, epoch: 3, marker: text('epoch 3') }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.any(FencedError)]);
    await expect(first.append(text('late'))).rejects.toBeInstanceOf(FencedError);
  });

  it('reads nothing from a shard never written', async () => {
    expect(await ShardLog.read({ js: jsA, jsm, stream: 'shards', subject: 'fleet.shard.9' })).toEqual([]);
  });
});
