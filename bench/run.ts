// `npm run bench`: every scenario, each beside its baselines in the same run; prints the tables,
// writes bench/results/<timestamp>.json, latest.json, latest.md and latest.html (charts, offline).
//
//   npm run bench                                   # everything (a few minutes)
//   npm run bench -- --only core,cpu                # some scenarios: core cpu storm supervision ipc inspection hardening
//   npm run bench -- --sizes 10000 --events 1000000 # core at one size
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { logHistogram, lineChart, markdown, writeReport, type RunInfo, type Table } from './report.js';
import { actorhostSubject, inProcessSubject, measure, rawWorkersSubject, type CoreConfig, type CoreResult } from './scenarios/core.js';
import { inspectionCost, inspectorPageCost } from './scenarios/inspection.js';
import { ipcThroughput } from './scenarios/ipc.js';
import { cpuHeavy, crashStorm } from './scenarios/storm.js';
import { evictionChurn, journalCost, lruTouchCost, noRollbackCost, recoveryTime } from './scenarios/supervision.js';
import { churnHeap, sendCost, walkerCost } from './scenarios/hardening.js';
import { busyFlagCost, churnWithBusy, metricsCost, orphanTime } from './scenarios/policies.js';
import { askLatency, askThroughput } from './scenarios/messaging.js';
import { fleetScenario } from './scenarios/fleet.js';
import { percentile } from './measure.js';
import { EVENTS_PER_TURN, turnScenario, type TurnResult, type TurnResults } from './scenarios/turn.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    sizes: { type: 'string', default: '1000,10000,100000,300000' },
    sessions: { type: 'string' },
    events: { type: 'string', default: '1000000' },
    workers: { type: 'string', default: '2' },
    samples: { type: 'string', default: '500' },
    'heavy-sessions': { type: 'string', default: '2000' },
    'heavy-events': { type: 'string', default: '20000' },
    'storm-sessions': { type: 'string', default: '2000' },
    'storm-events': { type: 'string', default: '40000' },
    'storm-kills': { type: 'string', default: '5' },
    'recovery-sessions': { type: 'string', default: '1000,10000' },
    'churn-capacity': { type: 'string', default: '1000' },
    'churn-accesses': { type: 'string', default: '50000' },
    'journal-events': { type: 'string', default: '200000' },
    'rollback-events': { type: 'string', default: '300000' },
    'lru-sessions': { type: 'string', default: '100000' },
    'ipc-requests': { type: 'string', default: '200000' },
    'inspect-events': { type: 'string', default: '200000' },
    'page-sessions': { type: 'string', default: '100000' },
    'churn-sessions': { type: 'string', default: '250000' },
    'walker-events': { type: 'string', default: '2000000' },
    repeat: { type: 'string', default: '2' },
    'durable-sizes': { type: 'string', default: '1000,10000,300' },
    'busy-events': { type: 'string', default: '300000' },
    'orphan-sessions': { type: 'string', default: '50' },
    'ask-samples': { type: 'string', default: '500' },
    asks: { type: 'string', default: '100000' },
    'turn-sizes': { type: 'string', default: '1000,10000' },
    turns: { type: 'string', default: '20000' },
    'turn-concurrency': { type: 'string', default: '200' },
    'fleet-samples': { type: 'string', default: '500' },
    'fleet-sends': { type: 'string', default: '20000' },
    'fleet-kills': { type: 'string', default: '3' },
    'fleet-events': { type: 'string', default: '60000' },
    out: { type: 'string', default: new URL('./results/', import.meta.url).pathname.replace('/dist/bench/', '/bench/') },
  },
});

const ALL = ['core', 'turn', 'cpu', 'storm', 'supervision', 'ipc', 'inspection', 'hardening', 'policies', 'messaging', 'fleet'] as const;
type Scenario = (typeof ALL)[number];
const chosen = (values.only?.split(',') ?? [...ALL]) as Scenario[];
const workers = Number(values.workers);
const repeat = Math.max(1, Number(values.repeat));
const durableSizes = values['durable-sizes'].split(',').map(Number);
const tables: Table[] = [];
const charts: string[] = [];
const data: Record<string, unknown> = { node: process.version, workers };
const started = performance.now();

if (!(globalThis as { gc?: unknown }).gc) process.stderr.write('note: run with node --expose-gc (npm run bench does) for exact memory figures\n');

