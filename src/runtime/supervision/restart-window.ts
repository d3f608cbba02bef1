/**
 * OTP-style restart intensity: at most `intensity` restarts within any `periodMs` window.
 *
 * Restart. A session has failed. Returns whether it may be restarted, and the restart times to
 * keep (those still inside the window, plus this one when allowed). Pure: the caller owns the
 * clock and the history.
 */
export interface RestartPolicy {
  intensity: number;
  periodMs: number;
}

export function addRestart(
  history: readonly number[],
  now: number,
  { intensity, periodMs }: RestartPolicy,
): { allowed: boolean; history: number[] } {
  const recent = history.filter((at) => now - at < periodMs);
  if (recent.length >= intensity) return { allowed: false, history: recent };
  recent.push(now);
  return { allowed: true, history: recent };
}
