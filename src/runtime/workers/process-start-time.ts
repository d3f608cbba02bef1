/**
 * A process's start time, to tell a live process from a later one that reused its pid.
 */
import { readFileSync } from 'node:fs';

/** The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat`), or null elsewhere. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from its closing paren.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