/** One line per phase on stderr, with a bar and the time so far: the run's progress. */
let step = 0;
const steps = chosen.reduce((sum, name) => sum + (name === 'core' ? sizes().length * 3 + sizes().filter((size) => durableSizes.includes(size)).length : name === 'turn' ? turnSizes().length : 1), 0);
function progress(label: string): void {
  step++;
  const width = 24;
  const done = Math.round((width * (step - 1)) / steps);
  process.stderr.write(`[${'#'.repeat(done).padEnd(width, '.')}] ${step}/${steps} ${label} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
}

function turnSizes(): number[] {
  return values['turn-sizes'].split(',').map(Number);
}

function sizes(): number[] {
  return (values.sessions ?? values.sizes).split(',').map(Number);
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 2);
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : '—';
}

function show(table: Table): void {
  tables.push(table);
  process.stdout.write(`\n${markdown(table)}\n`);
}

type Numeric = { [K in keyof CoreResult]: CoreResult[K] extends number ? K : never }[keyof CoreResult];

async function runCore(): Promise<void> {
  const results: Record<number, Record<string, CoreResult>> = {};
  for (const sessions of sizes()) {
    const config: CoreConfig = { sessions, events: Number(values.events), workers, chunk: 2_000, latencySamples: Number(values.samples), warmupEvents: 200_000 };
    progress(`core, ${sessions} sessions: actorhost`);
    // Repeated: the table shows the spread of the runs.
    const runs: CoreResult[] = [];
    for (let run = 0; run < repeat; run++) runs.push(await measure(await actorhostSubject(workers), config));
    const actorhost = runs[0]!;
    // The default configuration too, where it finishes in reasonable time (at 100,000 sessions its
    // journal and store writes took over 4 minutes here).
    const durableHere = durableSizes.includes(sessions);
    if (durableHere) progress(`core, ${sessions} sessions: actorhost on LMDB, 'journal'`);
    const durable = durableHere ? await measure(await actorhostSubject(workers, mkdtempSync(join(tmpdir(), 'actorhost-bench-core-'))), config) : undefined;
    progress(`core, ${sessions} sessions: in-process XState`);
    const inProcess = await measure(await inProcessSubject(), config);
    progress(`core, ${sessions} sessions: raw worker_threads`);
    const rawWorkers = await measure(await rawWorkersSubject(workers), config);
    results[sessions] = { actorhost, ...(durable ? { durable } : {}), inProcess, rawWorkers };
    const spread = (key: Numeric) => {
      const values = runs.map((r) => r[key]);
      return runs.length < 2 ? '' : ` (${format(Math.min(...values))}–${format(Math.max(...values))})`;
    };
    // The targets of the performance issue: against the baselines of the same run.
    const rows: Array<{ metric: string; key: Numeric; unit: string; target?: [string, (r: CoreResult) => boolean] }> = [
      { metric: 'trivial events/s', key: 'eventsPerSec', unit: '/s', target: ['≥ 1.5× (a), ≥ 0.85× (b)', (r) => r.eventsPerSec >= 1.5 * inProcess.eventsPerSec && r.eventsPerSec >= 0.85 * rawWorkers.eventsPerSec] },
      { metric: 'send→snapshot p50 at 10% load', key: 'latencyP50Us', unit: 'µs', target: ['≤ 1.3× (b)', (r) => r.latencyP50Us <= 1.3 * rawWorkers.latencyP50Us] },
      { metric: 'send→snapshot p99 at 10% load', key: 'latencyP99Us', unit: 'µs', target: ['≤ 2× (b)', (r) => r.latencyP99Us <= 2 * rawWorkers.latencyP99Us] },
      { metric: 'host event-loop delay p99 at peak', key: 'loopDelayP99Ms', unit: 'ms', target: ['≤ 10 ms', (r) => r.loopDelayP99Ms <= 10] },
      {
        metric: 'memory per idle session (host + workers)',
        key: 'bytesPerIdleSession',
        unit: 'B',
        target: ['≤ 600 B over (b)', (r) => r.bytesPerIdleSession <= rawWorkers.bytesPerIdleSession + 600],
      },
      { metric: 'spawn rate, cold (fresh threads)', key: 'coldSpawnPerSec', unit: '/s' },
      { metric: 'spawn rate, warm (spawn storm)', key: 'spawnPerSec', unit: '/s', target: ['≥ 0.8× (b)', (r) => r.spawnPerSec >= 0.8 * rawWorkers.spawnPerSec] },
    ];
    show({
      title: `Core — ${sessions.toLocaleString('en-US')} sessions, ${config.events.toLocaleString('en-US')} trivial events, ${workers} workers`,
      header: ['metric', `actorhost (memory store; ${repeat} runs: first (min–max))`, "actorhost (LMDB, 'journal': the default)", '(a) in-process', '(b) raw workers', 'vs (a)', 'vs (b)', 'target', 'met'],
      rows: rows.map((row) => [
        row.metric,
        `${format(actorhost[row.key])} ${row.unit}${spread(row.key)}`,
        durable ? `${format(durable[row.key])} ${row.unit}` : 'not run (--durable-sizes)',
        `${format(inProcess[row.key])} ${row.unit}`,
        `${format(rawWorkers[row.key])} ${row.unit}`,
        ratio(actorhost[row.key], inProcess[row.key]),
        ratio(actorhost[row.key], rawWorkers[row.key]),
        row.target?.[0] ?? '',
        row.target ? (row.target[1](actorhost) ? 'yes' : 'NO') : '',
      ]),
      note: `Latency under 10% of each subject's peak: actorhost ${format(actorhost.latencyLoadEventsPerSec)}/s, (a) ${format(inProcess.latencyLoadEventsPerSec)}/s, (b) ${format(rawWorkers.latencyLoadEventsPerSec)}/s.`,
    });
    const subjects = { actorhost, ...(durable ? { "actorhost (LMDB, 'journal')": durable } : {}), '(a) in-process': inProcess, '(b) raw workers': rawWorkers };
    charts.push(
      logHistogram(`send→snapshot latency at 10% load, ${sessions.toLocaleString('en-US')} sessions`, Object.entries(subjects).map(([name, r]) => ({ name, values: r.latencySamplesUs })), 'µs'),
      lineChart(`throughput over time, ${sessions.toLocaleString('en-US')} sessions`, Object.entries(subjects).map(([name, r]) => ({ name, points: r.series.map((p) => [p.ms / 1000, p.eventsPerSec] as [number, number]) })), 'seconds', 'events/s'),
      lineChart(`host event-loop delay (max per 25 ms), ${sessions.toLocaleString('en-US')} sessions`, Object.entries(subjects).map(([name, r]) => ({ name, points: r.series.map((p) => [p.ms / 1000, p.loopDelayMaxMs] as [number, number]) })), 'seconds', 'ms'),
    );
  }
  growth(results);
  // The per-sample arrays stay out of the JSON: the charts have them.
  data.core = Object.fromEntries(
    Object.entries(results).map(([size, bySubject]) => [size, Object.fromEntries(Object.entries(bySubject).map(([name, r]) => [name, { ...r, latencySamplesUs: undefined, series: undefined }]))]),
  );
}

