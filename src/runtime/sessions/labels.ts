/**
 * Labels (DESIGN.md, "Messaging"): a name a session holds in a group, such as `claude:2`, so
 * others can address it without knowing its id.
 *
 * Contract:
 * - Allocated when a session is spawned into a group, in one synchronous step (two concurrent
 *   spawns never get the same label): the requested `name` if free, else the label the same `key`
 *   had before (remembered in the store: stable across host restarts), else the lowest free
 *   `prefix:n` (n = 1, 2, …).
 * - Held while the session lives or is stored (evicted, quarantined); freed when it ends for good.
 * - `holders(group)` lists a group's labels in label order: by prefix, then by number.
 */
import { InvalidOptionError } from '../../errors.js';
import type { SessionLabel, SessionStore } from '../store/store.js';

export const LABEL_PATTERN = /^[\w:-]{1,32}$/;

export interface LabelRequest {
  group: string;
  prefix: string;
  key: string | undefined;
  name: string | undefined;
}

export class Labels {
  readonly #store: () => SessionStore;
  /** group → label → session id. */
  readonly #holders = new Map<string, Map<string, string>>();
  /** session id → its label. */
  readonly #ofSession = new Map<string, SessionLabel>();
  /** group → key → the label that key last had. */
  readonly #byKey = new Map<string, Map<string, string>>();

  constructor(store: () => SessionStore) {
    this.#store = store;
  }

  /** What the store remembers: each key's last label, and each stored session's label. */
  load(store: SessionStore, stored: Iterable<{ id: string; label: SessionLabel | undefined }>): void {
    for (const { group, key, label } of store.rememberedLabels()) this.#keysOf(group).set(key, label);
    for (const { id, label } of stored) if (label) this.hold(id, label);
  }

  /** Allocates a label for session `id` (see the contract); returns it. */
  allocate(id: string, request: LabelRequest): SessionLabel {
    const { group, prefix, key, name } = request;
    const taken = this.#holders.get(group);
    const free = (label: string | undefined): label is string => label !== undefined && !taken?.has(label);
    let label: string;
    if (free(name)) label = name;
    else if (key !== undefined && free(this.#byKey.get(group)?.get(key))) label = this.#byKey.get(group)!.get(key)!;
    else {
      let n = 1;
      while (taken?.has(`${prefix}:${n}`)) n++;
      label = `${prefix}:${n}`;
    }
    const held: SessionLabel = key === undefined ? { group, label } : { group, label, key };
    this.hold(id, held);
    if (key !== undefined) {
      this.#keysOf(group).set(key, label);
      this.#store().rememberLabel(group, key, label);
    }
    return held;
  }

  /** Session `id` ended for good: its label is free again (its key still remembers it). */
  release(id: string): void {
    const held = this.#ofSession.get(id);
    if (!held) return;
    this.#ofSession.delete(id);
    const holders = this.#holders.get(held.group);
    if (holders?.get(held.label) === id) holders.delete(held.label);
  }

  lookup(group: string, label: string): string | undefined {
    return this.#holders.get(group)?.get(label);
  }

  of(id: string): SessionLabel | undefined {
    return this.#ofSession.get(id);
  }

  /** The group's holders in label order: `[label, id]`. */
  holders(group: string): Array<[label: string, id: string]> {
    return [...(this.#holders.get(group) ?? [])].sort(([a], [b]) => compareLabels(a, b));
  }

  /** Session `id` holds `held` (a stored session's label, or — in a fleet — another host's session's). */
  hold(id: string, held: SessionLabel): void {
    let holders = this.#holders.get(held.group);
    if (!holders) this.#holders.set(held.group, (holders = new Map()));
    holders.set(held.label, id);
    this.#ofSession.set(id, held);
  }

  #keysOf(group: string): Map<string, string> {
    let keys = this.#byKey.get(group);
    if (!keys) this.#byKey.set(group, (keys = new Map()));
    return keys;
  }
}

/** By prefix, then by the number after the last `:` (so `a:2` comes before `a:10`). */
export function compareLabels(a: string, b: string): number {
  const [prefixA, numberA] = split(a);
  const [prefixB, numberB] = split(b);
  if (prefixA !== prefixB) return prefixA < prefixB ? -1 : 1;
  return numberA - numberB || (a < b ? -1 : a > b ? 1 : 0);
}

function split(label: string): [string, number] {
  const colon = label.lastIndexOf(':');
  const number = colon >= 0 ? Number(label.slice(colon + 1)) : NaN;
  return Number.isInteger(number) ? [label.slice(0, colon), number] : [label, 0];
}

/** Checks `spawn`'s `label` option against the declared groups. */
export function checkLabelRequest(value: unknown, kind: string, groups: ReadonlySet<string>): LabelRequest {
  if (value === null || typeof value !== 'object') {
    throw new InvalidOptionError(`spawn options.label must be an object such as { group: 'agents', prefix: 'claude' } (got ${typeof value})`);
  }
  const { group, prefix = kind, key, name, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new InvalidOptionError(`spawn options.label.${unknown[0]} is not a label option; known: group, prefix, key, name`);
  if (typeof group !== 'string' || !groups.has(group)) {
    throw new InvalidOptionError(
      `spawn options.label.group ${JSON.stringify(group)} is not a group; known: ${[...groups].join(', ') || '(none)'}. Declare it in createRuntime({ groups: { name: {} } })`,
    );
  }
  if (typeof prefix !== 'string' || !/^[\w-]{1,24}$/.test(prefix)) {
    throw new InvalidOptionError(`spawn options.label.prefix must match /^[\\w-]{1,24}$/ (got ${JSON.stringify(prefix)})`);
  }
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 256)) {
    throw new InvalidOptionError(`spawn options.label.key must be a non-empty string of at most 256 characters (got ${JSON.stringify(key)})`);
  }
  if (name !== undefined && (typeof name !== 'string' || !LABEL_PATTERN.test(name))) {
    throw new InvalidOptionError(`spawn options.label.name must match ${String(LABEL_PATTERN)}: letters, digits, _, : and -, at most 32 (got ${JSON.stringify(name)})`);
  }
  return { group, prefix, key: key as string | undefined, name: name as string | undefined };
}
