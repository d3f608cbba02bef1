// A host process of the fleet scenario:
//   fleet-host.js SERVERS FLEET HOST SHARDS LEASE_MS   joins the fleet, prints "ready", then takes lines on stdin:
//   "spawn N PREFIX"                 spawns PREFIX-0 … PREFIX-(N-1) (wherever their shards are); prints "spawned"
//   "load N PREFIX EVENTS INFLIGHT"  sends EVENTS INCs round robin to them, INFLIGHT at a time; prints "loaded <acknowledged sends/s>"
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { createRuntime } from '../src/index.js';

const [servers, name, host, shards, lease] = process.argv.slice(2);
const runtime = await createRuntime({
  machines: { counter: new URL('./machines/counter.machine.js', import.meta.url) },
  workers: 1,
  logger: pino({ level: 'silent' }),
  fleet: { servers: servers!.split(','), name: name!, host: host!, shards: Number(shards), leaseTtlMs: Number(lease) },
});
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, n, prefix, events, inFlight] = line.split(' ');
  const ids = Array.from({ length: Number(n) }, (_, i) => `${prefix}-${i}`);
  if (command === 'spawn') void Promise.all(ids.map((id) => runtime.spawn('counter', { id }))).then(() => process.stdout.write('spawned\n'));
  if (command === 'load') void load(ids, Number(events), Number(inFlight)).then((perSec) => process.stdout.write(`loaded ${perSec}\n`));
});
process.on('SIGTERM', () => void runtime.shutdown().then(() => process.exit(0)));

async function load(ids: string[], events: number, inFlight: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < events; i = next++) await runtime.send(ids[i % ids.length]!, { type: 'INC' });
    }),
  );
  return Math.round(events / ((performance.now() - started) / 1000));
}