/** How cost grows with the number of sessions: events/s and memory per session, every size on one chart. */
function growth(results: Record<number, Record<string, CoreResult>>): void {
  const names: Record<string, string> = { actorhost: 'actorhost', inProcess: '(a) in-process', rawWorkers: '(b) raw workers' };
  const sizesRun = Object.keys(results).map(Number).sort((a, b) => a - b);
  if (sizesRun.length < 2) return;
  const series = (key: 'eventsPerSec' | 'bytesPerIdleSession') =>
    Object.entries(names).map(([subject, name]) => ({ name, points: sizesRun.map((n) => [Math.log10(n), results[n]![subject]![key]] as [number, number]) }));
  charts.push(
    lineChart('trivial events/s by number of sessions', series('eventsPerSec'), 'sessions (log10: 3 = 1,000, 5 = 100,000)', 'events/s'),
    lineChart('memory per idle session by number of sessions', series('bytesPerIdleSession'), 'sessions (log10: 3 = 1,000, 5 = 100,000)', 'bytes'),
  );
  show({
    title: 'How cost grows with the number of sessions',
    header: ['sessions', ...Object.values(names).map((name) => `events/s, ${name}`), ...Object.values(names).map((name) => `B per idle session, ${name}`)],
    rows: sizesRun.map((n) => [
      n.toLocaleString('en-US'),
      ...Object.keys(names).map((subject) => `${format(results[n]![subject]!.eventsPerSec)} /s`),
      ...Object.keys(names).map((subject) => `${format(results[n]![subject]!.bytesPerIdleSession)} B`),
    ]),
  });
}

