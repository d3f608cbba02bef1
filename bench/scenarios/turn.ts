// The realistic turn (DESIGN.md, "Performance"): per turn a user message, 20 deltas, a tool call
// and its result, and DONE asked for the turn count — 24 events, one ask — on actorhost and on its
// two baselines, measured the same way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { percentile, until, withLoopDelay } from '../measure.js';
import { actorhostSubject, inProcessSubject, rawWorkersSubject, type Subject } from './core.js';

const TURN_MACHINE = new URL('../machines/agent-turn.machine.js', import.meta.url);
const DELTA = { type: 'DELTA', text: 'Looking at the ' };
/** One turn's events before its DONE, as the model streams them: 10 deltas, a tool call, 10 more. */
const TURN: Array<{ type: string } & Record<string, unknown>> = [
  { type: 'USER_MESSAGE', text: 'The build fails on the date parser test; can you look at it and fix it?' },
  ...Array.from({ length: 10 }, () => DELTA),
  { type: 'TOOL_CALL', name: 'read_file', args: { path: 'src/parse/date.ts' } },
  { type: 'TOOL_RESULT', output: 'export function parseDate(text: string): Date {\n  return new Date(Date.parse(text));\n}\n'.repeat(3) },
  ...Array.from({ length: 10 }, () => DELTA),
];
const DONE = { type: 'DONE' };
export const EVENTS_PER_TURN = TURN.length + 1;

export interface TurnResult {
  turnsPerSec: number;
  eventsPerSec: number;
  turnP50Ms: number;
  turnP99Ms: number;
  loopDelayP99Ms: number;
}

/**
 * `turns` turns over `sessions` sessions, `concurrency` at once (each user starts the next
 * session's turn when its DONE is answered, after a turn of the event loop). A turn's latency:
 * from its user message sent to its DONE answered.
 */
export async function turnLoad(subject: Subject, sessions: number, turns: number, concurrency: number): Promise<TurnResult> {
  try {
    await subject.spawnAll(sessions);
    let started = 0;
    const latencies: number[] = [];
    const user = async () => {
      while (started < turns) {
        const index = started++ % sessions;
        const sentAt = performance.now();
        for (const event of TURN) subject.send(index, event);
        await subject.ask(index, DONE);
        latencies.push(performance.now() - sentAt);
        await yieldToLoop();
      }
    };
    const began = performance.now();
    const { loopDelayP99Ms } = await withLoopDelay(async () => {
      await Promise.all(Array.from({ length: concurrency }, user));
      await until(() => subject.settled());
    });
    const seconds = (performance.now() - began) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      turnsPerSec: turns / seconds,
      eventsPerSec: (turns * EVENTS_PER_TURN) / seconds,
      turnP50Ms: percentile(latencies, 50),
      turnP99Ms: percentile(latencies, 99),
      loopDelayP99Ms,
    };
  } finally {
    await subject.close();
  }
}

/** The turn scenario at one size: actorhost (memory store; and LMDB with `'journal'`), in-process, raw workers. */
export interface TurnResults {
  actorhost: TurnResult;
  durable: TurnResult;
  inProcess: TurnResult;
  rawWorkers: TurnResult;
}

export async function turnScenario(sessions: number, turns: number, concurrency: number, workers: number): Promise<TurnResults> {
  const storePath = mkdtempSync(join(tmpdir(), 'actorhost-bench-turn-'));
  try {
    // A warm-up round for each (a fraction of the turns), then the measured one.
    const warm = Math.max(concurrency, Math.floor(turns / 5));
    await turnLoad(await actorhostSubject(workers, undefined, TURN_MACHINE), sessions, warm, concurrency);
    const actorhost = await turnLoad(await actorhostSubject(workers, undefined, TURN_MACHINE), sessions, turns, concurrency);
    const durable = await turnLoad(await actorhostSubject(workers, storePath, TURN_MACHINE), sessions, turns, concurrency);
    await turnLoad(await inProcessSubject(TURN_MACHINE), sessions, warm, concurrency);
    const inProcess = await turnLoad(await inProcessSubject(TURN_MACHINE), sessions, turns, concurrency);
    await turnLoad(await rawWorkersSubject(workers, TURN_MACHINE), sessions, warm, concurrency);
    const rawWorkers = await turnLoad(await rawWorkersSubject(workers, TURN_MACHINE), sessions, turns, concurrency);
    return { actorhost, durable, inProcess, rawWorkers };
  } finally {
    rmSync(storePath, { recursive: true, force: true });
  }
}
