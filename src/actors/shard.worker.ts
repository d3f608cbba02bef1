/**
 * The worker's entry: piscina runs this as one long-lived task per shard. It lives until the host
 * calls `close()` over the control port; the task's promise then resolves and piscina may end
 * the thread.
 */
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { ShardHost } from './shard-host.js';
import type { BatchMessage, ShardApi, ShardInit } from './wire.js';

export default async function runShard({ machines, dataPort, controlPort }: ShardInit): Promise<void> {
  const host = new ShardHost(machines, (message, transfer) => dataPort.postMessage(message, transfer));
  dataPort.on('message', (message: BatchMessage) => host.handleBatch(message.batch));

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const api: ShardApi = {
    init: () => host.init(),
    spawn: (requests) => host.spawn(requests),
    stop: (requests) => Promise.all(requests.map(({ key, timeoutMs }) => host.stop(key, timeoutMs))),
    snapshot: (key) => host.snapshot(key),
    ping: () => Date.now(),
    stats: (collectGarbage) => host.stats(collectGarbage),
    close: async (timeoutMs) => {
      await host.stopAll(timeoutMs);
      // Let comlink post this call's answer before the ports close.
      setImmediate(() => {
        dataPort.close();
        controlPort.close();
        finish();
      });
    },
  };
  expose(api, nodeEndpoint(controlPort));
  await finished;
}