async function runTurn(): Promise<void> {
  const turns = Number(values.turns);
  const concurrency = Number(values['turn-concurrency']);
  const results: Record<number, TurnResults> = {};
  for (const sessions of turnSizes()) {
    progress(`realistic turn, ${sessions} sessions: actorhost, LMDB 'journal', in-process, raw workers`);
    const r = await turnScenario(sessions, turns, concurrency, workers);
    results[sessions] = r;
    const rows: Array<[string, keyof TurnResult, string, string?, ((v: number) => boolean)?]> = [
      ['turns/s', 'turnsPerSec', '/s'],
      [`events/s (${EVENTS_PER_TURN} per turn)`, 'eventsPerSec', '/s'],
      ['turn latency p50 (message sent → DONE answered)', 'turnP50Ms', 'ms'],
      ['turn latency p99', 'turnP99Ms', 'ms'],
      ['host event-loop delay p99', 'loopDelayP99Ms', 'ms', '≤ 10 ms', (v) => v <= 10],
    ];
    show({
      title: `Realistic turn — ${sessions.toLocaleString('en-US')} sessions, ${turns.toLocaleString('en-US')} turns, ${concurrency} at once, ${workers} workers`,
      header: ['metric', 'actorhost (memory store)', "actorhost (LMDB, 'journal')", '(a) in-process', '(b) raw workers', 'vs (a)', 'vs (b)', 'target', 'met'],
      rows: rows.map(([metric, key, unit, target, met]) => [
        metric,
        ...(['actorhost', 'durable', 'inProcess', 'rawWorkers'] as const).map((subject) => `${format(r[subject][key])} ${unit}`),
        ratio(r.actorhost[key], r.inProcess[key]),
        ratio(r.actorhost[key], r.rawWorkers[key]),
        target ?? '',
        met ? (met(r.actorhost[key]) ? 'yes' : 'NO') : '',
      ]),
      note: 'A turn: a user message, 10 deltas, a tool call and its result, 10 deltas, and DONE asked (its answer ends the turn); the session keeps its last 20 messages.',
    });
  }
  data.turn = results;
}

async function runCpu(): Promise<void> {
  progress('CPU-heavy events (~100 µs each)');
  const sessions = Number(values['heavy-sessions']);
  const events = Number(values['heavy-events']);
  const result = await cpuHeavy(sessions, events, workers);
  data.cpu = result;
  show({
    title: `CPU-heavy events — ${sessions.toLocaleString('en-US')} sessions, ${events.toLocaleString('en-US')} events of ~100 µs`,
    header: ['metric', 'actorhost', '(a) in-process', 'ratio', 'target', 'met'],
    rows: [['events/s', `${format(result.actorhost)} /s`, `${format(result.inProcess)} /s`, ratio(result.actorhost, result.inProcess), '≥ 1.7× (a)', result.actorhost >= 1.7 * result.inProcess ? 'yes' : 'NO']],
  });
}

async function runStorm(): Promise<void> {
  progress('crash storm (workers killed under load)');
  const result = await crashStorm(Number(values['storm-sessions']), Number(values['storm-events']), Number(values['storm-kills']));
  data.storm = result;
  const sorted = [...result.recoveriesMs].sort((a, b) => a - b);
  show({
    title: `Crash storm — ${Number(values['storm-sessions']).toLocaleString('en-US')} sessions on ${workers} workers, ${result.recoveriesMs.length} worker deaths under load`,
    header: ['metric', 'actorhost', 'target', 'met'],
    rows: [
      ['recovery time (death → all restored), median / max', `${format(sorted[Math.floor(sorted.length / 2)] ?? 0)} ms / ${format(sorted.at(-1) ?? 0)} ms`, '', ''],
      ['events accepted / counted in the sessions', `${result.accepted.toLocaleString('en-US')} / ${result.counted.toLocaleString('en-US')}`, '', ''],
      ['accepted events lost', String(result.lost), '0', result.lost === 0 ? 'yes' : 'NO'],
    ],
  });
}

