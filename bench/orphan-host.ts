// The host process of the SIGKILL scenario: `sessions` sessions owning subprocess trees on the
// store given as argv[2]; prints their pids as one JSON line, then waits to be killed.
import { pino } from 'pino';
import { createRuntime } from '../src/index.js';

const sessions = Number(process.argv[3] ?? 20);
const runtime = await createRuntime({
  machines: { child: new URL('./machines/child.machine.js', import.meta.url) },
  workers: 1,
  logger: pino({ level: 'silent' }),
  store: { path: process.argv[2]! },
});
const pids: number[] = [];
await Promise.all(Array.from({ length: sessions }, (_, i) => runtime.spawn('child', { id: `owner-${i}` })));
for (let i = 0; i < sessions; i++) {
  const { context } = await runtime.waitFor(`owner-${i}`, (s) => (s.context as { grandchild: number }).grandchild > 0, { timeoutMs: 30_000 });
  const { pid, grandchild } = context as { pid: number; grandchild: number };
  pids.push(pid, grandchild);
}
process.stdout.write(`${JSON.stringify({ pids })}\n`);
setInterval(() => {}, 60_000);
