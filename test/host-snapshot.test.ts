// The snapshot the host hands out (subscribe, getSnapshot, waitFor): the machine snapshot's
// fields and methods, built lazily from what the worker sent.
import { describe, expect, it } from 'vitest';
import { fixture, useRuntime } from './helpers.js';

const runtime = useRuntime({ machines: { parent: fixture('parent') } });

describe('host snapshots', () => {
  it('have value, context, status and the methods matches, hasTag, can, getMeta, tags, toJSON', async () => {
    const rt = await runtime();
    await rt.spawn('parent', { id: 'p' });
    const idle = await rt.getSnapshot('p');
    expect(idle.status).toBe('active');
    expect(idle.value).toBe('idle');
    expect(idle.matches('idle')).toBe(true);
    expect(idle.matches('working')).toBe(false);
    expect(idle.hasTag('busy')).toBe(false);
    expect(idle.can({ type: 'HIRE' })).toBe(true);
    expect(idle.can({ type: 'INC' })).toBe(false);
    expect(idle.getMeta()).toEqual({ 'parent.idle': { label: 'waiting for work' } });

    const seen: string[] = [];
    rt.subscribe('p', (snapshot) => seen.push(`${String(snapshot.value)} busy=${snapshot.hasTag('busy')}`));
    await rt.send('p', { type: 'HIRE' });
    const working = await rt.waitFor('p', (snapshot) => snapshot.matches('working'));
    expect(working.hasTag('busy')).toBe(true);
    expect([...working.tags]).toEqual(['busy']);
    expect(working.can({ type: 'INC' })).toBe(true);
    expect(JSON.parse(JSON.stringify(working))).toMatchObject({ value: 'working', status: 'active', tags: ['busy'] });
    expect(seen).toContain('working busy=true');
  });

  it('show a spawned child ref in the context as XState persists it, nested ones too', async () => {
    const rt = await runtime();
    await rt.spawn('parent', { id: 'p' });
    await rt.send('p', { type: 'HIRE' });
    await rt.send('p', { type: 'INC' });
    const snapshot = await rt.waitFor('p', (s) => (s.context as { count: number }).count === 1);
    expect(snapshot.context).toEqual({ helper: { xstate$$type: 1, id: 'helper-1' }, team: [{ xstate$$type: 1, id: 'helper-1' }], count: 1 });
  });
});