async function runSupervision(): Promise<void> {
  progress('supervision: recovery, eviction churn, LRU bookkeeping, journal cost');
  const recovery = [];
  for (const sessions of values['recovery-sessions'].split(',').map(Number)) recovery.push(await recoveryTime(sessions));
  const churn = await evictionChurn(Number(values['churn-capacity']), Number(values['churn-accesses']));
  const lruSessions = Number(values['lru-sessions']);
  const lru = lruTouchCost(lruSessions, 1_000_000);
  const journalEvents = Number(values['journal-events']);
  const none = await journalCost('none', 2_000, journalEvents);
  const journal = await journalCost('journal', 2_000, journalEvents);
  const rollbackEvents = Number(values['rollback-events']);
  // On and off alternate, twice each, best of two: single runs here varied by ±15%.
  const best = async (kind: 'counter' | 'timer') => {
    let on = 0;
    let off = 0;
    for (let round = 0; round < 2; round++) {
      on = Math.max(on, await noRollbackCost(kind, true, 2_000, rollbackEvents));
      off = Math.max(off, await noRollbackCost(kind, false, 2_000, rollbackEvents));
    }
    return { on, off };
  };
  const counter = await best('counter');
  const timer = await best('timer');
  const noRollback = { counterOn: counter.on, counterOff: counter.off, timerOn: timer.on, timerOff: timer.off };
  data.supervision = { recovery, churn, lru, journal: { journalEventsPerSec: journal, noneEventsPerSec: none }, noRollback };
  show({
    title: 'Supervision',
    header: ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'],
    rows: [
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
      [`LRU bookkeeping per event, ${lruSessions.toLocaleString('en-US')} sessions`, `${format(lru.listNs)} ns (intrusive list)`, `${format(lru.mapNs)} ns (Map re-insert)`, ratio(lru.listNs, lru.mapNs), '≤ 1 µs', lru.listNs <= 1_000 ? 'yes' : 'NO'],
      ["events/s, 'journal' vs 'none' (LMDB)", `${format(journal)} /s`, `${format(none)} /s`, ratio(journal, none), '≥ 0.7×', journal >= 0.7 * none ? 'yes' : 'NO'],
      ['events/s, noRollback on vs off: core counter (no timer)', `${format(noRollback.counterOn)} /s`, `${format(noRollback.counterOff)} /s`, ratio(noRollback.counterOn, noRollback.counterOff), '≥ 0.9×', noRollback.counterOn >= 0.9 * noRollback.counterOff ? 'yes' : 'NO'],
      ['events/s, noRollback on vs off: every event arms a timer', `${format(noRollback.timerOn)} /s`, `${format(noRollback.timerOff)} /s`, ratio(noRollback.timerOn, noRollback.timerOff), '', ''],
    ],
  });
}

async function runIpc(): Promise<void> {
  progress('IPC: JSON-RPC over one connection beside a raw net echo');
  const requests = Number(values['ipc-requests']);
  const { actorhost, rawEcho } = await ipcThroughput(requests);
  data.ipc = { actorhost, rawEcho };
  show({
    title: `IPC — ${requests.toLocaleString('en-US')} requests over one authenticated Unix-socket connection`,
    header: ['metric', 'actorhost', 'raw net echo', 'ratio', 'target', 'met'],
    rows: [
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
    ],
  });
}

async function runInspection(): Promise<void> {
  progress('inspection: off and on, the inspector page at scale');
  const events = Number(values['inspect-events']);
  const cost = await inspectionCost(2_000, events);
  const page = await inspectorPageCost(Number(values['page-sessions']));
  data.inspection = { ...cost, page };
  const off = (cost.offA + cost.offB) / 2;
  show({
    title: `Inspection — 2,000 sessions, ${events.toLocaleString('en-US')} events`,
    header: ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'],
    rows: [
      ['events/s, inspection off (two runs)', `${format(cost.offA)} /s, ${format(cost.offB)} /s`, '', ratio(cost.offB, cost.offA), 'off costs nothing', ''],
      ['events/s, inspection on (every event observed)', `${format(cost.on)} /s`, `${format(off)} /s (off)`, ratio(cost.on, off), '', ''],
      [`inspector page request, ${page.sessions.toLocaleString('en-US')} sessions`, `${format(page.pageMs)} ms`, '', '', '', ''],
    ],
  });
}

