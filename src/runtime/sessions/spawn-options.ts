/**
 * The checks every call that names a session makes on its arguments: spawn options, ids.
 * Each refusal is an `InvalidOptionError` that names the option and the rule.
 */
import { ActorhostError, InvalidOptionError } from '../../errors.js';
import { describe, type PlainCopier } from '../../protocol/plain-data.js';
import { DEFAULT_POOL } from '../options.js';
import type { SpawnOptions } from '../types.js';

const SPAWN_OPTIONS = new Set(['id', 'pool', 'input', 'replace', 'label']);
/**
 * Ids are store keys: LMDB keys are at most 1,978 bytes, and a journal key is the id plus 12.
 * 512 bytes leaves room for any id scheme (a UUID is 36) and keeps keys cheap to compare.
 */
export const MAX_ID_BYTES = 512;

export interface CheckedSpawn {
  id: string;
  pool: string;
  /** A copy: the caller may change its object after `spawn` returns. */
  input: unknown;
  replace: boolean;
  /** Unchecked here: the label's rules need the groups (labels.ts, `checkLabelRequest`). */
  label: unknown;
}

/** Checks and copies spawn options; whatever reading them throws (a Proxy, a getter) is refused too. */
export function checkSpawnOptions(options: SpawnOptions, pools: ReadonlyMap<string, unknown>, copier: PlainCopier, maxBytes: number): CheckedSpawn {
  try {
    return check(options, pools, copier, maxBytes);
  } catch (error) {
    if (error instanceof ActorhostError) throw error;
    throw new InvalidOptionError(`spawn options could not be read (${error instanceof Error ? error.message : describe(error)}); pass a plain object`);
  }
}

function check(options: SpawnOptions, pools: ReadonlyMap<string, unknown>, copier: PlainCopier, maxBytes: number): CheckedSpawn {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(`spawn options must be an object such as { id: 'conv-1' } (got ${typeof options})`);
  }
  for (const key of Object.keys(options)) {
    if (!SPAWN_OPTIONS.has(key)) throw new InvalidOptionError(`spawn options.${key} is not a spawn option; known: ${[...SPAWN_OPTIONS].join(', ')}`);
  }
  const { id, pool = DEFAULT_POOL, input, replace } = options;
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidOptionError(`spawn options.id must be a non-empty string (got ${describe(id)})`);
  }
  if (id.includes('\u0000')) {
    throw new InvalidOptionError('spawn options.id must not contain the NUL character (\\u0000); the store orders keys by it');
  }
  if (!(id as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidOptionError('spawn options.id must be well-formed text (it has a lone surrogate)');
  }
  const idBytes = Buffer.byteLength(id);
  if (idBytes > MAX_ID_BYTES) {
    throw new InvalidOptionError(`spawn options.id is ${idBytes} bytes (UTF-8); the limit is ${MAX_ID_BYTES}: use a shorter id, such as a hash of it`);
  }
  if (typeof pool !== 'string' || !pools.has(pool)) {
    throw new InvalidOptionError(`spawn options.pool ${describe(pool)} is not a pool; known: ${[...pools.keys()].join(', ')}`);
  }
  if (replace !== undefined && typeof replace !== 'boolean') {
    throw new InvalidOptionError(`spawn options.replace must be true or false (got ${describe(replace)})`);
  }
  const copy = copier.copy(input, 'input', maxBytes);
  if (copy === undefined && input !== undefined) {
    const failure = copier.failure;
    throw new InvalidOptionError(
      failure?.kind === 'too-large'
        ? `spawn options.input is more than ${maxBytes} bytes encoded; the limit is options.maxEventBytes`
        : `spawn options.${failure?.message ?? 'input is not plain data'}`,
    );
  }
  return { id, pool, input: copy, replace: replace === true, label: options.label };
}

/** Every call that names a session checks the id's type first: a symbol cannot be named in a message. */
export function checkId(operation: string, id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new InvalidOptionError(`${operation}: the session id must be a string (got ${describe(id)})`);
}
