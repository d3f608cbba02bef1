/**
 * The worker's entry: piscina runs this as one long-lived task per shard. It lives until the host
 * calls `close()` over the control port; the task's promise then resolves and piscina may end
 * the thread.
 *
 * An error nothing handles (a session's own timer that throws, a promise nobody awaits) still
 * ends the worker, as Node would — but first the session it came from is written to the shared
 * state, so the host can charge that session and restore the others.
 */
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { MessagePort } from 'node:worker_threads';
import {
  CHILD_PROCESS_HOOK,
  type ChildProcessHandlers,
  type ChildProcessHook,
  type ToHost,
  type ToWorker,
} from '../../protocol/child-process-hook.js';
import { REPLY_HOOK, type ReplyHook } from '../../protocol/reply.js';
import { ShardHost, sessionContext } from './shard-host.js';
import { STATE_CULPRIT_KEY, toWireError, type BatchMessage, type ShardApi, type ShardInit, type StopResult } from '../../protocol/wire.js';

export default async function runShard({ machines, dataPort, controlPort, processPort, state, snapshotEvery, busyTag, noRollback, startTimeoutMs, inspect }: ShardInit): Promise<void> {
  const host = new ShardHost({
    machines,
    busyTag,
    noRollback,
    startTimeoutMs,
    state,
    snapshotEvery,
    inspect,
    post: (message, transfer) => dataPort.postMessage(message, transfer),
  });
  recordCulpritOnFatalError(new Int32Array(state));
  limitOutput(process.stdout);
  limitOutput(process.stderr);
  (globalThis as Record<symbol, unknown>)[CHILD_PROCESS_HOOK] = childProcessHook(processPort, host);
  (globalThis as Record<symbol, unknown>)[REPLY_HOOK] = { reply: (system, to, value) => host.reply(system, to, value) } satisfies ReplyHook;
  receiveBatches(dataPort, (batch) => host.handleBatch(batch));

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const api: ShardApi = {
    init: () => host.init(),
    spawn: (requests) => host.spawn(requests),
    warmUp: (rounds) => host.warmUp(rounds),
    // Each stop is answered on its own: one that fails never fails the batch.
    stop: (requests) =>
      requests.map(({ key, timeoutMs, persist }) => {
        let result: StopResult | Promise<StopResult>;
        try {
          result = host.stop(key, timeoutMs, persist);
        } catch (error) {
          return { outcome: 'failed' as const, error: toWireError(error) };
        }
        if (!(result instanceof Promise)) return result;
        // Still shutting down: it answers alone, with a note, when it is down.
        void result
          .catch((error: unknown) => ({ outcome: 'failed' as const, error: toWireError(error) }))
          .then((stopped) => host.stopped(key, stopped));
        return null;
      }),
    snapshot: (key) => host.snapshot(key),
    stats: (collectGarbage) => host.stats(collectGarbage),
    close: async (timeoutMs) => {
      await host.stopAll(timeoutMs);
      // Let comlink post this call's answer before the ports close.
      setImmediate(() => {
        dataPort.close();
        controlPort.close();
        processPort.close();
        finish();
      });
    },
  };
  expose(api, nodeEndpoint(controlPort));
  await finished;
}

/** A worker's stdout/stderr budget: what a session may print per second before it is dropped. */
const OUTPUT_BYTES_PER_SECOND = 256 * 1024;

/**
 * Bounds what the worker's sessions print. A worker's stdout is relayed to the host thread, which
 * buffers it without limit: 200 MB of `console.log` grew a host's RSS by 900 MiB and stalled its
 * event loop for a second. Past the budget, output is dropped here, before it leaves the
 * worker, and one line a second says how much.
 */
function limitOutput(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  let windowStart = 0;
  let written = 0;
  let dropped = 0;
  const report = () => {
    if (dropped > 0) write(`[actorhost] worker output over ${OUTPUT_BYTES_PER_SECOND} bytes/s: ${dropped} bytes dropped\n`);
    dropped = 0;
  };
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const now = performance.now();
    if (now - windowStart >= 1_000) {
      report();
      windowStart = now;
      written = 0;
    }
    const size = typeof chunk === 'string' ? chunk.length : ((chunk as Uint8Array | undefined)?.byteLength ?? 0);
    if (written + size <= OUTPUT_BYTES_PER_SECOND) {
      written += size;
      return write(chunk, ...rest);
    }
    // The first drop of a window says so when the window ends, even if nothing more is printed.
    if (dropped === 0) setTimeout(report, Math.max(0, 1_000 - (now - windowStart))).unref();
    dropped += size;
    // Nothing is written, but the caller's callback still runs, as after a write.
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) queueMicrotask(callback);
    return true;
  }) as typeof stream.write;
}

/**
 * Notes which session an uncaught error or unhandled rejection came from, then lets the error end
 * the worker with its own message (re-thrown with no handler left, so the host sees the cause).
 */
function recordCulpritOnFatalError(state: Int32Array): void {
  const fatal = (error: unknown) => {
    const culprit = sessionContext.getStore();
    if (culprit !== undefined && Atomics.load(state, STATE_CULPRIT_KEY) === 0) {
      Atomics.store(state, STATE_CULPRIT_KEY, culprit);
    }
    process.off('uncaughtException', fatal);
    process.off('unhandledRejection', fatal);
    setImmediate(() => {
      throw error;
    });
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

/** Relays `fromChildProcess` requests to the host, which spawns and owns the processes. */
function childProcessHook(port: MessagePort, host: ShardHost): ChildProcessHook {
  let nextId = 1;
  const handlers = new Map<number, ChildProcessHandlers>();
  const post = (message: ToHost) => port.postMessage(message);
  port.on('message', (message: ToWorker) => {
    const handler = handlers.get(message.id);
    if (!handler) return;
    switch (message.op) {
      case 'spawned':
        handler.spawned(message.pid);
        break;
      case 'failed':
        handlers.delete(message.id);
        handler.failed(message.message);
        break;
      case 'stdout':
      case 'stderr':
        handler.output(message.op, message.data);
        break;
      case 'exit':
        handlers.delete(message.id);
        handler.exit(message.code, message.signal);
        break;
    }
  });
  return {
    spawn(system, spec, handler) {
      const id = nextId++;
      handlers.set(id, handler);
      post({ op: 'spawn', id, key: host.keyOf(system) ?? 0, spec });
      return {
        write: (data) => post({ op: 'write', id, data }),
        kill: () => post({ op: 'kill', id }),
      };
    },
  };
}

/**
 * Batches are processed one per turn of the event loop once they come faster than they are
 * processed. Node hands a port's queued messages to its listener in one go (up to a thousand), and
 * each batch answered makes the host send the next: processed as they came, a busy worker's data
 * port starved its control port, and the watchdog took a worker that was only busy for hung
 * (measured: 200,000 events in one burst, a 700 ms hang timeout, a worker terminated). The first
 * batch after a pause is processed at once: an idle worker adds no delay.
 */
function receiveBatches(port: MessagePort, handle: (batch: ArrayBuffer) => void): void {
  const pending: ArrayBuffer[] = [];
  let busy = false;
  const next = (): void => {
    handle(pending.shift()!);
    // Busy until the loop turns: whatever arrives meanwhile waits behind the control port.
    setImmediate(() => (pending.length > 0 ? next() : (busy = false)));
  };
  port.on('message', (message: BatchMessage) => {
    pending.push(message.batch);
    if (busy) return;
    busy = true;
    next();
  });
}
