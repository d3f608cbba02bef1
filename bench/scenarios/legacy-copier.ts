// The plain-data copier as it was before the hardening issue (one walk, no work bound, no
// checks for __proto__ keys, symbol keys or lone surrogates, a Buffer "copied" as a view):
// kept here only as the baseline that the send-path benchmark compares the current walker with.
const UNSERIALIZABLE = Symbol('unserializable');

/**
 * Copies plain serializable data and estimates an upper bound of its msgpack size, in one walk.
 * `send` copies because the caller may mutate the event once `send` returns, and the batch is
 * encoded later, at flush: one `pack` per batch instead of one per event (measured: a `pack`
 * call per small event cost ~0.7 µs on the host; the copy costs a fraction of that).
 */
export class LegacyCopier {
  /** Upper bound of the last copy's msgpack size, in bytes (Infinity when unknown). */
  bytes = 0;

  /** The copy, or `undefined` when `value` is not plain data (`findUnserializable` says why). */
  copy<T>(value: T): T | undefined {
    this.bytes = 0;
    const copy = this.#copy(value, 0);
    return copy === UNSERIALIZABLE ? undefined : (copy as T);
  }

  #copy(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
        this.bytes += 5 + 3 * value.length;
        return value;
      case 'number':
        this.bytes += 9;
        return value;
      case 'boolean':
      case 'undefined':
        this.bytes += 1;
        return value;
      case 'bigint':
        this.bytes = Infinity;
        return value;
      case 'object':
        break;
      default:
        return UNSERIALIZABLE;
    }
    if (value === null) {
      this.bytes += 1;
      return value;
    }
    if (depth > 64) return UNSERIALIZABLE;
    if (Array.isArray(value)) {
      this.bytes += 5;
      const copy = new Array<unknown>(value.length);
      for (let index = 0; index < value.length; index++) {
        const item = this.#copy(value[index], depth + 1);
        if (item === UNSERIALIZABLE) return item;
        copy[index] = item;
      }
      return copy;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      this.bytes += 5;
      const copy: Record<string, unknown> = {};
      for (const key in value as Record<string, unknown>) {
        const item = this.#copy((value as Record<string, unknown>)[key], depth + 1);
        if (item === UNSERIALIZABLE) return item;
        this.bytes += 5 + 3 * key.length;
        copy[key] = item;
      }
      return copy;
    }
    if (value instanceof Date) {
      this.bytes += 15;
      return new Date(value.getTime());
    }
    if (value instanceof Uint8Array) {
      this.bytes += 5 + value.byteLength;
      return value.slice();
    }
    return UNSERIALIZABLE;
  }
}
