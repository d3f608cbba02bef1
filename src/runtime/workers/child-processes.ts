/**
 * The host's side of `fromChildProcess`: spawns subprocesses for a shard's sessions, relays their
 * I/O to the worker, and kills them.
 *
 * Each child starts in a process group of its own (`detached`), so killing the group (`-pid`)
 * kills the child and whatever it started in its group: the process tree — SIGTERM first, SIGKILL
 * after the grace period. (A process that leaves the group, `setsid` or `setpgid`, escapes it.) The host's main thread
 * is the parent, so it reaps every child even after the worker that asked for it is gone.
 *
 * Spawning blocks the main thread (fork + exec: milliseconds each); 1,000 sessions starting at
 * once stalled the host's event loop for hundreds of milliseconds (the example host, measured).
 * So spawns are paced: `SPAWNS_PER_TURN` per turn of the event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ToHost, ToWorker } from '../../protocol/child-process-hook.js';

const SPAWNS_PER_TURN = 4;
/** Per subprocess stream: well above what an agent's model streams, far below what floods a worker. */
const OUTPUT_BYTES_PER_SECOND = 1024 * 1024;

interface Child {
  readonly process: ChildProcess;
  readonly key: number;
  readonly exited: Promise<void>;
}

export interface ChildProcessEvents {
  spawned(key: number, pid: number): void;
  exited(key: number, pid: number): void;
  /** SIGTERM first; SIGKILL after this many ms (`options.subprocessGraceMs`). */
  graceMs: number;
}

export class ChildProcesses {
  readonly #port: MessagePort;
  readonly #events: ChildProcessEvents;
  readonly #logger: Logger;
  readonly #byId = new Map<number, Child>();
  readonly #byPid = new Map<number, Child>();
  readonly #queue: Array<Extract<ToHost, { op: 'spawn' }>> = [];
  #draining = false;
  #closed = false;

  constructor(port: MessagePort, events: ChildProcessEvents, logger: Logger) {
    this.#port = port;
    this.#events = events;
    this.#logger = logger;
    port.on('message', (message: ToHost) => this.#handle(message));
  }

  #handle(message: ToHost): void {
    switch (message.op) {
      case 'spawn':
        this.#queue.push(message);
        if (!this.#draining) this.#drain();
        break;
      case 'write':
        this.#byId.get(message.id)?.process.stdin?.write(message.data);
        break;
      case 'kill': {
        const child = this.#byId.get(message.id);
        if (child) void this.#killTree(child);
        break;
      }
    }
  }

  #drain(): void {
    this.#draining = true;
    for (let n = 0; n < SPAWNS_PER_TURN && this.#queue.length > 0; n++) {
      const { id, key, spec } = this.#queue.shift()!;
      if (!this.#closed) this.#spawn(id, key, spec);
    }
    if (this.#queue.length > 0) setImmediate(() => this.#drain());
    else this.#draining = false;
  }

  #spawn(id: number, key: number, spec: Extract<ToHost, { op: 'spawn' }>['spec']): void {
    const child = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env: spec.env ? { ...process.env, ...spec.env } : process.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', (error) => {
      this.#post({ op: 'failed', id, message: error.message });
      this.#byId.delete(id);
    });
    child.once('spawn', () => {
      const pid = child.pid!;
      const entry: Child = { process: child, key, exited };
      this.#byId.set(id, entry);
      this.#byPid.set(pid, entry);
      this.#events.spawned(key, pid);
      this.#post({ op: 'spawned', id, pid });
      this.#relay(child.stdout!, 'stdout', id);
      this.#relay(child.stderr!, 'stderr', id);
      child.stdin!.on('error', () => {});
      child.once('exit', (code, signal) => {
        this.#byId.delete(id);
        this.#byPid.delete(pid);
        this.#events.exited(key, pid);
        this.#post({ op: 'exit', id, code, signal });
      });
    });
  }

  /**
   * Relays a subprocess's output to its session, at most `OUTPUT_BYTES_PER_SECOND` per stream:
   * past it the stream is paused until the next second, so the pipe fills and the subprocess
   * waits on its own writes. Nothing is lost, and a chatty subprocess cannot queue unbounded
   * messages for a worker that reads them slower than they come.
   */
  // Pacing is real time (performance.now, Node's timers), not the runtime's clock: an injected
  // test clock must never stall a subprocess's output.
  #relay(stream: Readable, op: 'stdout' | 'stderr', id: number): void {
    let windowStart = 0;
    let bytes = 0;
    stream.setEncoding('utf8').on('data', (data: string) => {
      this.#post({ op, id, data });
      const now = performance.now();
      if (now - windowStart >= 1_000) {
        windowStart = now;
        bytes = 0;
      }
      bytes += data.length;
      if (bytes >= OUTPUT_BYTES_PER_SECOND) {
        stream.pause();
        setTimeout(() => stream.resume(), 1_000 - (now - windowStart)).unref();
      }
    });
  }

  /** Kills these processes' trees and resolves when each has exited (and been reaped). */
  async kill(pids: Iterable<number>): Promise<void> {
    const children = [...pids].map((pid) => this.#byPid.get(pid)).filter((child) => child !== undefined);
    await Promise.all(children.map((child) => this.#killTree(child)));
  }

  /** Kills every process this shard's sessions started (the worker died, or the runtime closes). */
  async killAll(): Promise<void> {
    // Nothing queued may start after this.
    this.#closed = true;
    this.#queue.length = 0;
    await Promise.all([...this.#byId.values()].map((child) => this.#killTree(child)));
  }

  /**
   * SIGTERM to the process group; SIGKILL to the group after the grace period, or as soon as the
   * child itself has exited (what it started and left behind gets no longer than it did).
   */
  async #killTree(child: Child): Promise<void> {
    const pgid = child.process.pid!;
    this.#signal(pgid, 'SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([child.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#events.graceMs)))]);
    clearTimeout(timer);
    this.#signal(pgid, 'SIGKILL');
    await child.exited;
  }

  #signal(pgid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pgid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') this.#logger.warn({ err: error, pid: pgid }, 'could not signal a session subprocess');
    }
  }

  #post(message: ToWorker): void {
    try {
      this.#port.postMessage(message);
    } catch {
      // The worker is gone; its processes are being killed.
    }
  }
}
