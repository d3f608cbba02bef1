// `npm run bench`: runs every scenario beside its baselines in one process, prints a table with
// ratios and targets, and writes bench/results/<timestamp>.json.
//
//   npm run bench -- --sessions 10000 --events 1000000 --workers 2 [--only core|supervision|ipc|inspection]
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { inspectionCost, inspectorPageCost } from './scenarios/inspection.js';
import { ipcThroughput } from './scenarios/ipc.js';
import { evictionChurn, journalCost, lruTouchCost, recoveryTime } from './scenarios/supervision.js';
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
    only: { type: 'string' },
    'recovery-sessions': { type: 'string', default: '1000,10000' },
    'churn-capacity': { type: 'string', default: '1000' },
    'churn-accesses': { type: 'string', default: '50000' },
    'journal-events': { type: 'string', default: '200000' },
    'lru-sessions': { type: 'string', default: '100000' },
    'ipc-requests': { type: 'string', default: '200000' },
    'inspect-events': { type: 'string', default: '200000' },
    'page-sessions': { type: 'string', default: '100000' },
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

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 2);
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : '—';
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function runCore() {
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
  const markdown = toMarkdown(header, table);

  process.stdout.write(
    `\nactorhost core benchmark — ${config.sessions} sessions, ${config.events} events, ${config.workers} workers, ` +
      `node ${process.version}\n` +
      `latency measured under 10% of each subject's peak: actorhost ${format(actorhost.latencyLoadEventsPerSec)}/s, ` +
      `(a) ${format(inProcess.latencyLoadEventsPerSec)}/s, (b) ${format(rawWorkers.latencyLoadEventsPerSec)}/s\n\n` +
      `${markdown}\n`,
  );
  return { config, results: { actorhost, inProcess, rawWorkers }, targets: Object.fromEntries(rows.filter((row) => row.target).map((row) => [row.key, row.target!.met(actorhost)])) };
}

async function runSupervision() {
  log('supervision scenarios: recovery, eviction churn, LRU bookkeeping, journal cost');
  const recovery = [];
  for (const sessions of values['recovery-sessions'].split(',').map(Number)) {
    log(`  recovery with ${sessions} sessions on a shard …`);
    recovery.push(await recoveryTime(sessions));
  }
  log('  eviction churn (zipfian over 10× capacity) …');
  const churn = await evictionChurn(Number(values['churn-capacity']), Number(values['churn-accesses']));
  const lruSessions = Number(values['lru-sessions']);
  log(`  LRU touch cost at ${lruSessions} sessions …`);
  const lru = lruTouchCost(lruSessions, 1_000_000);
  log("  journal cost: 'journal' vs 'none' on LMDB …");
  const journalEvents = Number(values['journal-events']);
  const none = await journalCost('none', 2_000, journalEvents);
  const journal = await journalCost('journal', 2_000, journalEvents);

  const lines: string[][] = [
    ...recovery.map((r) => [
      `recovery, ${r.sessions.toLocaleString('en-US')} sessions on the shard`,
      `${format(r.ms)} ms (${format(r.msPer1000)} ms per 1,000)`,
      '',
      '',
      '≤ 150 ms per 1,000',
      r.msPer1000 <= 150 ? 'yes' : 'NO',
    ]),
    [
      `eviction churn, zipf s=1 over ${churn.keys.toLocaleString('en-US')} ids, capacity ${churn.capacity.toLocaleString('en-US')}`,
      `${format(churn.evictionsPerSec)} evictions/s, hit ratio ${(churn.hitRatio * 100).toFixed(1)}%, ${churn.refused} refused`,
      '',
      '',
      '',
      '',
    ],
    [
      `LRU bookkeeping per event, ${lruSessions.toLocaleString('en-US')} sessions`,
      `${format(lru.listNs)} ns (intrusive list)`,
      `${format(lru.mapNs)} ns (Map re-insert)`,
      ratio(lru.listNs, lru.mapNs),
      '≤ 1 µs',
      lru.listNs <= 1_000 ? 'yes' : 'NO',
    ],
    [
      "events/s, 'journal' vs 'none' (LMDB)",
      `${format(journal)} /s`,
      `${format(none)} /s`,
      ratio(journal, none),
      '≥ 0.5×',
      journal >= 0.5 * none ? 'yes' : 'NO',
    ],
  ];
  const header = ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'];
  process.stdout.write(`\nactorhost supervision benchmark\n\n${toMarkdown(header, lines)}\n`);
  return {
    recovery,
    churn,
    lru,
    journal: { journalEventsPerSec: journal, noneEventsPerSec: none },
    targets: {
      recoveryMsPer1000: recovery.every((r) => r.msPer1000 <= 150),
      lruTouchNs: lru.listNs <= 1_000,
      journalRatio: journal >= 0.5 * none,
    },
  };
}

