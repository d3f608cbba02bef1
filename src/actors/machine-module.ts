/**
 * Loading a machine kind's module. Both sides do it: every worker, to run the machine, and the
 * host, to fail `createRuntime` early with a clear error and to give host-side snapshots their
 * machine (so `snapshot.matches('idle')` works on the host).
 */
import type { AnyStateMachine } from 'xstate';
import { MachineModuleError, describeCause } from '../errors.js';

/** Imports a machine module and checks that its default export is an XState machine. */
export async function importMachine(url: string): Promise<AnyStateMachine> {
  let module: { default?: unknown };
  try {
    module = (await import(url)) as { default?: unknown };
  } catch (error) {
    throw new MachineModuleError(url, `failed to import: ${describeCause(error)}`, error);
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
