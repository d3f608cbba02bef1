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
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { serveApi } from './http-api.js';

const USAGE = `usage: npm start -- [options]

  --sessions N         agent sessions to spawn (default 1000)
  --rate N             turns a second the load driver starts, over all sessions (default 500; 0: none)
  --workers N          worker threads (default 2)
  --duration S         run S seconds, then shut down (default: until Ctrl-C)
  --store PATH         the embedded store's directory, or "memory" (default ./.actorhost)
  --inspector-port N   the inspector's port on 127.0.0.1 (default 4600; 0: any free port)
  --api-port N         the HTTP API's port on 127.0.0.1 (default 4700; 0: any free port)
  --max-sessions N     sessions the API lets exist at most (default: twice --sessions)
  --help               this text

Started again on the same store, it resumes the sessions of its previous run.
`;
const out = (line: string) => process.stdout.write(line);

/** A bad command line: the message, the usage, exit code 2 — never a stack trace. */
function usageError(message: string): never {
  process.stderr.write(`agent-host: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      sessions: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '500' },
      workers: { type: 'string', default: '2' },
      duration: { type: 'string' },
      store: { type: 'string', default: './.actorhost' },
      'inspector-port': { type: 'string', default: '4600' },
      'api-port': { type: 'string', default: '4700' },
      'max-sessions': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  usageError((error as Error).message);
}
const { values } = parsed;
if (values.help) {
  out(USAGE);
  process.exit(0);
}

/** A flag's value as a number within its rule, or a usage error naming the flag. */
function numberFlag(flag: string, value: string | undefined, rule: { min: number; integer?: boolean; max?: number }): number {
  const number = Number(value);
  const ok = value !== undefined && value.trim() !== '' && Number.isFinite(number) && number >= rule.min && number <= (rule.max ?? Infinity) && (!rule.integer || Number.isInteger(number));
  if (!ok) usageError(`--${flag} must be ${rule.integer ? 'an integer' : 'a number'} of at least ${rule.min}${rule.max === undefined ? '' : ` and at most ${rule.max}`} (got ${JSON.stringify(value)})`);
  return number;
}
const sessions = numberFlag('sessions', values.sessions, { min: 1, integer: true });
const turnsPerSecond = numberFlag('rate', values.rate, { min: 0 });
const workers = numberFlag('workers', values.workers, { min: 1, integer: true, max: 64 });
const duration = values.duration === undefined ? undefined : numberFlag('duration', values.duration, { min: 0 });
const inspectorPort = numberFlag('inspector-port', values['inspector-port'], { min: 0, integer: true, max: 65_535 });
const apiPort = numberFlag('api-port', values['api-port'], { min: 0, integer: true, max: 65_535 });
const maxSessions = values['max-sessions'] === undefined ? sessions * 2 : numberFlag('max-sessions', values['max-sessions'], { min: 1, integer: true });
const tty = process.stdout.isTTY;

const logger = pino({ level: 'warn' });
// Metrics for Prometheus at GET /metrics on the API (the exporter serves no port of its own).
const prometheus = new PrometheusExporter({ preventServerStart: true });
const meterProvider = new MeterProvider({ readers: [prometheus] });
let turnsReported = 0;
const ipc = await createIpcServer({ logger, methods: { turnDone: () => void turnsReported++ } });
const runtime = await createRuntime({
  machines: { agent: new URL('./agent.machine.js', import.meta.url) },
  workers,
  pools: { conversation: { capacity: sessions * 2, recencyFloorMs: 30_000 } },
  store: values.store === 'memory' ? 'memory' : { path: values.store },
  ipcServer: ipc,
  meterProvider,
  logger,
});
/** A port already taken: a clear message, everything started so far shut down, exit code 1. */
async function listening<T>(flag: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    process.stderr.write(`agent-host: port ${port} is in use (--${flag}); pick another, or 0 for any free port\n`);
    await runtime.shutdown();
    await ipc.close();
    process.exit(1);
  }
}
const inspector = await listening('inspector-port', inspectorPort, () => runtime.serveInspector({ port: inspectorPort }));
const api = await listening('api-port', apiPort, () => serveApi(runtime, ipc, { port: apiPort, pool: 'conversation', maxSessions, logger, metrics: (request, response) => prometheus.getMetricsRequestHandler(request, response) }));
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
    `sessions ${stats.sessions} (${perShard}) | evicted ${stats.evicted} | events/s ${stats.eventsAccepted - lastAccepted}` +
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
  await meterProvider.shutdown();
  out(`shut down in ${Math.round(performance.now() - shutdownStarted)} ms\n`);
}

process.once('SIGINT', () => void stop('Ctrl-C'));
process.once('SIGTERM', () => void stop('SIGTERM'));
if (duration !== undefined) setTimeout(() => void stop(`ran ${values.duration} s`), duration * 1000);
