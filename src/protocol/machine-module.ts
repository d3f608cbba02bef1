/**
 * Loading a machine kind's module. Both sides do it: every worker, to run the machine, and the
 * host, to fail `createRuntime` early with a clear error and to give host-side snapshots their
 * machine (so `snapshot.matches('idle')` works on the host).
 */
import type { AnyStateMachine } from 'xstate';
import { MachineModuleError, describeCause } from '../errors.js';

/**
 * Imports a machine module and checks that its default export is an XState machine. A module
 * that has not finished loading after `timeoutMs` (a top-level await that never settles) fails
 * with `MachineModuleError`; its import stays pending, but holds no handle that keeps the
 * process alive.
 */
export async function importMachine(url: string, timeoutMs = Infinity): Promise<AnyStateMachine> {
  let module: { default?: unknown };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    if (timeoutMs === Infinity) return;
    timer = setTimeout(
      () => reject(new MachineModuleError(url, `did not finish loading within ${timeoutMs} ms (a top-level await that never settles?); see options.startTimeoutMs`)),
      timeoutMs,
    );
  });
  try {
    module = (await Promise.race([import(url), timedOut])) as { default?: unknown };
  } catch (error) {
    if (error instanceof MachineModuleError) throw error;
    throw new MachineModuleError(url, `failed to import: ${describeCause(error)}`, error);
  } finally {
    clearTimeout(timer);
  }
  if (!isMachine(module.default)) {
    throw new MachineModuleError(
      url,
      'has no XState machine as its default export; add `export default createMachine({ ... })` (or setup(...).createMachine)',
    );
  }
  return module.default;
}

function isMachine(value: unknown): value is AnyStateMachine {
  const candidate = value as Partial<AnyStateMachine> | null | undefined;
  return (
    typeof candidate?.transition === 'function' &&
    typeof candidate.resolveState === 'function' &&
    typeof candidate.getInitialSnapshot === 'function'
  );
}
