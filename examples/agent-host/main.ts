// The example host that `npm start` runs: a runtime on 2 workers, 1,000 agent sessions, turns
// driven at a steady rate, one status line per second. Ctrl-C shuts everything down.
//
//   npm start -- --sessions 1000 --rate 500 [--duration 10] [--store ./.actorhost | memory]
//
// Sessions live in the embedded LMDB store: stop the host and start it again, and the sessions
// it had are resumed (lazily, on their next turn) instead of spawned anew.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createRuntime, MailboxFullError, UnknownSessionError } from '../../src/index.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '500' },
    workers: { type: 'string', default: '2' },
    duration: { type: 'string' },
    store: { type: 'string', default: './.actorhost' },
    'inspector-port': { type: 'string', default: '4600' },
  },
});
const sessions = Number(values.sessions);
const turnsPerSecond = Number(values.rate);

const logger = pino({ level: 'warn' });
const runtime = await createRuntime({
  machines: { agent: new URL('./agent.machine.js', import.meta.url) },
  workers: Number(values.workers),
  pools: { conversation: { capacity: sessions * 2, recencyFloorMs: 30_000 } },
  store: values.store === 'memory' ? 'memory' : { path: values.store },
  logger,
});

const out = (line: string) => process.stdout.write(line);
const started = performance.now();
const ids = Array.from({ length: sessions }, (_, i) => `conv-${i}`);
// Sessions the store already holds (from an earlier run) resume on their next turn.
const fresh = ids.filter((id) => runtime.peek(id) === undefined);
for (let done = 0; done < fresh.length; done += 100) {
  await Promise.all(fresh.slice(done, done + 100).map((id) => runtime.spawn('agent', { id, pool: 'conversation' })));
  if (process.stdout.isTTY) out(`\rspawning sessions: ${Math.min(done + 100, fresh.length)}/${fresh.length}`);
}
const inspector = await runtime.serveInspector({ port: Number(values['inspector-port']) });
out(`inspector: ${inspector.url}\n`);
out(`\rspawned ${fresh.length} sessions in ${Math.round(performance.now() - started)} ms; ${sessions - fresh.length} resumed from the store\n`);

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
let lastAccepted = 0;
const status = setInterval(() => {
  const stats = runtime.stats();
  const perShard = stats.shards.map((shard) => `shard ${shard.shard}: ${shard.sessions}`).join(', ');
  const eventsPerSec = stats.eventsAccepted - lastAccepted;
  lastAccepted = stats.eventsAccepted;
  const line =
    `sessions ${stats.sessions} (${perShard}) | stored ${stats.evicted} | events/s ${eventsPerSec} | mailboxed ${stats.mailboxed}` +
    ` | refused ${refused} | crashed ${stats.crashed} | loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms`;
  out(process.stdout.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
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
  await runtime.shutdown();
  out(`shut down in ${Math.round(performance.now() - shutdownStarted)} ms\n`);
}

process.once('SIGINT', () => void stop('Ctrl-C'));
process.once('SIGTERM', () => void stop('SIGTERM'));
if (values.duration) setTimeout(() => void stop(`ran ${values.duration} s`), Number(values.duration) * 1000);
