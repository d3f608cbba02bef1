// The core scenario: N idle sessions, then M trivial events, measured the same way on
// actorhost and on its two baselines in the same run.
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createActor, type AnyActorRef, type AnyStateMachine } from 'xstate';
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/index.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectGarbage, drive, driveAtRate, percentile, until, withLoopDelay } from '../measure.js';

export interface CoreConfig {
  sessions: number;
  events: number;
  workers: number;
  /** Sends per turn of the event loop while driving load. */
  chunk: number;
  latencySamples: number;
  /** Events of the warm-up round (over `sessions` sessions) every subject gets first. */
  warmupEvents: number;
}

export interface CoreResult {
  /** The first `sessions` spawns on fresh threads: cold code, a heap still growing. */
  coldSpawnPerSec: number;
  spawnPerSec: number;
  bytesPerIdleSession: number;
  eventsPerSec: number;
  loopDelayP99Ms: number;
  latencyP50Us: number;
  latencyP99Us: number;
  /** The background load the latency was measured under (10% of this subject's peak). */
  latencyLoadEventsPerSec: number;
  /** For the report's charts: every latency sample (µs), and 100 ms samples of the throughput phase. */
  latencySamplesUs: number[];
  series: Array<{ ms: number; eventsPerSec: number; loopDelayMaxMs: number }>;
}

/** What each subject must offer the measuring code. */
export interface Subject {
  /** Adds `count` sessions; they are numbered on from the last, starting at 0 after `stopAll`. */
  spawnAll(count: number): Promise<void>;
  stopAll(): Promise<void>;
  memory(): Promise<number>;
  /** Sends `event` (default: the trivial `{ type: 'INC' }`) to session `index`. */
  send(index: number, event?: SessionEvent): void;
  /** Sends `event` as an ask: resolves with the machine's `reply`. */
  ask(index: number, event: SessionEvent): Promise<unknown>;
  settled(): boolean;
  /** Events processed so far (for the throughput-over-time chart). */
  processed(): number;
  /** Subscribes to session `index`; `onChange` runs on each of its snapshots. */
  watch(index: number, onChange: () => void): void;
  close(): Promise<void>;
}

const MACHINE_URL = new URL('../machines/counter.machine.js', import.meta.url);
type SessionEvent = { type: string } & Record<string, unknown>;
/** `reply` answers through this hook (protocol/reply.ts); the baselines install their own. */
const REPLY_HOOK = Symbol.for('actorhost.replyHook');
const ASK_PREFIX = 'actorhost.ask:';
/** Throughput and loop delay are sampled this often (a phase lasts a few seconds: enough points). */
const SAMPLE_MS = 25;
const INC = { type: 'INC' } as const;

export async function measure(subject: Subject, config: CoreConfig): Promise<CoreResult> {
  // Warm-up at full size, then everything stopped: every subject is then measured on optimized
  // code and a grown heap (a fresh worker spawned ~2.5× slower than a warm one, measured).
  const { sessions } = config;
  const coldStarted = performance.now();
  await subject.spawnAll(sessions);
  const coldSpawnMs = performance.now() - coldStarted;
  await drive(config.warmupEvents, config.chunk, (i) => subject.send(i % sessions));
  await until(() => subject.settled());
  await subject.stopAll();

  const before = await subject.memory();
  const spawnStarted = performance.now();
  // One extra session is the latency probe; it takes no background load.
  await subject.spawnAll(sessions + 1);
  const spawnMs = performance.now() - spawnStarted;
  const after = await subject.memory();

  const throughputStarted = performance.now();
  const series: CoreResult['series'] = [];
  const window = monitorEventLoopDelay({ resolution: 1 });
  window.enable();
  let lastProcessed = subject.processed();
  const sampler = setInterval(() => {
    const processed = subject.processed();
    series.push({ ms: performance.now() - throughputStarted, eventsPerSec: (processed - lastProcessed) * (1000 / SAMPLE_MS), loopDelayMaxMs: window.max / 1e6 });
    lastProcessed = processed;
    window.reset();
  }, SAMPLE_MS);
  const { loopDelayP99Ms } = await withLoopDelay(async () => {
    await drive(config.events, config.chunk, (i) => subject.send(i % sessions));
    await until(() => subject.settled());
  });
  clearInterval(sampler);
  window.disable();
  const eventsPerSec = config.events / ((performance.now() - throughputStarted) / 1000);

  const latencyLoadEventsPerSec = Math.round(eventsPerSec / 10);
  const samples: number[] = [];
  let sentAt = 0;
  let answered: (() => void) | undefined;
  const probeIndex = sessions;
  subject.watch(probeIndex, () => {
    samples.push((performance.now() - sentAt) * 1000);
    answered?.();
  });
  const probe = (async () => {
    for (let i = 0; i < config.latencySamples; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const seen = new Promise<void>((resolve) => (answered = resolve));
      sentAt = performance.now();
      subject.send(probeIndex);
      await seen;
    }
  })();
  let background = true;
  const load = (async () => {
    while (background) await driveAtRate(latencyLoadEventsPerSec, 200, (i) => subject.send(i % sessions));
  })();
  await probe;
  background = false;
  await load;
  await until(() => subject.settled());
  samples.sort((a, b) => a - b);

  await subject.close();
  return {
    coldSpawnPerSec: sessions / (coldSpawnMs / 1000),
    spawnPerSec: (sessions + 1) / (spawnMs / 1000),
    bytesPerIdleSession: (after - before) / (sessions + 1),
    eventsPerSec,
    loopDelayP99Ms,
    latencyP50Us: percentile(samples, 50),
    latencyP99Us: percentile(samples, 99),
    latencyLoadEventsPerSec,
    latencySamplesUs: samples,
    series,
  };
}