async function runHardening(): Promise<void> {
  progress('hardening: host heap after churn, the send path walker');
  const churn = await churnHeap(Number(values['churn-sessions']));
  const walkerEvents = Number(values['walker-events']);
  const walker = walkerCost(walkerEvents);
  const send = await sendCost(Math.min(walkerEvents, 200_000));
  const sendJournal = await sendCost(Math.min(walkerEvents, 200_000), true);
  data.hardening = { churn, walker, sendNs: send, sendJournalNs: sendJournal };
  const MiB = 1024 * 1024;
  show({
    title: `Hardening — ${churn.sessions.toLocaleString('en-US')} sessions churned; the walker on ${walkerEvents.toLocaleString('en-US')} events`,
    header: ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'],
    rows: [
      [
        `host heap + external after ${churn.sessions.toLocaleString('en-US')} spawn/stop (after GC)`,
        `${(churn.afterBytes / MiB).toFixed(1)} MiB`,
        `${(churn.beforeBytes / MiB).toFixed(1)} MiB (after 0)`,
        ratio(churn.afterBytes, churn.beforeBytes),
        '≤ 1.1×',
        churn.afterBytes <= 1.1 * churn.beforeBytes ? 'yes' : 'NO',
      ],
      ['spawn + stop rate during the churn', `${format(churn.perSec)} /s`, '', '', '', ''],
      ['walker per event (check, copy, size)', `${format(walker.currentNs)} ns`, `${format(walker.legacyNs)} ns (before the hardening)`, ratio(walker.currentNs, walker.legacyNs), '', ''],
      ['host-side send, per call (1,000 sessions), memory store', `${format(send)} ns`, '', '', '', ''],
      ["host-side send, per call (1,000 sessions), LMDB 'journal' (encode once)", `${format(sendJournal)} ns`, '', '', '', ''],
    ],
  });
}

async function runPolicies(): Promise<void> {
  progress('policies: the busy flag, churn with busy sessions, subprocesses after a SIGKILL');
  const events = Number(values['busy-events']);
  // Alternated, best of two (single runs vary by ±15% here).
  let counter = 0;
  let turn = 0;
  for (let round = 0; round < 2; round++) {
    counter = Math.max(counter, await busyFlagCost('counter', 2_000, events));
    turn = Math.max(turn, await busyFlagCost('turn', 2_000, events));
  }
  const capacity = Number(values['churn-capacity']);
  const accesses = Number(values['churn-accesses']);
  const plainChurn = await churnWithBusy('counter', capacity, accesses);
  const busyChurn = await churnWithBusy('timed-turn', capacity, accesses);
  const orphans = await orphanTime(Number(values['orphan-sessions']));
  let bare = 0;
  let metered = 0;
  for (let round = 0; round < 2; round++) {
    bare = Math.max(bare, await metricsCost(false, 2_000, events));
    metered = Math.max(metered, await metricsCost(true, 2_000, events));
  }
  data.policies = { busyFlag: { counter, turn }, churn: { plain: plainChurn, busy: busyChurn }, orphans, metrics: { bare, metered } };
  show({
    title: 'Policies — busy, churn, orphans',
    header: ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'],
    rows: [
      ['events/s, a busy change on every event vs no tag (2,000 sessions)', `${format(turn)} /s`, `${format(counter)} /s`, ratio(turn, counter), '', ''],
      [
        `eviction churn over ${(capacity * 10).toLocaleString('en-US')} ids, capacity ${capacity.toLocaleString('en-US')}: each access starts a 20 ms busy turn vs no tag`,
        `${format(busyChurn.evictionsPerSec)} evictions/s, ${busyChurn.refused} refused, peak ${busyChurn.overCapacityPeak} over`,
        `${format(plainChurn.evictionsPerSec)} evictions/s, ${plainChurn.refused} refused, peak ${plainChurn.overCapacityPeak} over`,
        ratio(busyChurn.evictionsPerSec, plainChurn.evictionsPerSec),
        '',
        '',
      ],
      ['events/s, a MeterProvider collected every 100 ms vs none', `${format(metered)} /s`, `${format(bare)} /s`, ratio(metered, bare), '≥ 0.95×', metered >= 0.95 * bare ? 'yes' : 'NO'],
      [`host SIGKILLed with ${orphans.sessions} sessions (${orphans.processes} subprocesses): last one gone after`, `${format(orphans.ms)} ms`, 'never (before the reaper)', '', '≤ 2,000 ms', orphans.ms <= 2_000 ? 'yes' : 'NO'],
    ],
  });
}

