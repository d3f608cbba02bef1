// The supervisor's decisions, called directly: facts in, a decision out, nothing else touched.
import { describe, expect, it } from 'vitest';
import { Pool, balancePool, decideRestart, makeRoom } from '../dist/src/internal.js';
import { poolMember as member, type TestMember as Member } from './helpers.js';

function poolOf(capacity: number, floorMs: number, ...members: Member[]): Pool<Member> {
  const pool = new Pool<Member>('p', capacity, floorMs);
  members.forEach((m, index) => pool.add(m, index * 10));
  return pool;
}

describe('balancePool', () => {
  it('evicts the least recently used down to capacity', () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => member(name));
    const pool = poolOf(2, 0, a!, b!, c!, d!);
    expect(balancePool(pool, 100)).toEqual({ evict: [a, b], overCapacity: false });
  });

  it('skips pinned, busy and non-active members, and reports a pool it cannot bring back', () => {
    const pinned = member('pinned', { pins: 1 });
    const busy = member('busy', { inFlight: 2 });
    const starting = member('starting', { status: 'starting' });
    const midTurn = member('midTurn', { busy: true });
    const idle = member('idle');
    const pool = poolOf(2, 0, pinned, busy, starting, midTurn, idle);
    expect(balancePool(pool, 100)).toEqual({ evict: [idle], overCapacity: true });
  });

  it('stops at the recency floor', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => member(name));
    const pool = poolOf(1, 15, a!, b!, c!);
    // a was touched at 0, b at 10, c at 20: at 24, only a is outside a 15 ms floor.
    expect(balancePool(pool, 24)).toEqual({ evict: [a], overCapacity: true });
  });

  it('decides nothing for a pool within capacity', () => {
    expect(balancePool(poolOf(5, 0, member('a')), 100)).toEqual({ evict: [], overCapacity: false });
  });
});

describe('makeRoom', () => {
  it('names the victims that make room for one more, or undefined when every candidate is protected', () => {
    const [a, b] = [member('a'), member('b', { pins: 1 })];
    expect(makeRoom(poolOf(2, 0, a, b), 100)).toEqual([a]);
    expect(makeRoom(poolOf(3, 0, member('x')), 100)).toEqual([]);
    expect(makeRoom(poolOf(1, 0, member('p', { pins: 1 })), 100)).toBeUndefined();
  });

  it('in a pool over capacity, takes the member if one other leaves for it (the pool grows no further)', () => {
    const [a, b, c] = [member('a', { busy: true }), member('b'), member('c', { busy: true })];
    // Capacity 1, three members (two busy): three would have to leave; one can.
    expect(makeRoom(poolOf(1, 0, a, b, c), 100)).toEqual([b]);
  });
});

describe('decideRestart', () => {
  const policy = { intensity: 2, periodMs: 1_000 };
  it('restores and charges within the intensity', () => {
    expect(decideRestart([], 5_000, policy)).toEqual({ restore: true, charge: [5_000] });
    expect(decideRestart([4_500], 5_000, policy)).toEqual({ restore: true, charge: [4_500, 5_000] });
  });

  it('gives up past the intensity inside the window, and forgets restarts outside it', () => {
    expect(decideRestart([4_200, 4_500], 5_000, policy)).toEqual({ giveUp: true, charge: [4_200, 4_500] });
    expect(decideRestart([3_000, 4_500], 5_000, policy)).toEqual({ restore: true, charge: [4_500, 5_000] });
  });
});