/** actorhost itself. */
/**
 * actorhost itself: on the memory store without a journal (the throughput of the runtime alone), or
 * with `storePath`, on its default configuration — LMDB, `durability: 'journal'`.
 */
export async function actorhostSubject(workers: number, storePath?: string, machine = MACHINE_URL): Promise<Subject> {
  const runtime: Runtime = await createRuntime({
    machines: { counter: machine },
    workers,
    logger: pino({ level: 'warn' }),
    ...(storePath ? { store: { path: storePath }, durability: 'journal' as const } : { store: 'memory' as const, durability: 'none' as const }),
    // Sending as fast as the host can, 1,000,000 events over 1,000 sessions: room for them all.
    mailbox: { capacity: 100_000 },
    // The raw workers' heaps are Node's default size; the default 1 GB per worker would start
    // passivating at 300,000 sessions (its high mark, 768 MB, measured).
    resourceLimits: { maxYoungGenerationSizeMb: 64, maxOldGenerationSizeMb: 4_096 },
  });
  let ids: string[] = [];
  let generation = 0;
  return {
    async spawnAll(count) {
      const added = Array.from({ length: count }, (_, i) => `g${generation}-${ids.length + i}`);
      for (const id of added) ids.push(id);
      await Promise.all(added.map((id) => runtime.spawn('counter', { id })));
    },
    async stopAll() {
      await Promise.all(ids.map((id) => runtime.stop(id)));
      ids = [];
      generation++;
    },
    memory: async () => (await runtime.measureMemory({ collectGarbage: true })).total,
    send: (index, event = INC) => void runtime.send(ids[index]!, event),
    ask: (index, event) => runtime.ask(ids[index]!, event),
    settled: () => runtime.stats().mailboxed === 0,
    processed: () => {
      const stats = runtime.stats();
      return stats.eventsAccepted - stats.mailboxed;
    },
    watch: (index, onChange) => void runtime.subscribe(ids[index]!, onChange),
    close: async () => {
      await runtime.shutdown();
      if (storePath) rmSync(storePath, { recursive: true, force: true });
    },
  };
}

