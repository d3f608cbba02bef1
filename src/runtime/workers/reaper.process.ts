/**
 * The reaper: a small process per host that outlives it only to kill what it left behind.
 *
 * The host starts it (`node reaper.process.js <graceMs>`) and writes to its stdin, one line each,
 * `+<pid> <startTime>` when a session's subprocess starts and `-<pid>` when it exits. Nothing else
 * ever holds that pipe, so when the host dies — even by SIGKILL or the OOM killer — the reaper
 * reads end-of-file at once. It then sends SIGTERM to each recorded process group whose leader is
 * still the process it was told of (same pid *and* start time: a pid the OS has since reused is
 * never touched), SIGKILL after `graceMs`, and exits. A host that shuts down cleanly has killed
 * its subprocesses already and ends the reaper with `end` (a line, then EOF): nothing to kill.
 *
 * Why a process: a dying process cannot clean up after itself, and Linux's parent-death signal
 * (`PR_SET_PDEATHSIG`) reaches only a direct child, not its process group, and needs native code.
 */
import { processStartTime } from './process-start-time.js';

const graceMs = Number(process.argv[2] ?? 1_000);
const tracked = new Map<number, string>();
let buffered = '';
let cleanExit = false;

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let newline: number;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    if (line === 'end') cleanExit = true;
    else if (line.startsWith('+')) {
      const [pid, startTime] = line.slice(1).split(' ');
      tracked.set(Number(pid), startTime ?? '');
    } else if (line.startsWith('-')) tracked.delete(Number(line.slice(1)));
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
// The host's signals (a Ctrl-C to the terminal's process group) must not end the reaper early.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

let reaping = false;
function reap(): void {
  if (reaping) return;
  reaping = true;
  const alive = cleanExit ? [] : [...tracked].filter(([pid, startTime]) => startTimeOf(pid) === startTime).map(([pid]) => pid);
  for (const pid of alive) signal(pid, 'SIGTERM');
  if (alive.length === 0) process.exit(0);
  setTimeout(() => {
    for (const pid of alive) if (startTimeOf(pid) === tracked.get(pid) || groupExists(pid)) signal(pid, 'SIGKILL');
    process.exit(0);
  }, graceMs);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(-pid, name);
  } catch {
    // Gone already.
  }
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function startTimeOf(pid: number): string {
  return processStartTime(pid) ?? 'gone';
}
