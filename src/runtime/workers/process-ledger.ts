/**
 * No subprocess outlives its host. Every subprocess a session starts is recorded, as it starts,
 * in two places that survive the host:
 * - the reaper (reaper.process.ts), a small process started with the first subprocess, which
 *   kills every recorded process group when the host dies, however it dies (~grace + 0 s);
 * - the store's process ledger, so the next host on a durable store kills any that are left (the
 *   reaper was killed too, say) before it resumes a session (`reapSurvivors`).
 * Both check the start time as well as the pid: a pid the OS has since reused is never killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { SessionStore } from '../store/store.js';
import { processStartTime } from './process-start-time.js';

const REAPER = fileURLToPath(new URL('./reaper.process.js', import.meta.url));

export class ProcessLedger {
  readonly #store: () => SessionStore;
  readonly #graceMs: number;
  readonly #logger: Logger;
  #reaper: ChildProcess | undefined;
  #reaperExited: Promise<void> | undefined;

  constructor(options: { store: () => SessionStore; graceMs: number; logger: Logger }) {
    this.#store = options.store;
    this.#graceMs = options.graceMs;
    this.#logger = options.logger;
  }

  /** The reaper's pid, once a subprocess has started. */
  get reaperPid(): number | undefined {
    return this.#reaper?.pid;
  }

  started(pid: number): void {
    const startTime = processStartTime(pid) ?? 'unknown';
    this.#tell(`+${pid} ${startTime}\n`);
    this.#store().recordProcess(pid, startTime);
  }

  exited(pid: number): void {
    this.#tell(`-${pid}\n`);
    this.#store().forgetProcess(pid);
  }

  /** The host shuts down cleanly, its subprocesses already killed: the reaper ends with nothing to do. */
  async close(): Promise<void> {
    if (!this.#reaper) return;
    this.#reaper.stdin?.end('end\n');
    await this.#reaperExited;
    this.#reaper = undefined;
  }

  #tell(line: string): void {
    const reaper = this.#reaper ?? this.#startReaper();
    reaper?.stdin?.write(line);
  }

  #startReaper(): ChildProcess | undefined {
    // Its own process group (`detached`): a Ctrl-C to the host's group does not reach it.
    const reaper = spawn(process.execPath, [REAPER, String(Math.min(this.#graceMs, 1_500))], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
    reaper.once('error', (error) => this.#logger.error({ err: error }, 'could not start the subprocess reaper; subprocesses may outlive a killed host'));
    reaper.stdin!.on('error', () => {});
    this.#reaperExited = new Promise((resolve) => reaper.once('exit', () => resolve()));
    // The reaper must never keep the host alive.
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void }).unref?.();
    this.#reaper = reaper;
    return reaper;
  }
}

/**
 * Kills the process groups a dead host left running (recorded in its store), before this host
 * resumes a session; returns how many were alive.
 */
export function reapSurvivors(store: SessionStore, logger: Logger): number {
  let killed = 0;
  for (const { pid, startTime } of store.recordedProcesses()) {
    if (processStartTime(pid) === startTime) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      killed++;
    }
    store.forgetProcess(pid);
  }
  if (killed > 0) logger.warn({ killed }, 'killed subprocesses that a previous host left running on this store');
  return killed;
}