/** Baseline (a): the same machine run in-process on the main thread. */
export async function inProcessSubject(url = MACHINE_URL): Promise<Subject> {
  const machine = ((await import(url.href)) as { default: AnyStateMachine }).default;
  let actors: AnyActorRef[] = [];
  let sent = 0;
  let asked = 0;
  let answer: unknown;
  (globalThis as Record<symbol, unknown>)[REPLY_HOOK] = { reply: (_system: object, _to: string, value: unknown) => (answer = value) };
  const stopAll = async () => {
    for (const actor of actors) actor.stop();
    actors = [];
  };
  return {
    async spawnAll(count) {
      for (let i = 0; i < count; i++) actors.push(createActor(machine).start());
    },
    stopAll,
    async memory() {
      collectGarbage();
      return process.memoryUsage().heapUsed;
    },
    send: (index, event = INC) => {
      actors[index]!.send(event);
      sent++;
    },
    ask: async (index, event) => {
      answer = undefined;
      actors[index]!.send({ ...event, replyTo: `${ASK_PREFIX}${asked++}` });
      sent++;
      return answer;
    },
    settled: () => true,
    processed: () => sent,
    watch: (index, onChange) => void actors[index]!.subscribe(onChange),
    close: async () => {
      await stopAll();
      delete (globalThis as Record<symbol, unknown>)[REPLY_HOOK];
    },
  };
}

/** Baseline (b): plain XState actors in raw worker_threads fed batched postMessage. */
export async function rawWorkersSubject(workers: number, url = MACHINE_URL): Promise<Subject> {
  const threads = Array.from({ length: workers }, () => new Worker(new URL('../raw.worker.js', import.meta.url)));
  const batches: unknown[][] = threads.map(() => []);
  let spawned = 0;
  let unacked = 0;
  let flushScheduled = false;
  let processed = 0;
  const batchSizes: number[] = [];
  let watcher: (() => void) | undefined;
  let asked = 0;
  const answers = new Map<string, (value: unknown) => void>();
  const waiters = new Map<string, Array<(value: { heapUsed?: number }) => void>>();
  for (const thread of threads) {
    thread.on('message', (message: { kind: string; heapUsed?: number; replies?: unknown[] }) => {
      if (message.kind === 'ack') {
        unacked--;
        processed += batchSizes.shift() ?? 0;
        const replies = message.replies ?? [];
        for (let i = 0; i < replies.length; i += 2) {
          answers.get(replies[i] as string)?.(replies[i + 1]);
          answers.delete(replies[i] as string);
        }
      }
      else if (message.kind === 'snapshot') watcher?.();
      else waiters.get(message.kind)?.shift()?.(message);
    });
  }
  const request = (thread: Worker, message: object, reply: string) =>
    new Promise<{ heapUsed?: number }>((resolve) => {
      (waiters.get(reply) ?? waiters.set(reply, []).get(reply)!).push(resolve);
      thread.postMessage(message);
    });
  await Promise.all(threads.map((thread) => request(thread, { kind: 'load', url: url.href }, 'loaded')));
  const flush = () => {
    flushScheduled = false;
    batches.forEach((items, shard) => {
      if (items.length === 0) return;
      threads[shard]!.postMessage({ kind: 'batch', items });
      batches[shard] = [];
      unacked++;
      batchSizes.push(items.length / 2);
    });
  };
  const send = (index: number, event: SessionEvent = INC) => {
    batches[index % workers]!.push(Math.floor(index / workers), event);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  return {
    async spawnAll(count) {
      // Session i lives on thread i % workers at index ⌊i / workers⌋.
      const end = spawned + count;
      await Promise.all(
        threads.map((thread, shard) => {
          const onThread = (n: number) => Math.ceil((n - shard) / workers);
          return request(thread, { kind: 'spawn', count: onThread(end) - onThread(spawned) }, 'spawned');
        }),
      );
      spawned = end;
    },
    async stopAll() {
      await Promise.all(threads.map((thread) => request(thread, { kind: 'clear' }, 'cleared')));
      spawned = 0;
    },
    async memory() {
      collectGarbage();
      const heaps = await Promise.all(threads.map((thread) => request(thread, { kind: 'memory' }, 'memory')));
      return heaps.reduce((sum, reply) => sum + (reply.heapUsed ?? 0), 0);
    },
    send,
    ask(index, event) {
      const replyTo = `${ASK_PREFIX}${asked++}`;
      const answer = new Promise<unknown>((resolve) => answers.set(replyTo, resolve));
      send(index, { ...event, replyTo });
      return answer;
    },
    settled: () => unacked === 0 && !flushScheduled,
    processed: () => processed,
    watch(index, onChange) {
      watcher = onChange;
      threads[index % workers]!.postMessage({ kind: 'watch', index: Math.floor(index / workers) });
    },
    async close() {
      await Promise.all(threads.map((thread) => thread.terminate()));
    },
  };
}
