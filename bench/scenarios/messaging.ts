// Messaging: ask's round trip beside send→snapshot under the same load, and asks/s beside sends/s.
import { benchRuntime, driveAtRate, percentile, until } from '../measure.js';

const ANSWER = new URL('../machines/answer.machine.js', import.meta.url);
const INC = { type: 'INC' } as const;
const GET = { type: 'GET' } as const;

export interface AskLatency {
  askP50Us: number;
  askP99Us: number;
  sendP50Us: number;
  sendP99Us: number;
  loadEventsPerSec: number;
}

/**
 * Round trips on one probe session while `sessions` others take `loadEventsPerSec`: an ask (until
 * it resolves) and a send (until the subscriber sees its snapshot), alternating, `samples` each.
 */
export async function askLatency(sessions: number, samples: number, loadEventsPerSec: number): Promise<AskLatency> {
  const runtime = await benchRuntime({ machines: { answer: ANSWER }, workers: 2, mailbox: { capacity: 100_000 } });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('answer', { id })));
    await runtime.spawn('answer', { id: 'probe' });
    let seen: (() => void) | undefined;
    runtime.subscribe('probe', () => seen?.());
    const asks: number[] = [];
    const sends: number[] = [];
    let background = true;
    const load = (async () => {
      while (background) await driveAtRate(loadEventsPerSec, 200, (i) => void runtime.send(ids[i % sessions]!, INC));
    })();
    for (let i = 0; i < samples; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      let started = performance.now();
      await runtime.ask('probe', GET);
      asks.push((performance.now() - started) * 1000);
      await new Promise((resolve) => setTimeout(resolve, 2));
      const snapshot = new Promise<void>((resolve) => (seen = resolve));
      started = performance.now();
      void runtime.send('probe', INC);
      await snapshot;
      sends.push((performance.now() - started) * 1000);
    }
    background = false;
    await load;
    asks.sort((a, b) => a - b);
    sends.sort((a, b) => a - b);
    return {
      askP50Us: percentile(asks, 50),
      askP99Us: percentile(asks, 99),
      sendP50Us: percentile(sends, 50),
      sendP99Us: percentile(sends, 99),
      loadEventsPerSec,
    };
  } finally {
    await runtime.shutdown();
  }
}

/** `total` asks (at most `window` in flight) over `sessions` sessions: asks/s; and the same count of sends, processed. */
export async function askThroughput(sessions: number, total: number, window: number): Promise<{ asksPerSec: number; sendsPerSec: number }> {
  const runtime = await benchRuntime({ machines: { answer: ANSWER }, workers: 2, mailbox: { capacity: 100_000 } });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('answer', { id })));
    let started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < total) await runtime.ask(ids[next++ % sessions]!, GET);
    };
    await Promise.all(Array.from({ length: window }, worker));
    const asksPerSec = total / ((performance.now() - started) / 1000);
    started = performance.now();
    for (let i = 0; i < total; i++) {
      void runtime.send(ids[i % sessions]!, INC);
      if (i % window === window - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => runtime.stats().mailboxed === 0);
    const sendsPerSec = total / ((performance.now() - started) / 1000);
    return { asksPerSec, sendsPerSec };
  } finally {
    await runtime.shutdown();
  }
}
