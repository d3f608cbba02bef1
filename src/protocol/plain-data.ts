/**
 * The plain-data rule, in one walker: what may cross from the host to a session (an event, a
 * spawn input) is checked, copied and sized in a single pass.
 *
 * Allowed: null, booleans, numbers, strings of well-formed UTF-16, bigints that fit 64 bits,
 * Dates, byte arrays (copied: a `Buffer`'s `.slice()` is a view, and the caller may change it
 * after `send`), and arrays and plain objects of those, nested at most 64 levels. Everything
 * else is refused with a sentence naming the path and the rule — never altered silently:
 * msgpack would drop a function, flatten a Map, rename a `__proto__` key, drop symbol keys and
 * turn a lone surrogate into U+FFFD.
 *
 * The work is bounded by the size limit, not by the value: every node encodes to at least one
 * byte, so the walker keeps a lower bound of the encoded size and stops as soon as it passes
 * `maxBytes`. (A graph of shared references with 2^24 paths used to be walked whole — 25–48 s of
 * a blocked main thread — before the size limit applied.)
 */

/** Why the last `copy` failed: a sentence without the subject, e.g. `event.a is a symbol; …`. */
export interface CopyFailure {
  /** The value breaks the plain-data rule (`message` says where and why). */
  kind: 'invalid' | 'too-large';
  message: string;
}

const FAILED = Symbol('failed');
const MAX_DEPTH = 64;
const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

interface WellFormed {
  isWellFormed(): boolean;
}

export class PlainCopier {
  /** Upper bound of the last copy's msgpack size, in bytes. */
  bytes = 0;
  /** Lower bound of the last copy's msgpack size, in bytes. */
  #atLeast = 0;
  #maxBytes = Infinity;
  /** Set when `copy` returns `undefined`. */
  failure: CopyFailure | undefined;
  /** Path segments of the failing node, innermost first (built only on failure, while unwinding). */
  #path: string[] = [];
  #reason = '';

  /**
   * A copy of `value`, or `undefined` when it breaks the rule or is certainly larger than
   * `maxBytes` encoded (then `failure` says why). Never throws: a getter or Proxy trap that
   * throws is reported as a failure.
   */
  copy<T>(value: T, root = 'event', maxBytes = Infinity): T | undefined {
    this.bytes = 0;
    this.#atLeast = 0;
    this.#maxBytes = maxBytes;
    this.failure = undefined;
    let copy: unknown;
    try {
      copy = this.#copy(value, 0);
    } catch (error) {
      this.failure = { kind: 'invalid', message: `reading ${root} threw (${error instanceof Error ? error.message : describe(error)}); events must be plain data` };
      return undefined;
    }
    if (copy !== FAILED) return copy as T;
    const path = root + this.#path.reverse().join('');
    this.#path = [];
    this.failure =
      this.#reason === 'too-large'
        ? { kind: 'too-large', message: `${root} is more than ${maxBytes} bytes encoded` }
        : { kind: 'invalid', message: `${path} ${this.#reason}` };
    return undefined;
  }

  #fail(reason: string): typeof FAILED {
    this.#reason = reason;
    return FAILED;
  }

  #count(atLeast: number, atMost: number): boolean {
    this.#atLeast += atLeast;
    this.bytes += atMost;
    return this.#atLeast <= this.#maxBytes;
  }

  #copy(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
        this.bytes += 5 + 3 * value.length;
        if ((this.#atLeast += 1 + value.length) > this.#maxBytes) return this.#fail('too-large');
        if (!(value as unknown as WellFormed).isWellFormed()) {
          return this.#fail('is a string with a lone surrogate (not well-formed UTF-16), which would arrive as U+FFFD; send well-formed text, or bytes');
        }
        return value;
      case 'number':
        this.bytes += 9;
        return ++this.#atLeast <= this.#maxBytes ? value : this.#fail('too-large');
      case 'boolean':
      case 'undefined':
        this.bytes += 1;
        return ++this.#atLeast <= this.#maxBytes ? value : this.#fail('too-large');
      case 'bigint':
        if (value < MIN_INT64 || value > MAX_UINT64) {
          return this.#fail('is a BigInt outside the 64-bit range, which msgpack cannot carry; send it as a string');
        }
        return this.#count(1, 9) ? value : this.#fail('too-large');
      case 'function':
        return this.#fail('is a function; events must be plain data');
      case 'symbol':
        return this.#fail('is a symbol; events must be plain data');
    }
    if (value === null) return this.#count(1, 1) ? value : this.#fail('too-large');
    if (depth > MAX_DEPTH) return this.#fail(`is nested more than ${MAX_DEPTH} levels deep (or is circular)`);
    if (Array.isArray(value)) return this.#copyArray(value, depth);
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.#copyObject(value as Record<string, unknown>, depth);
    if (value instanceof Date) return this.#count(1, 15) ? new Date(value.getTime()) : this.#fail('too-large');
    if (value instanceof Uint8Array) {
      if (!this.#count(1 + value.byteLength, 5 + value.byteLength)) return this.#fail('too-large');
      // A copy, never a view (`Buffer#slice` is a view): later changes by the caller do not travel.
      return new Uint8Array(value);
    }
    const name = (proto?.constructor?.name as string | undefined) ?? 'unknown';
    return this.#fail(`is a ${name}; only plain objects, arrays and primitives cross threads`);
  }

  #copyArray(value: unknown[], depth: number): unknown {
    // Each element encodes to a byte at least: a huge (or sparse) array fails before any work.
    if (!this.#count(1 + value.length, 5)) return this.#fail('too-large');
    const copy = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) {
      const item = this.#copy(value[index], depth + 1);
      if (item === FAILED) {
        this.#path.push(`[${index}]`);
        return item;
      }
      copy[index] = item;
    }
    return copy;
  }

  #copyObject(value: Record<string, unknown>, depth: number): unknown {
    if (!this.#count(1, 5)) return this.#fail('too-large');
    if (Object.getOwnPropertySymbols(value).length > 0) {
      return this.#fail('has symbol keys, which do not cross threads; use string keys');
    }
    const copy: Record<string, unknown> = {};
    for (const key in value) {
      if (key === '__proto__') return this.#fail('has a "__proto__" key, which would not arrive as sent; rename it');
      this.bytes += 5 + 3 * key.length;
      if ((this.#atLeast += 1 + key.length) > this.#maxBytes) return this.#fail('too-large');
      const item = this.#copy(value[key], depth + 1);
      if (item === FAILED) {
        this.#path.push(/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
        return item;
      }
      copy[key] = item;
    }
    return copy;
  }
}

/** A value named in an error message; never throws (a Symbol, a throwing `toString`). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}