async function runMessaging(): Promise<void> {
  progress('messaging: ask round trip beside send→snapshot, asks/s beside sends/s');
  const latency = await askLatency(1_000, Number(values['ask-samples']), 20_000);
  const throughput = await askThroughput(1_000, Number(values.asks), 2_000);
  data.messaging = { latency, throughput };
  show({
    title: 'Messaging — ask, 1,000 sessions, 2 workers',
    header: ['metric', 'actorhost', 'baseline', 'ratio', 'target', 'met'],
    rows: [
      [`ask round trip p50, under ${format(latency.loadEventsPerSec)} events/s`, `${format(latency.askP50Us)} µs`, `${format(latency.sendP50Us)} µs (send → snapshot)`, ratio(latency.askP50Us, latency.sendP50Us), '', ''],
      [`ask round trip p99, under ${format(latency.loadEventsPerSec)} events/s`, `${format(latency.askP99Us)} µs`, `${format(latency.sendP99Us)} µs (send → snapshot)`, ratio(latency.askP99Us, latency.sendP99Us), '', ''],
      ['asks/s (2,000 in flight) vs sends/s (processed)', `${format(throughput.asksPerSec)} /s`, `${format(throughput.sendsPerSec)} /s`, ratio(throughput.asksPerSec, throughput.sendsPerSec), '', ''],
    ],
  });
}

async function runFleet(): Promise<void> {
  progress('fleet: a send through a non-owner vs the owner, kill -9 → answering again, three hosts vs one');
  const result = await fleetScenario(Number(values['fleet-samples']), Number(values['fleet-sends']), Number(values['fleet-kills']), Number(values['fleet-events']));
  data.fleet = result;
  const { routing, takeover } = result;
  const ms = (value: number) => `${format(value)} ms`;
  show({
    title: 'Fleet — NATS JetStream (one nats-server 2.9.10 on this machine), 8 shards',
    header: ['metric', 'value', 'baseline', 'ratio', 'target', 'met'],
    rows: [
      ['send p50: through a non-owner host (routed) vs its owner', `${format(routing.routedP50Us)} µs`, `${format(routing.ownerP50Us)} µs`, ratio(routing.routedP50Us, routing.ownerP50Us), '', ''],
      ['send p99: through a non-owner host (routed) vs its owner', `${format(routing.routedP99Us)} µs`, `${format(routing.ownerP99Us)} µs`, ratio(routing.routedP99Us, routing.ownerP99Us), '', ''],
      ['acknowledged sends/s, 100 in flight: routed vs owner', `${format(routing.routedSendsPerSec)} /s`, `${format(routing.ownerSendsPerSec)} /s`, ratio(routing.routedSendsPerSec, routing.ownerSendsPerSec), '', ''],
      [
        `kill -9 of a host → its sessions answering again (lease ${format(takeover.leaseTtlMs)} ms; ${takeover.answeredMs.length} sessions over ${takeover.kills} kills): median / max`,
        `${ms(percentile(takeover.answeredMs, 50))} / ${ms(takeover.answeredMs.at(-1) ?? 0)}`,
        `lease ${ms(takeover.leaseTtlMs)}`,
        ratio(takeover.answeredMs.at(-1) ?? 0, takeover.leaseTtlMs),
        '≤ lease + restore',
        '',
      ],
      ['acknowledged sends/s of the fleet: three host processes vs one (they share 2 cores)', `${format(result.threeHosts)} /s`, `${format(result.oneHost)} /s`, ratio(result.threeHosts, result.oneHost), 'for information', ''],
    ],
  });
}

const run: Record<Scenario, () => Promise<void>> = {
  core: runCore,
  turn: runTurn,
  cpu: runCpu,
  storm: runStorm,
  supervision: runSupervision,
  ipc: runIpc,
  inspection: runInspection,
  hardening: runHardening,
  policies: runPolicies,
  messaging: runMessaging,
  fleet: runFleet,
};
for (const name of chosen) {
  if (!run[name]) throw new Error(`unknown scenario "${name}"; known: ${ALL.join(', ')}`);
  await run[name]();
}

mkdirSync(values.out, { recursive: true });
const stamp = new Date().toISOString();
const info: RunInfo = {
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}`,
  node: process.version,
  commit: commitOf(),
  options: `workers ${workers}; core sizes ${sizes().join(', ')}, ${Number(values.events).toLocaleString('en-US')} events, ${repeat} runs of actorhost each; scenarios ${chosen.join(', ')}`,
};
const files = writeReport(values.out, stamp, { at: stamp, ...info, ...data }, tables, charts, info);
process.stdout.write(`\nwritten: ${files.join(', ')}\n`);

/** The checked-out commit, and whether the tree has changes. */
function commitOf(): string {
  try {
    const cwd = new URL('../..', import.meta.url).pathname;
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
