/**
 * `fromChildProcess`: actor logic that runs an OS subprocess for as long as the actor lives.
 *
 * Inside actorhost the host spawns and owns the process (see child-process-hook.ts): it tracks
 * the pid per session and kills the process group — the child and anything it started in its
 * group — when the session stops, is evicted or restarted, or its worker dies. Outside actorhost
 * (plain XState) it spawns the process itself, in its own process group.
 *
 * The parent receives `{ type: 'child.started', pid }`, `{ type: 'child.stdout' | 'child.stderr',
 * data }` (one event per line), and `{ type: 'child.exit', code, signal }`; it can send
 * `{ type: 'child.write', data }` to the child's stdin.
 *
 * @example
 * ```ts
 * import { setup } from 'xstate';
 * import { fromChildProcess } from 'actorhost';
 *
 * export default setup({ actors: { model: fromChildProcess } }).createMachine({
 *   invoke: { src: 'model', input: { command: 'node', args: ['model.js'] } },
 *   on: { 'child.stdout': { actions: ({ event }) => console.log(event.data) } },
 * });
 * ```
 */
import { spawn } from 'node:child_process';
import { fromCallback } from 'xstate';
import { childProcessHook, type ChildProcessControl, type ChildProcessHandlers, type ChildProcessSpec } from '../protocol/child-process-hook.js';

export type ChildProcessEvent =
  | { type: 'child.started'; pid: number }
  | { type: 'child.stdout'; data: string }
  | { type: 'child.stderr'; data: string }
  | { type: 'child.exit'; code: number | null; signal: string | null }
  | { type: 'child.error'; message: string };

export type { ChildProcessSpec } from '../protocol/child-process-hook.js';

export const fromChildProcess = fromCallback<{ type: 'child.write'; data: string }, ChildProcessSpec, ChildProcessEvent>(
  ({ input, sendBack, receive, system }) => {
    let exited = false;
    const lines = { stdout: '', stderr: '' };
    const handlers: ChildProcessHandlers = {
      spawned: (pid) => sendBack({ type: 'child.started', pid }),
      failed: (message) => {
        exited = true;
        sendBack({ type: 'child.error', message });
      },
      output: (stream, data) => {
        const text = lines[stream] + data;
        const parts = text.split('\n');
        lines[stream] = parts.pop() ?? '';
        for (const line of parts) sendBack({ type: `child.${stream}`, data: line });
      },
      exit: (code, signal) => {
        exited = true;
        sendBack({ type: 'child.exit', code, signal });
      },
    };
    const hook = childProcessHook();
    const control = hook ? hook.spawn(system, input, handlers) : spawnLocally(input, handlers);
    receive((event) => {
      if (event.type === 'child.write' && !exited) control.write(event.data);
    });
    return () => {
      if (!exited) control.kill();
    };
  },
);

/** Plain XState, no actorhost host: spawn here, in a process group of its own. */
function spawnLocally(spec: ChildProcessSpec, handlers: ChildProcessHandlers): ChildProcessControl {
  const child = spawn(spec.command, spec.args ?? [], {
    cwd: spec.cwd,
    env: spec.env ? { ...process.env, ...spec.env } : process.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.on('spawn', () => handlers.spawned(child.pid!));
  child.on('error', (error) => handlers.failed(error.message));
  child.stdout.setEncoding('utf8').on('data', (data: string) => handlers.output('stdout', data));
  child.stderr.setEncoding('utf8').on('data', (data: string) => handlers.output('stderr', data));
  child.on('exit', (code, signal) => handlers.exit(code, signal));
  child.stdin.on('error', () => {});
  return {
    write: (data) => child.stdin.write(data),
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
}
