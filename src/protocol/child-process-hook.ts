/**
 * The channel between `fromChildProcess` (actor logic, in a worker) and the host, which spawns
 * and owns the subprocess. The host owns it so that it can always reap and kill it: a child
 * spawned by a worker thread that then dies is never reaped (it stays a zombie), and no one is
 * left to kill it.
 *
 * worker → host: `spawn` (with the session's key), `write`, `kill`;
 * host → worker: `spawned` (pid), `failed`, `stdout`, `stderr`, `exit`.
 */
export const CHILD_PROCESS_HOOK = Symbol.for('actorhost.childProcessHook');

export interface ChildProcessSpec {
  command: string;
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
}

export type ToHost =
  | { op: 'spawn'; id: number; key: number; spec: ChildProcessSpec }
  | { op: 'write'; id: number; data: string }
  | { op: 'kill'; id: number };

export type ToWorker =
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'failed'; id: number; message: string }
  | { op: 'stdout' | 'stderr'; id: number; data: string }
  | { op: 'exit'; id: number; code: number | null; signal: string | null };

export interface ChildProcessHandlers {
  spawned(pid: number): void;
  failed(message: string): void;
  output(stream: 'stdout' | 'stderr', data: string): void;
  exit(code: number | null, signal: string | null): void;
}

export interface ChildProcessControl {
  write(data: string): void;
  kill(): void;
}

/** Installed by the worker entry. `system` is the actor system of the session asking. */
export interface ChildProcessHook {
  spawn(system: object, spec: ChildProcessSpec, handlers: ChildProcessHandlers): ChildProcessControl;
}

export function childProcessHook(): ChildProcessHook | undefined {
  return (globalThis as Record<symbol, ChildProcessHook | undefined>)[CHILD_PROCESS_HOOK];
}
