// options.store, checked: 'memory', or a directory for LMDB (not a file, not a kernel file system).
import { statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidOptionError } from '../../errors.js';
import { show } from '../option-checks.js';

export function resolveStore(store: 'memory' | { path: string } | undefined, defaultPath: string): 'memory' | { path: string } {
  if (store === undefined) return { path: defaultPath };
  if (store === 'memory') return store;
  if (!(store && typeof store === 'object' && typeof store.path === 'string' && store.path.length > 0)) {
    throw new InvalidOptionError(`options.store must be 'memory' or { path: 'a directory' } (got ${show(store)})`);
  }
  const path = resolve(store.path);
  // Kernel file systems: LMDB's memory map there blocks the main thread (seen under /proc).
  if (/^\/(proc|sys|dev)(\/|$)/.test(path)) {
    throw new InvalidOptionError(`options.store.path ${JSON.stringify(store.path)} is on a kernel file system (/proc, /sys, /dev); give a directory on a disk`);
  }
  let stats: Stats | undefined;
  try {
    stats = statSync(path);
  } catch {
    // It does not exist yet: the store creates it.
  }
  if (stats && !stats.isDirectory()) {
    throw new InvalidOptionError(`options.store.path ${JSON.stringify(store.path)} is a file, not a directory; give a directory for the store (it is created if missing)`);
  }
  return { path: store.path };
}
