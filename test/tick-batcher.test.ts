import { describe, expect, it } from 'vitest';
import { TickBatcher } from '../dist/src/internal.js';

describe('TickBatcher', () => {
  it('sends the calls of one tick together and answers each in order', async () => {
    const sent: number[][] = [];
    const batcher = new TickBatcher<number, number>(async (items) => {
      sent.push(items);
      return items.map((item) => item * 10);
    });
    const answers = await Promise.all([1, 2, 3].map((item) => batcher.call(item)));
    expect(answers).toEqual([10, 20, 30]);
    expect(sent).toEqual([[1, 2, 3]]);
  });

  it('sends a full batch at once, before the tick ends', async () => {
    const sent: number[][] = [];
    const batcher = new TickBatcher<number, number>(async (items) => (sent.push(items), items), 2);
    const calls = [1, 2, 3, 4, 5].map((item) => batcher.call(item));
    expect(sent).toEqual([[1, 2], [3, 4]]);
    await Promise.all(calls);
    expect(sent).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every call of a batch whose request fails, with the cause', async () => {
    const batcher = new TickBatcher<number, number>(() => Promise.reject(new Error('worker died')));
    const results = await Promise.allSettled([batcher.call(1), batcher.call(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('worker died');
  });

  it('rejects the calls a short answer leaves unanswered instead of leaving them hanging', async () => {
    const batcher = new TickBatcher<number, number>(async () => [1]);
    const results = await Promise.allSettled([batcher.call(1), batcher.call(2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });
});
