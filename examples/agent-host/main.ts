// The example agent host that `npm start` runs: agent sessions, each owning a model subprocess
// and an authenticated link back to the host, on 2 workers, in the embedded store; an HTTP API and
// the inspector; a load driver and one status line a second. Ctrl-C shuts everything down.
//
//   npm start -- --sessions 1000 --rate 500 [--duration 10] [--store ./.actorhost | memory]
//               [--api-port 4700] [--inspector-port 4600] [--max-sessions 2000]
//
// Stop the host and start it again: the sessions it had are resumed from the store, paced like
// fresh spawns; each gets its model started again and a fresh IPC token from the runtime.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createIpcServer, createRuntime, MailboxFullError, UnknownSessionError } from '../../src/index.js';
import { serveApi } from './http-api.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '500' },
    workers: { type: 'string', default: '2' },
    duration: { type: 'string' },
    store: { type: 'string', default: './.actorhost' },
    'inspector-port': { type: 'string', default: '4600' },
    'api-port': { type: 'string', default: '4700' },
    'max-sessions': { type: 'string' },
  },
});
const sessions = Number(values.sessions);
const turnsPerSecond = Number(values.rate);
const out = (line: string) => process.stdout.write(line);
const tty = process.stdout.isTTY;

const logger = pino({ level: 'warn' });
let turnsReported = 0;
const ipc = await createIpcServer({ logger, methods: { turnDone: () => void turnsReported++ } });
const runtime = await createRuntime({
  machines: { agent: new URL('./agent.machine.js', import.meta.url) },
  workers: Number(values.workers),
  pools: { conversation: { capacity: sessions * 2, recencyFloorMs: 30_000 } },
  store: values.store === 'memory' ? 'memory' : { path: values.store },
  ipcServer: ipc,
  logger,
});
const inspector = await runtime.serveInspector({ port: Number(values['inspector-port']) });
const maxSessions = Number(values['max-sessions'] ?? sessions * 2);
const api = await serveApi(runtime, ipc, { port: Number(values['api-port']), pool: 'conversation', maxSessions, logger });
out(`inspector: ${inspector.url}\napi:       ${api.url}/sessions  (authorization: Bearer ${api.token})\n`);

const started = performance.now();
const ids = Array.from({ length: sessions }, (_, i) => `conv-${i}`);
const link = (id: string) => ({ address: ipc.address, token: ipc.issueToken(id) });
// Sessions the store already holds (from an earlier run) are resumed, a hundred at a time like
// fresh spawns: reading one reactivates it (its model starts again, the runtime relinks it).
const fresh = ids.filter((id) => runtime.peek(id) === undefined);
const resumed = ids.filter((id) => runtime.peek(id) !== undefined);
const bar = (done: number, all: number) => `[${'#'.repeat(Math.round((30 * done) / all)).padEnd(30, '.')}] ${done}/${all}`;
for (let done = 0; done < resumed.length; done += 100) {
  await Promise.all(resumed.slice(done, done + 100).map((id) => runtime.getSnapshot(id).catch(() => {})));
  if (tty) out(`\rresuming sessions ${bar(Math.min(done + 100, resumed.length), resumed.length)}`);
}
for (let done = 0; done < fresh.length; done += 100) {
  await Promise.all(fresh.slice(done, done + 100).map((id) => runtime.spawn('agent', { id, pool: 'conversation', input: { ipc: link(id) } })));
  if (tty) out(`\rspawning sessions ${bar(Math.min(done + 100, fresh.length), fresh.length)}`);
}
out(`${tty ? '\r' : ''}spawned ${fresh.length} sessions in ${Math.round(performance.now() - started)} ms; ${resumed.length} resumed from the store\n`);

// Turns: a steady rate, round robin over the sessions.
let next = 0;
let refused = 0;
const driver = setInterval(() => {
  for (let i = 0; i < turnsPerSecond / 10; i++) {
    const id = ids[next++ % sessions]!;
    runtime.send(id, { type: 'USER_MESSAGE', text: `hello ${next}` }).catch((error: unknown) => {
      if (error instanceof MailboxFullError || error instanceof UnknownSessionError) refused++;
      else throw error;
    });
  }
}, 100);

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
/** Model subprocesses running, over every session. */
const models = () => runtime.list().reduce((count, info) => count + info.pids.length, 0);
let lastAccepted = 0;
let lastReported = 0;
const status = setInterval(() => {
  const stats = runtime.stats();
  const perShard = stats.shards.map((shard) => `shard ${shard.shard}: ${shard.sessions}`).join(', ');
  const line =
    `sessions ${stats.sessions} (${perShard}) | stored ${stats.evicted} | events/s ${stats.eventsAccepted - lastAccepted}` +
    ` | turns/s ${turnsReported - lastReported} | ipc links ${ipc.connections()} | models ${models()} | refused ${refused} | restarts ${stats.restarts}` +
    ` | crashed ${stats.crashed} | loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms`;
  lastAccepted = stats.eventsAccepted;
  lastReported = turnsReported;
  out(tty ? `\r${line}\x1b[K` : `${line}\n`);
  loopDelay.reset();
}, 1_000);

let stopping = false;
async function stop(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(driver);
  clearInterval(status);
  loopDelay.disable();
  out(`\n${reason}: shutting down ${runtime.stats().sessions} sessions …\n`);
  const shutdownStarted = performance.now();
  await api.close();
  await runtime.shutdown();
  await ipc.close();
  out(`shut down in ${Math.round(performance.now() - shutdownStarted)} ms\n`);
}

process.once('SIGINT', () => void stop('Ctrl-C'));
process.once('SIGTERM', () => void stop('SIGTERM'));
if (values.duration) setTimeout(() => void stop(`ran ${values.duration} s`), Number(values.duration) * 1000);
