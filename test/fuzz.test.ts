// Fuzzing send and spawn with whatever a caller might pass: each call rejects with a typed
// error or resolves — it never throws synchronously, never hangs, and never breaks the session.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActorhostError, fixture, useRuntime, type Runtime } from './helpers.js';

const start = useRuntime({ machines: { keeper: fixture('keeper') } });

/** Values of every shape JavaScript has, plus the hostile ones: throwing getters, Proxies, symbols. */
const hostile = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
    withUnicodeString: true,
    maxDepth: 4,
  }),
  fc.constant(Symbol('s')),
  fc.constant(() => 1),
  fc.constant(2n ** 70n),
  fc.constant('\uD800'),
  fc.constant(
    Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    }),
  ),
  fc.constant(new Proxy({}, { ownKeys: () => { throw new Error('trap'); } })),
  fc.constant(JSON.parse('{"__proto__":{"a":1}}') as unknown),
);

/** Settles `call()` within `ms`, or reports the hang; a synchronous throw is reported too. */
async function outcome(call: () => Promise<unknown>, ms = 5_000): Promise<'resolved' | 'typed'> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    throw new Error(`threw synchronously: ${String((error as Error)?.message ?? error)}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, hang]);
    return 'resolved';
  } catch (error) {
    if (error instanceof ActorhostError) return 'typed';
    throw new Error(`rejected with an untyped error: ${String((error as Error)?.message ?? error)}`);
  } finally {
    clearTimeout(timer);
  }
}

async function stillWorks(rt: Runtime): Promise<void> {
  await rt.send('target', { type: 'INC' });
  expect((await rt.getSnapshot('target')).context.count).toBeGreaterThan(0);
}

describe('fuzz', () => {
  it('send(id, event): a typed rejection or a resolution, never a throw or a hang', { timeout: 120_000 }, async () => {
    const rt = await start({ maxEventBytes: 64 * 1024 });
    await rt.spawn('keeper', { id: 'target' });
    const event = fc.oneof(hostile, fc.record({ type: fc.oneof(fc.constant('KEEP'), hostile), value: hostile }));
    const id = fc.oneof(fc.constant('target'), fc.constant('ghost'), hostile);
    await fc.assert(
      fc.asyncProperty(id, event, async (to, sent) => {
        await outcome(() => rt.send(to as string, sent as never));
      }),
      { numRuns: 300 },
    );
    await stillWorks(rt);
  });

  it('spawn(kind, options): a typed rejection or a resolution, never a throw or a hang', { timeout: 120_000 }, async () => {
    const rt = await start({ maxEventBytes: 64 * 1024 });
    await rt.spawn('keeper', { id: 'target' });
    const kind = fc.oneof(fc.constant('keeper'), hostile);
    const options = fc.oneof(
      hostile,
      fc.record({ id: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), hostile), input: hostile }, { requiredKeys: ['id'] }),
      fc.record({ id: fc.string({ minLength: 1 }), pool: hostile, replace: hostile }, { requiredKeys: ['id'] }),
    );
    let spawned = 0;
    await fc.assert(
      fc.asyncProperty(kind, options, async (machine, given) => {
        const result = await outcome(() => rt.spawn(machine as string, given as never));
        const id = (given as { id?: unknown } | null)?.id;
        if (result === 'resolved' && typeof id === 'string' && id !== 'target') {
          spawned++;
          await rt.stop(id);
        }
      }),
      { numRuns: 300 },
    );
    expect(spawned).toBeGreaterThan(0);
    await stillWorks(rt);
  });
});
