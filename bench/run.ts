// `npm run bench`: runs every scenario beside its baselines in one process, prints a table with
// ratios and targets, and writes bench/results/<timestamp>.json.
//
//   npm run bench -- --sessions 10000 --events 1000000 --workers 2
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  actorhostSubject,
  inProcessSubject,
  measure,
  rawWorkersSubject,
  type CoreConfig,
  type CoreResult,
} from './scenarios/core.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    events: { type: 'string', default: '1000000' },
    workers: { type: 'string', default: '2' },
    samples: { type: 'string', default: '500' },
    out: { type: 'string', default: new URL('./results/', import.meta.url).pathname.replace('/dist/bench/', '/bench/') },
  },
});

const config: CoreConfig = {
  sessions: Number(values.sessions),
  events: Number(values.events),
  workers: Number(values.workers),
  chunk: 2_000,
  latencySamples: Number(values.samples),
  warmupEvents: 200_000,
};

if (!(globalThis as { gc?: unknown }).gc) {
  process.stderr.write('note: run with node --expose-gc (npm run bench does) for exact memory figures\n');
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

log(`core scenario: ${config.sessions} sessions, ${config.events} events, ${config.workers} workers`);
log('  [1/3] actorhost …');
const actorhost = await measure(await actorhostSubject(config.workers), config);
log('  [2/3] in-process XState on the main thread …');
const inProcess = await measure(await inProcessSubject(), config);
log('  [3/3] raw worker_threads with batched postMessage …');
const rawWorkers = await measure(await rawWorkersSubject(config.workers), config);

interface Row {
  metric: string;
  key: keyof CoreResult;
  unit: string;
  higherIsBetter: boolean;
  target?: { text: string; met: (value: CoreResult) => boolean };
}

const rows: Row[] = [
  {
    metric: 'trivial events/s',
    key: 'eventsPerSec',
    unit: '/s',
    higherIsBetter: true,
    target: {
      text: '≥ 1.5× (a), ≥ 0.8× (b)',
      met: (r) => r.eventsPerSec >= 1.5 * inProcess.eventsPerSec && r.eventsPerSec >= 0.8 * rawWorkers.eventsPerSec,
    },
  },
  {
    metric: 'send→snapshot p50 at 10% load',
    key: 'latencyP50Us',
    unit: 'µs',
    higherIsBetter: false,
    target: { text: '≤ 100 µs', met: (r) => r.latencyP50Us <= 100 },
  },
  { metric: 'send→snapshot p99 at 10% load', key: 'latencyP99Us', unit: 'µs', higherIsBetter: false },
  {
    metric: 'host event-loop delay p99 at peak',
    key: 'loopDelayP99Ms',
    unit: 'ms',
    higherIsBetter: false,
    target: { text: '≤ 10 ms', met: (r) => r.loopDelayP99Ms <= 10 },
  },
  {
    metric: 'memory per idle session (host + workers)',
    key: 'bytesPerIdleSession',
    unit: 'B',
    higherIsBetter: false,
    target: { text: '≤ 6 KB', met: (r) => r.bytesPerIdleSession <= 6 * 1024 },
  },
  { metric: 'spawn rate, cold (fresh threads)', key: 'coldSpawnPerSec', unit: '/s', higherIsBetter: true },
  {
    metric: 'spawn rate, warm',
    key: 'spawnPerSec',
    unit: '/s',
    higherIsBetter: true,
    target: { text: '≥ 50,000/s', met: (r) => r.spawnPerSec >= 50_000 },
  },
];

const format = (value: number) =>
  value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 2);
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');

const header = ['metric', 'actorhost', '(a) in-process', '(b) raw workers', 'vs (a)', 'vs (b)', 'target', 'met'];
const table = rows.map((row) => [
  row.metric,
  `${format(actorhost[row.key])} ${row.unit}`,
  `${format(inProcess[row.key])} ${row.unit}`,
  `${format(rawWorkers[row.key])} ${row.unit}`,
  ratio(actorhost[row.key], inProcess[row.key]),
  ratio(actorhost[row.key], rawWorkers[row.key]),
  row.target?.text ?? '',
  row.target ? (row.target.met(actorhost) ? 'yes' : 'NO') : '',
]);
const markdown = [
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...table.map((cells) => `| ${cells.join(' | ')} |`),
].join('\n');

process.stdout.write(
  `\nactorhost core benchmark — ${config.sessions} sessions, ${config.events} events, ${config.workers} workers, ` +
    `node ${process.version}\n` +
    `latency measured under 10% of each subject's peak: actorhost ${format(actorhost.latencyLoadEventsPerSec)}/s, ` +
    `(a) ${format(inProcess.latencyLoadEventsPerSec)}/s, (b) ${format(rawWorkers.latencyLoadEventsPerSec)}/s\n\n` +
    `${markdown}\n`,
);

mkdirSync(values.out, { recursive: true });
const file = `${values.out}${new Date().toISOString().replaceAll(':', '-')}.json`;
const report = {
  at: new Date().toISOString(),
  node: process.version,
  config,
  results: { actorhost, inProcess, rawWorkers },
  targets: Object.fromEntries(rows.filter((row) => row.target).map((row) => [row.key, row.target!.met(actorhost)])),
};
writeFileSync(file, JSON.stringify(report, null, 2));
writeFileSync(`${values.out}latest.json`, JSON.stringify(report, null, 2));
process.stdout.write(`\nwritten: ${file}\n`);
