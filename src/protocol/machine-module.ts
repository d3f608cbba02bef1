/**
 * Loading a machine kind's module. Both sides do it: every worker, to run the machine, and the
 * host, to fail `createRuntime` early with a clear error and to give host-side snapshots their
 * machine (so `snapshot.matches('idle')` works on the host).
 */
import type { AnyStateMachine } from 'xstate';
import { MachineModuleError, describeCause } from '../errors.js';

/**
 * A machine kind as its module defines it: the machine (default export), its `version` (a
 * positive integer; 1 when the module exports none) and `migrate(persistedSnapshot, fromVersion)`,
 * which turns a snapshot stored by an older version into one this version can restore.
 */
export interface MachineKind {
  readonly machine: AnyStateMachine;
  readonly version: number;
  readonly migrate: ((persisted: unknown, fromVersion: number) => unknown) | undefined;
}

/**
 * Imports a machine module and checks that its default export is an XState machine. A module
 * that has not finished loading after `timeoutMs` (a top-level await that never settles) fails
 * with `MachineModuleError`; its import stays pending, but holds no handle that keeps the
 * process alive.
 */
export async function importMachine(url: string, timeoutMs = Infinity): Promise<MachineKind> {
  let module: { default?: unknown; version?: unknown; migrate?: unknown };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    if (timeoutMs === Infinity) return;
    timer = setTimeout(
      () => reject(new MachineModuleError(url, `did not finish loading within ${timeoutMs} ms (a top-level await that never settles?); see options.startTimeoutMs`)),
      timeoutMs,
    );
  });
  try {
    module = (await Promise.race([import(url), timedOut])) as typeof module;
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
  const { version = 1, migrate } = module;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new MachineModuleError(url, `exports version ${JSON.stringify(version) ?? String(version)}; it must be a positive integer (raise it when stored snapshots no longer fit the machine)`);
  }
  if (migrate !== undefined && typeof migrate !== 'function') {
    throw new MachineModuleError(url, 'exports a migrate that is not a function; export `function migrate(persistedSnapshot, fromVersion)` returning the snapshot for this version');
  }
  return { machine: module.default, version, migrate: migrate as MachineKind['migrate'] };
}

function isMachine(value: unknown): value is AnyStateMachine {
  const candidate = value as Partial<AnyStateMachine> | null | undefined;
  return (
    typeof candidate?.transition === 'function' &&
    typeof candidate.resolveState === 'function' &&
    typeof candidate.getInitialSnapshot === 'function'
  );
}
