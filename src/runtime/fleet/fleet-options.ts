// options.fleet, checked (shared/FLEET.md, "Shape").
import { hostname } from 'node:os';
import { InvalidOptionError } from '../../errors.js';
import { show } from '../option-checks.js';

export interface FleetOptions {
  /** NATS server URL(s), e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
  /** The fleet's name: its stream, subjects and buckets are named after it (letters, digits, '-', '_'). */
  name: string;
  /** This host's name in the fleet; default: hostname and pid. */
  host?: string;
  /** Shards, fixed for the life of the fleet; default 64. */
  shards?: number;
  /** A shard lease's time; default 10,000 ms. */
  leaseTtlMs?: number;
  /** JetStream replicas for the fleet's stream and buckets: 1 (default), or 3 on a three-node cluster. */
  replicas?: 1 | 3;
}

export interface ResolvedFleet {
  servers: string[];
  name: string;
  host: string;
  shards: number;
  leaseTtlMs: number;
  replicas: 1 | 3;
}

export function resolveFleet(fleet: FleetOptions | undefined): ResolvedFleet | undefined {
  if (fleet === undefined) return undefined;
  if (fleet === null || typeof fleet !== 'object') throw new InvalidOptionError(`options.fleet must be an object such as { servers: 'nats://127.0.0.1:4222', name: 'agents' } (got ${show(fleet)})`);
  const servers = typeof fleet.servers === 'string' ? [fleet.servers] : fleet.servers;
  if (!Array.isArray(servers) || servers.length === 0 || servers.some((server) => typeof server !== 'string' || server.length === 0)) {
    throw new InvalidOptionError(`options.fleet.servers must be a NATS URL or a list of them, such as 'nats://127.0.0.1:4222' (got ${show(fleet.servers)})`);
  }
  if (typeof fleet.name !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(fleet.name)) {
    throw new InvalidOptionError(`options.fleet.name must be 1–32 letters, digits, '-' or '_' (it names the fleet's NATS stream and buckets) (got ${show(fleet.name)})`);
  }
  const host = fleet.host ?? `${hostname()}-${process.pid}`;
  if (typeof host !== 'string' || host.length === 0 || host.length > 128) throw new InvalidOptionError(`options.fleet.host must be a non-empty string of at most 128 characters (got ${show(fleet.host)})`);
  const shards = fleet.shards ?? 64;
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > 1_024) throw new InvalidOptionError(`options.fleet.shards must be an integer from 1 to 1,024, the same on every host (got ${show(fleet.shards)})`);
  const leaseTtlMs = fleet.leaseTtlMs ?? 10_000;
  if (!Number.isSafeInteger(leaseTtlMs) || leaseTtlMs < 1_000 || leaseTtlMs > 600_000) {
    throw new InvalidOptionError(`options.fleet.leaseTtlMs must be an integer from 1,000 to 600,000 ms (got ${show(fleet.leaseTtlMs)})`);
  }
  const replicas = fleet.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3) throw new InvalidOptionError(`options.fleet.replicas must be 1 or 3 (got ${show(fleet.replicas)})`);
  return { servers, name: fleet.name, host, shards, leaseTtlMs, replicas };
}
