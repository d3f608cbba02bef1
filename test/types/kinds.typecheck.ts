// Type tests for typed kinds: this file must compile, and each `@ts-expect-error` line must be an
// error (tsc fails on an unused one). Checked by `npm run typecheck` and test/types.test.ts.
import { createRuntime, kind } from '../../src/index.js';
import type agentMachine from './agent.machine.js';

export async function typed(): Promise<void> {
  const runtime = await createRuntime({
    machines: { agent: kind<typeof agentMachine>(new URL('./agent.machine.js', import.meta.url)) },
  });

  const ref = await runtime.spawn('agent', { id: 'a', input: { start: 1 } });
  // @ts-expect-error: an unknown kind
  await runtime.spawn('countr', { id: 'b' });
  // @ts-expect-error: the input does not fit the machine
  await runtime.spawn('agent', { id: 'c', input: { start: 'one' } });

  await runtime.send('a', { type: 'INC', by: 2 });
  // @ts-expect-error: an event the machine does not take
  await runtime.send('a', { type: 'NOPE' });
  // @ts-expect-error: a known event with a wrong field
  await runtime.send('a', { type: 'INC', by: 'two' });
  await ref.send({ type: 'RESET' });
  // @ts-expect-error: the handle checks events too
  await ref.send({ type: 'NOPE' });

  const snapshot = await runtime.getSnapshot('a');
  const count: number = snapshot.context.count;
  // @ts-expect-error: count is a number
  const wrong: string = snapshot.context.count;
  const mine = await ref.getSnapshot();
  const label: string = mine.context.label;
  const waited = await runtime.waitFor('a', (s) => s.context.count > 2);
  // @ts-expect-error: no such field in the context
  void waited.context.missing;
  runtime.subscribe('a', (s) => void (s.context.count satisfies number));
  const answer = await runtime.ask<number>('a', { type: 'RESET' });
  void [count, wrong, label, answer];
}

export async function untyped(): Promise<void> {
  // A plain URL: input, events and snapshots untyped, as before.
  const runtime = await createRuntime({ machines: { any: new URL('file:///any.machine.js') } });
  await runtime.spawn('any', { id: 'x', input: { anything: true } });
  // @ts-expect-error: kind names are checked even for plain URLs
  await runtime.spawn('whatever', { id: 'y' });
  await runtime.send('x', { type: 'ANY', payload: 1 });
  const snapshot = await runtime.getSnapshot('x');
  void snapshot.context.whatever;
}