function toMarkdown(header: string[], lines: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...lines.map((cells) => `| ${cells.join(' | ')} |`)].join('\n');
}

async function runIpc() {
  log('IPC scenario: JSON-RPC over one authenticated Unix-socket connection, beside a raw net echo');
  const requests = Number(values['ipc-requests']);
  const { actorhost, rawEcho } = await ipcThroughput(requests);
  const header = ['metric', 'actorhost', 'raw net echo', 'ratio', 'target', 'met'];
  const lines = [
    [
      'requests/s, pipelined (256 in flight)',
      `${format(actorhost.requestsPerSec)} /s`,
      `${format(rawEcho.requestsPerSec)} /s`,
      ratio(actorhost.requestsPerSec, rawEcho.requestsPerSec),
      '≥ 50,000/s and ≥ 0.5× echo',
      actorhost.requestsPerSec >= 50_000 && actorhost.requestsPerSec >= 0.5 * rawEcho.requestsPerSec ? 'yes' : 'NO',
    ],
    ['round trip p50', `${format(actorhost.rttP50Us)} µs`, `${format(rawEcho.rttP50Us)} µs`, ratio(actorhost.rttP50Us, rawEcho.rttP50Us), '≤ 100 µs', actorhost.rttP50Us <= 100 ? 'yes' : 'NO'],
    ['round trip p99', `${format(actorhost.rttP99Us)} µs`, `${format(rawEcho.rttP99Us)} µs`, ratio(actorhost.rttP99Us, rawEcho.rttP99Us), '', ''],
  ];
  process.stdout.write(`\nactorhost IPC benchmark — ${requests.toLocaleString('en-US')} requests\n\n${toMarkdown(header, lines)}\n`);
  return {
    actorhost,
    rawEcho,
    targets: {
      requestsPerSec: actorhost.requestsPerSec >= 50_000 && actorhost.requestsPerSec >= 0.5 * rawEcho.requestsPerSec,
      rttP50Us: actorhost.rttP50Us <= 100,
    },
  };
}

async function runInspection() {
  log('inspection scenario: events/s with inspection off and on; the inspector page at scale');
  const events = Number(values['inspect-events']);
  const cost = await inspectionCost(2_000, events);
  const page = await inspectorPageCost(Number(values['page-sessions']));
  const off = (cost.offA + cost.offB) / 2;
  const header = ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'];
  const lines = [
    ['events/s, inspection off (two runs)', `${format(cost.offA)} /s, ${format(cost.offB)} /s`, '', ratio(cost.offB, cost.offA), 'off costs nothing', ''],
    ['events/s, inspection on (every event observed)', `${format(cost.on)} /s`, `${format(off)} /s (off)`, ratio(cost.on, off), '', ''],
    [`inspector page request, ${page.sessions.toLocaleString('en-US')} sessions`, `${format(page.pageMs)} ms`, '', '', '', ''],
  ];
  process.stdout.write(`\nactorhost inspection benchmark — 2,000 sessions, ${events.toLocaleString('en-US')} events\n\n${toMarkdown(header, lines)}\n`);
  return { ...cost, page };
}

const report: Record<string, unknown> = { at: new Date().toISOString(), node: process.version };
if (values.only === undefined || values.only === 'core') report.core = await runCore();
if (values.only === undefined || values.only === 'supervision') report.supervision = await runSupervision();
if (values.only === undefined || values.only === 'ipc') report.ipc = await runIpc();
if (values.only === undefined || values.only === 'inspection') report.inspection = await runInspection();

mkdirSync(values.out, { recursive: true });
const file = `${values.out}${new Date().toISOString().replaceAll(':', '-')}.json`;
writeFileSync(file, JSON.stringify(report, null, 2));
writeFileSync(`${values.out}latest.json`, JSON.stringify(report, null, 2));
process.stdout.write(`\nwritten: ${file}\n`);
