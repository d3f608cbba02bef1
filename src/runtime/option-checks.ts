/**
 * The small checks behind `createRuntime`'s options: each returns the value or its default, or
 * throws `InvalidOptionError` naming the option and the rule.
 */
import { InvalidOptionError } from '../errors.js';

/** Node's timers fire at once for delays of 2^31 ms or more (with a warning): the largest that works. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new InvalidOptionError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${show(value)})`);
  }
  return value as T;
}

export function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(`${name} must be true or false (got ${show(value)})`);
  return value;
}

export function nonEmptyString(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) throw new InvalidOptionError(`${name} must be a non-empty string (got ${show(value)})`);
  return value;
}

export function objectOption<T extends object>(name: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(`${name} must be an object (got ${show(value)})`);
  }
  return value;
}

export function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(`${name} must be a positive integer (got ${show(value)})`);
  }
  return value;
}

export function nonNegativeInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(`${name} must be a non-negative integer (got ${show(value)})`);
  }
  return value;
}

/** A delay for a timer: a non-negative integer that Node's timers can wait for. */
export function timerMs(name: string, value: unknown, fallback: number): number {
  const ms = nonNegativeInteger(name, value, fallback);
  if (ms > MAX_TIMER_MS - 1_000) {
    throw new InvalidOptionError(`${name} must be at most ${MAX_TIMER_MS - 1_000} ms, about 24.8 days, which Node's timers can wait for (got ${ms})`);
  }
  return ms;
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** `options.memory`: positive megabytes, low under high; defaults from the worker's old-space limit. */
export function resolveMemory(given: { workerHeapHighMb?: unknown; workerHeapLowMb?: unknown }, maxOldMb: number): { workerHeapHighMb: number; workerHeapLowMb: number } {
  for (const key of Object.keys(given)) {
    if (key !== 'workerHeapHighMb' && key !== 'workerHeapLowMb') {
      throw new InvalidOptionError(`options.memory.${key} is not an option; known: workerHeapHighMb, workerHeapLowMb`);
    }
  }
  const megabytes = (key: 'workerHeapHighMb' | 'workerHeapLowMb', fallback: number): number => {
    const value = given[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new InvalidOptionError(`options.memory.${key} must be a positive number of megabytes (got ${show(value)})`);
    }
    return value;
  };
  const workerHeapHighMb = megabytes('workerHeapHighMb', maxOldMb * 0.75);
  const workerHeapLowMb = megabytes('workerHeapLowMb', Math.min(maxOldMb * 0.625, workerHeapHighMb * 0.85));
  if (workerHeapLowMb >= workerHeapHighMb) {
    throw new InvalidOptionError(`options.memory.workerHeapLowMb must be below workerHeapHighMb (got ${workerHeapLowMb} ≥ ${workerHeapHighMb})`);
  }
  return { workerHeapHighMb, workerHeapLowMb };
}

/** A group of labelled sessions (`createRuntime({ groups })`). */
export interface GroupOptions {
  /**
   * An untargeted `deliver`: to the session with the lowest label (`primary`, held when there is
   * none), to every live session (`broadcast`), or a dead letter (`drop`). Default: `primary`.
   */
  untargeted?: 'primary' | 'broadcast' | 'drop';
  /** Events held for labels no session has, at most. Default: 1,000. */
  maxHeld?: number;
  /** How long a held event waits before it is a dead letter. Default: one hour. */
  heldTtlMs?: number;
}

export function resolveGroups(groups: unknown): ReadonlyMap<string, Required<GroupOptions>> {
  const resolved = new Map<string, Required<GroupOptions>>();
  if (groups === undefined) return resolved;
  if (groups === null || typeof groups !== 'object') throw new InvalidOptionError(`options.groups must be an object such as { agents: { untargeted: 'primary' } } (got ${show(groups)})`);
  for (const [name, given] of Object.entries(groups as Record<string, unknown>)) {
    if (!/^[\w-]{1,64}$/.test(name)) throw new InvalidOptionError(`options.groups: ${JSON.stringify(name)} is not a group name (letters, digits, _ and -, at most 64)`);
    const group = objectOption(`options.groups.${name}`, given as GroupOptions | undefined);
    for (const key of Object.keys(group)) {
      if (!['untargeted', 'maxHeld', 'heldTtlMs'].includes(key)) throw new InvalidOptionError(`options.groups.${name}.${key} is not a group option; known: untargeted, maxHeld, heldTtlMs`);
    }
    resolved.set(name, {
      untargeted: oneOf(`options.groups.${name}.untargeted`, group.untargeted, ['primary', 'broadcast', 'drop'] as const, 'primary'),
      maxHeld: positiveInteger(`options.groups.${name}.maxHeld`, group.maxHeld, 1_000),
      heldTtlMs: positiveInteger(`options.groups.${name}.heldTtlMs`, group.heldTtlMs, 3_600_000),
    });
  }
  return resolved;
}

/** `options.meterProvider`: anything with `getMeter` (an OpenTelemetry MeterProvider). */
export function meterProvider<T>(value: T | undefined): T | undefined {
  if (value !== undefined && typeof (value as { getMeter?: unknown } | null)?.getMeter !== 'function') {
    throw new InvalidOptionError(`options.meterProvider must be an OpenTelemetry MeterProvider (with getMeter) (got ${show(value)})`);
  }
  return value;
}
